package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestLegacyPartialBodiesChangeNothing: the supervisor's profile (C18) and
// the student's project info (C11) are sent whole by their forms; a body
// missing one of their fields (or giving it null) is refused, 400 in plain
// text naming the fields, as the original refused it, and changes nothing,
// rather than clear what it does not send. Every subset of the fields is
// tried.
func TestLegacyPartialBodiesChangeNothing(t *testing.T) {
	_, lc, tokens := startLegacyCohort(t)
	sup, stu := tokens[3], tokens[4]
	supOverview := func() map[string]any {
		return lc.expect(lc.do("GET", "/supervisor/overview", sup, nil), 200).obj()
	}
	stuProject := func() map[string]any {
		return sub(lc.expect(lc.do("GET", "/student/overview", stu, nil), 200).obj(), "project")
	}
	whole := map[string]map[string]any{
		"/supervisor/project_info": {"areas": "Databases, Query processing", "info": "Office 3.14",
			"projects": []map[string]string{{"title": "Learned indexes", "description": "Smaller, faster"}}},
		"/student/project_info": {"title": "Query planners", "description": "Cost-based"},
	}
	lc.expect(lc.do("POST", "/supervisor/project_info", sup, whole["/supervisor/project_info"]), 200)
	lc.expect(lc.do("POST", "/student/project_info", stu, whole["/student/project_info"]), 200)
	before := map[string]string{"/supervisor/project_info": fmt.Sprint(supOverview()), "/student/project_info": fmt.Sprint(stuProject())}
	read := map[string]func() string{
		"/supervisor/project_info": func() string { return fmt.Sprint(supOverview()) },
		"/student/project_info":    func() string { return fmt.Sprint(stuProject()) },
	}
	token := map[string]string{"/supervisor/project_info": sup, "/student/project_info": stu}
	for path, fields := range whole {
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		for mask := range 1<<len(names) - 1 { // every proper subset sent...
			for _, asNull := range []bool{false, true} { // ...the others left out, or null
				body := map[string]any{}
				var missing []string
				for i, k := range names {
					switch {
					case mask&(1<<i) != 0:
						body[k] = fields[k]
					case asNull:
						body[k] = nil
						missing = append(missing, k)
					default:
						missing = append(missing, k)
					}
				}
				raw, _ := json.Marshal(body)
				r := lc.do("POST", path, token[path], string(raw))
				if r.Status != 400 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
					t.Errorf("%s %s: %d %s, want a 400 in plain text", path, raw, r.Status, r.Raw)
				}
				for _, k := range missing {
					if !strings.Contains(r.Raw, k) {
						t.Errorf("%s %s: the refusal does not name %s: %s", path, raw, k, r.Raw)
					}
				}
				if got := read[path](); got != before[path] {
					t.Fatalf("%s %s changed what it did not send:\nbefore %s\nafter  %s", path, raw, before[path], got)
				}
			}
		}
	}
}

// TestLegacyJSONInAnotherCharsetIsRefused: a JSON body declared in a
// charset other than UTF-8 (the frontend sends none) is refused, 415 in
// plain text, and changes nothing: read as UTF-8 its text would be
// another (latin-1 "Ã©" is UTF-8 "é"). UTF-8, said or not, is read; /v1
// refuses the same bodies in its own shape.
func TestLegacyJSONInAnotherCharsetIsRefused(t *testing.T) {
	s, lc, tokens := startLegacyCohort(t)
	stu := tokens[4]
	project := func() string {
		return fmt.Sprint(sub(lc.expect(lc.do("GET", "/student/overview", stu, nil), 200).obj(), "project"))
	}
	lc.expect(lc.do("POST", "/student/project_info", stu, map[string]string{"title": "Before", "description": "As it was"}), 200)
	before := project()
	body := "{\"title\":\"Caf\xc3\xa9\",\"description\":\"x\"}" // "CafÃ©" in latin-1, "Café" in UTF-8
	for _, cs := range []string{"latin1", "ISO-8859-1", "windows-1252", "utf-16", "\"us-ascii\"", "utf-8x"} {
		ct := "application/json; charset=" + cs
		r := lc.do("POST", "/student/project_info", stu, body, "Content-Type", ct)
		if r.Status != 415 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || !strings.Contains(r.Raw, "UTF-8") {
			t.Errorf("%s: %d %s %s, want 415 in plain text asking for UTF-8", ct, r.Status, r.Header.Get("Content-Type"), r.Raw)
		}
		if got := project(); got != before {
			t.Fatalf("%s changed the project info: %s", ct, got)
		}
	}
	admin := tokens[2]
	v1 := s.do("POST", "/v1/users", admin, `{"email":"charset@uni.example","name":"Caf\xc3\xa9","roles":["student"]}`, "Content-Type", "application/json; charset=latin1")
	s.expect(v1, 415, "unsupported-media-type")
	for i, cs := range []string{"", "; charset=utf-8", "; charset=UTF-8", "; charset=\"utf-8\"", "; charset=utf8"} {
		title := fmt.Sprintf("Caf\xc3\xa9 %d", i)
		lc.expect(lc.do("POST", "/student/project_info", stu, `{"title":"`+title+`","description":"x"}`, "Content-Type", "application/json"+cs), 200)
		if got := project(); !strings.Contains(got, "Café "+fmt.Sprint(i)) {
			t.Errorf("application/json%s: the project info reads %s", cs, got)
		}
	}
}

// TestLegacyDecisionMatchesTheStudentsEmail: a decision (C21) names the
// student by e-mail, compared as the service compares e-mails everywhere
// (spaces trimmed, letters lower-cased), not by Unicode case folding, under
// which "ſ1@…" (a long s) is "s1@…": a supervisor deciding on an address
// no student has decides on nobody's proposal.
func TestLegacyDecisionMatchesTheStudentsEmail(t *testing.T) {
	_, lc, tokens := startLegacyCohort(t)
	sup, stu := tokens[3], tokens[4]
	lc.expect(lc.do("POST", "/student/project_proposal", stu, map[string]string{"supervisor_email": "sup1@qmul.example.ac.uk",
		"title": "Adaptive planners", "aim": "Re-plan", "rationale": "Stale stats"}), 200)
	pending := func() int { return len(lc.expect(lc.do("GET", "/supervisor/pending_proposals", sup, nil), 200).arr()) }
	for _, other := range []string{"\u017f1@qmul.example.ac.uk", "\u017F1@QMUL.EXAMPLE.AC.UK", "s1@qmul.example.ac.uk."} {
		r := lc.do("POST", "/supervisor/pending_proposal", sup, map[string]string{"student_email": other, "status": "accepted", "comment": "Welcome"})
		if r.Status != 400 || pending() != 1 {
			t.Fatalf("a decision on %q: %d %s, %d pending; want 400 and the proposal of s1@… still pending", other, r.Status, r.Raw, pending())
		}
	}
	if got := lc.expect(lc.do("GET", "/student/project_proposal/sup1@qmul.example.ac.uk", stu, nil), 200).str("status"); got != "pending" {
		t.Fatalf("the student's proposal after decisions on other addresses: %s", got)
	}
	// The service's own normalisation still applies: case and spaces.
	left := lc.expect(lc.do("POST", "/supervisor/pending_proposal", sup, map[string]string{"student_email": " S1@QMUL.Example.AC.UK ", "status": "accepted", "comment": "Welcome"}), 200).arr()
	if len(left) != 0 {
		t.Fatalf("the proposals left after accepting s1's: %v", left)
	}
}
