package main

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
)

// TestSuperviseesAndContacts: a supervisor's supervisees are the students
// placed with them, to them and to coordinators; another supervisor sees
// none of them, a student at most themselves. A student's overview names
// their supervisor and examiner, to whoever may see the placement.
func TestSuperviseesAndContacts(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 2, 3, 5)
	sup, other := c.supervisors[0], c.supervisors[1]
	exam := s.createUser(admin, "contact-exam@uni.example", "Dr Examiner", []string{"examiner"}, miniPassword)
	placed := c.students[:2]
	for _, st := range placed { // one by proposal, one by the coordinator
		if st == placed[0] {
			p := s.expect(s.do("POST", "/v1/projects", c.tokens[st], map[string]any{"title": "Placed by proposal", "supervisor_id": sup}), 201)
			s.expect(s.do("POST", "/v1/projects/"+p.str("id")+"/decision", c.tokens[sup], map[string]any{"decision": "accept", "comment": "Welcome"}), 200)
			s.expect(s.do("PUT", "/v1/projects/"+p.str("id")+"/examiner", admin, map[string]any{"examiner_id": exam}), 200)
			continue
		}
		s.expect(s.upload(admin, "supervisor-assignments", "a.csv", []byte("Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n"+
			"X,mini-stu1@uni.example,X,Y,mini-sup0@uni.example,Y\n"), ""), 200)
	}
	ids := func(token, supervisor string) []string {
		var out []string
		for _, it := range s.expect(s.do("GET", "/v1/supervisors/"+supervisor+"/supervisees", token, nil), 200).items() {
			out = append(out, fmt.Sprint(it["id"]))
		}
		slices.Sort(out)
		return out
	}
	want := slices.Sorted(slices.Values(placed))
	for who, tok := range map[string]string{"the supervisor": c.tokens[sup], "a coordinator": admin} {
		if got := ids(tok, sup); !slices.Equal(got, want) {
			t.Errorf("%s lists %v as the supervisees, want %v", who, got, want)
		}
	}
	if got := ids(c.tokens[other], sup); len(got) != 0 {
		t.Errorf("another supervisor sees %v among the supervisees", got)
	}
	if got := ids(c.tokens[placed[0]], sup); !slices.Equal(got, []string{placed[0]}) {
		t.Errorf("a placed student sees %v, want only themselves", got)
	}
	if got := ids(c.tokens[c.students[2]], sup); len(got) != 0 {
		t.Errorf("an unplaced student sees %v", got)
	}
	// Pages of one, as each viewer: the cursor goes on to the next page,
	// and it is the id of the last student shown, never of one left out
	// (a student's pages once carried the ids of students hidden from
	// them, on pages with none shown); every page but the last is full.
	for who, tok := range map[string]string{"a coordinator": admin, "the supervisor": c.tokens[sup],
		"a placed student": c.tokens[placed[0]], "an unplaced student": c.tokens[c.students[2]], "another supervisor": c.tokens[other]} {
		var seen []string
		cursor := ""
		for range 10 {
			page := s.expect(s.do("GET", "/v1/supervisors/"+sup+"/supervisees?limit=1&cursor="+cursor, tok, nil), 200)
			items := page.items()
			for _, it := range items {
				seen = append(seen, fmt.Sprint(it["id"]))
			}
			cursor = page.str("next_cursor")
			if cursor == "" {
				break
			}
			decoded, err := base64.RawURLEncoding.DecodeString(cursor)
			if len(items) != 1 || err != nil || string(decoded) != seen[len(seen)-1] {
				t.Fatalf("%s: a page of %d with cursor %q (%s), after %v", who, len(items), cursor, decoded, seen)
			}
		}
		slices.Sort(seen)
		if got := ids(tok, sup); !slices.Equal(seen, got) {
			t.Errorf("%s: pages of one showed %v, the whole list %v", who, seen, got)
		}
	}
	s.expect(s.do("GET", "/v1/supervisors/not-a-supervisor/supervisees", admin, nil), 404, "not-found")
	s.expect(s.do("GET", "/v1/supervisors/"+c.students[2]+"/supervisees", admin, nil), 404, "not-found")

	// The overview names the people of the placement, to those who may see it.
	item := s.expect(s.do("GET", "/v1/students/"+placed[0], c.tokens[placed[0]], nil), 200)
	supervisor, _ := item.Body["supervisor"].(map[string]any)
	examiner, _ := item.Body["examiner"].(map[string]any)
	if supervisor["id"] != sup || supervisor["name"] != "Dr Mini 0" || supervisor["email"] != "mini-sup0@uni.example" ||
		examiner["id"] != exam || examiner["name"] != "Dr Examiner" || examiner["email"] != "contact-exam@uni.example" {
		t.Errorf("the overview's supervisor %v and examiner %v", supervisor, examiner)
	}
	examTok := s.signIn("contact-exam@uni.example", miniPassword)
	if got := s.expect(s.do("GET", "/v1/students/"+placed[0], examTok, nil), 200); got.Body["supervisor"] == nil {
		t.Errorf("the examiner sees the placement but not who supervises: %s", got.Raw)
	}
	// A supervisor the student proposed to sees the record, not the placement.
	s.expect(s.do("POST", "/v1/projects", c.tokens[placed[1]], map[string]any{"title": "Also asking", "supervisor_id": other}), 201)
	seen := s.expect(s.do("GET", "/v1/students/"+placed[1], c.tokens[other], nil), 200)
	if seen.Body["supervisor"] != nil || seen.Body["examiner"] != nil || seen.str("supervisor_id") != "" {
		t.Errorf("a supervisor proposed to sees the placement: %s", seen.Raw)
	}
}

// TestDecisionComment: the supervisor's comment on a decision is shown
// with the project, to the student first of all, in the decision's answer
// as in a read; proposing the project anew clears it.
func TestDecisionComment(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 2, 1, 2)
	st, sup := c.students[0], c.supervisors[0]
	p := s.expect(s.do("POST", "/v1/projects", c.tokens[st], map[string]any{"title": "Commented", "supervisor_id": sup}), 201)
	path := "/v1/projects/" + p.str("id")
	if _, ok := p.Body["comment"]; ok {
		t.Errorf("a project not yet decided has a comment: %s", p.Raw)
	}
	decided := s.expect(s.do("POST", path+"/decision", c.tokens[sup], map[string]any{"decision": "reject", "comment": "  Narrow it down  "}), 200)
	if decided.str("comment") != "Narrow it down" {
		t.Errorf("the decision's answer: %s", decided.Raw)
	}
	for who, tok := range map[string]string{"the student": c.tokens[st], "the supervisor": c.tokens[sup], "a coordinator": admin} {
		if got := s.expect(s.do("GET", path, tok, nil), 200); got.str("comment") != "Narrow it down" {
			t.Errorf("%s reads the project without the comment: %s", who, got.Raw)
		}
	}
	again := s.expect(s.do("POST", path+"/submit", c.tokens[st], map[string]any{"supervisor_id": c.supervisors[1]}), 200)
	if _, ok := again.Body["comment"]; ok {
		t.Errorf("proposed anew, the project keeps the last comment: %s", again.Raw)
	}
	if got := s.expect(s.do("GET", path, c.tokens[c.supervisors[1]], nil), 200); got.Body["comment"] != nil {
		t.Errorf("the next supervisor reads the first one's comment: %s", got.Raw)
	}
}
