package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// visViewer is one relation to the student of TestVisibilityOverHTTP and
// their projects.
type visViewer int

const (
	visOwner       visViewer = iota // the student
	visProposedTo                   // a supervisor the student proposed to (one proposal pending, one rejected)
	visAccepted                     // the supervisor who accepted a proposal: the student is placed with them
	visOtherSup                     // a supervisor with no tie to the student
	visExaminer                     // the student's examiner, named on the accepted project and on a draft
	visOtherStu                     // another student
	visCoordinator                  // a coordinator
	visNViewers
)

var visViewerNames = [visNViewers]string{"owner", "proposed-to supervisor", "accepted supervisor",
	"other supervisor", "examiner", "other student", "coordinator"}

func (v visViewer) String() string { return visViewerNames[v] }

// visProject is one of the student's projects and who, by
// docs/visibility.md, sees it.
type visProject struct {
	name       string
	status     string
	supervisor visViewer // who it is proposed to (-1: nobody)
	seenBy     []visViewer
	id         string
}

// TestVisibilityOverHTTP asks every route that returns a project, a
// student, a user, a history, a list or an export, as each relation to one
// student, and checks that each answers exactly what docs/visibility.md
// says: a student with a pending proposal to one supervisor, a proposal
// rejected by them, a proposal accepted by another (so placed with them),
// a draft that already names the examiner, and a withdrawn one; ranked
// preferences and a final grade, released.
func TestVisibilityOverHTTP(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const pw = "visibility password"
	emails := [visNViewers]string{"vis-student@uni.example", "vis-proposed@uni.example", "vis-accepted@uni.example",
		"vis-othersup@uni.example", "vis-examiner@uni.example", "vis-otherstu@uni.example", adminEmail}
	roles := [visNViewers]string{"student", "supervisor", "supervisor", "supervisor", "examiner", "student", ""}
	var ids, tokens [visNViewers]string
	for v := visOwner; v < visCoordinator; v++ {
		ids[v] = s.createUser(admin, emails[v], "Vis "+v.String(), []string{roles[v]}, pw)
		tokens[v] = s.signIn(emails[v], pw)
	}
	tokens[visCoordinator] = admin
	ids[visCoordinator] = s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	for _, v := range []visViewer{visProposedTo, visAccepted, visOtherSup} {
		s.expect(s.do("PUT", "/v1/supervisors/"+ids[v]+"/profile", admin, map[string]any{"areas": []string{"Systems"}, "info": "", "project_ideas": []any{}, "capacity": 3}), 200)
	}
	stu := ids[visOwner]
	s.expect(s.do("PUT", "/v1/students/"+stu+"/preferences", tokens[visOwner], map[string]any{"supervisor_ids": []string{ids[visProposedTo], ids[visAccepted]}}), 200)

	all := []visViewer{visOwner, visCoordinator}
	projects := []*visProject{
		{name: "pending", status: "submitted", supervisor: visProposedTo, seenBy: append([]visViewer{visProposedTo}, all...)},
		{name: "rejected", status: "rejected", supervisor: visProposedTo, seenBy: append([]visViewer{visProposedTo}, all...)},
		{name: "accepted", status: "accepted", supervisor: visAccepted, seenBy: append([]visViewer{visAccepted, visExaminer}, all...)},
		{name: "draft", status: "draft", supervisor: -1, seenBy: all},
		{name: "withdrawn", status: "withdrawn", supervisor: -1}, // gone from every current view
	}
	byName := map[string]*visProject{}
	for _, p := range projects {
		body := map[string]string{"title": "Zebrafish " + p.name, "description": "d"}
		if p.supervisor >= 0 {
			body["supervisor_id"] = ids[p.supervisor]
		}
		p.id = s.expect(s.do("POST", "/v1/projects", tokens[visOwner], body), 201).str("id")
		byName[p.name] = p
	}
	decide := func(p, decision string, by visViewer) {
		s.expect(s.do("POST", "/v1/projects/"+byName[p].id+"/decision", tokens[by], map[string]string{"decision": decision, "comment": "c"}), 200)
	}
	decide("rejected", "reject", visProposedTo)
	decide("accepted", "accept", visAccepted)
	for _, p := range []string{"accepted", "draft"} {
		s.expect(s.do("PUT", "/v1/projects/"+byName[p].id+"/examiner", admin, map[string]string{"examiner_id": ids[visExaminer]}), 200)
	}
	s.expect(s.do("PUT", "/v1/projects/"+byName["accepted"].id+"/grade", admin, map[string]any{"grade": 71, "feedback": "Well argued"}), 200)
	s.expect(s.do("POST", "/v1/marking/release", admin, nil), 200)
	s.expect(s.do("DELETE", "/v1/projects/"+byName["withdrawn"].id, tokens[visOwner], nil), 204)

	waitFor(t, "the read models of the student and their projects", func() bool {
		st := s.do("GET", "/v1/students/"+stu, admin, nil)
		return st.Status == 200 && st.str("examiner_id") == ids[visExaminer] && st.num("grade") == 71 &&
			len(st.Body["projects"].([]any)) == 4 &&
			s.do("GET", "/v1/projects/"+byName["draft"].id, admin, nil).str("examiner_id") == ids[visExaminer] &&
			s.do("GET", "/v1/projects/"+byName["withdrawn"].id, admin, nil).Status == 404 &&
			s.do("GET", "/v1/projects/"+byName["rejected"].id, admin, nil).str("status") == "rejected"
	})

	sees := func(p *visProject, v visViewer) bool { return slices.Contains(p.seenBy, v) }
	idsOf := func(ps []*visProject) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.id)
		}
		slices.Sort(out)
		return out
	}

	for v := visOwner; v < visNViewers; v++ {
		tok := tokens[v]
		t.Run(v.String(), func(t *testing.T) {
			// One project, its history and a past state.
			for _, p := range projects {
				want := 404
				if sees(p, v) {
					want = 200
				}
				for _, path := range []string{"/v1/projects/" + p.id, "/v1/projects/" + p.id + "?at_version=1"} {
					if p.status == "withdrawn" && strings.Contains(path, "at_version") {
						continue
					}
					if r := s.do("GET", path, tok, nil); r.Status != want {
						t.Errorf("GET %s (%s project): %d, want %d", path, p.name, r.Status, want)
					}
				}
				// A withdrawn project's history stays with those who saw it.
				wantHistory := want
				if p.status == "withdrawn" && slices.Contains(all, v) {
					wantHistory = 200
				}
				if r := s.do("GET", "/v1/projects/"+p.id+"/history", tok, nil); r.Status != wantHistory {
					t.Errorf("history of the %s project: %d, want %d", p.name, r.Status, wantHistory)
				}
			}

			// The list, with each filter.
			filters := map[string]func(p *visProject) bool{
				"":                                     func(*visProject) bool { return true },
				"status=submitted":                     func(p *visProject) bool { return p.status == "submitted" },
				"status=accepted":                      func(p *visProject) bool { return p.status == "accepted" },
				"status=rejected":                      func(p *visProject) bool { return p.status == "rejected" },
				"status=draft":                         func(p *visProject) bool { return p.status == "draft" },
				"supervisor_id=" + ids[visProposedTo]:  func(p *visProject) bool { return p.supervisor == visProposedTo },
				"supervisor_id=" + ids[visAccepted]:    func(p *visProject) bool { return p.supervisor == visAccepted },
				"student_id=" + stu:                    func(*visProject) bool { return true },
				"q=zebrafish":                          func(*visProject) bool { return true },
				"q=" + url.QueryEscape("fish pending"): func(p *visProject) bool { return p.name == "pending" },
			}
			for query, match := range filters {
				var want []*visProject
				for _, p := range projects {
					if sees(p, v) && match(p) {
						want = append(want, p)
					}
				}
				r := s.do("GET", "/v1/projects?"+query, tok, nil)
				if r.Status != 200 {
					t.Errorf("GET /v1/projects?%s: %d", query, r.Status)
					continue
				}
				var got []string
				for _, it := range r.items() {
					got = append(got, it["id"].(string))
				}
				slices.Sort(got)
				if fmt.Sprint(got) != fmt.Sprint(idsOf(want)) {
					t.Errorf("GET /v1/projects?%s: %d projects %v, want %d %v", query, len(got), got, len(want), idsOf(want))
				}
			}

			// The student's record, part by part.
			checkStudentRecord(t, s, v, tok, stu, ids, projects, sees)

			// The student's account, its history, the list of accounts and the exports.
			wantAccount, wantWhole := 404, 403
			if v == visOwner || v == visCoordinator {
				wantAccount = 200
			}
			if v == visCoordinator {
				wantWhole = 200
			}
			for _, path := range []string{"/v1/users/" + stu, "/v1/users/" + stu + "/history"} {
				if r := s.do("GET", path, tok, nil); r.Status != wantAccount {
					t.Errorf("GET %s: %d, want %d", path, r.Status, wantAccount)
				}
			}
			for _, path := range []string{"/v1/users?q=vis-student", "/v1/exports/supervisor-assignments.csv", "/v1/exports/final-grades.csv"} {
				r := s.do("GET", path, tok, nil)
				if r.Status != wantWhole {
					t.Errorf("GET %s: %d, want %d", path, r.Status, wantWhole)
				}
				if r.Status == 200 && !strings.Contains(r.Raw, emails[visOwner]) {
					t.Errorf("GET %s does not list the student: %.300s", path, r.Raw)
				}
			}

			// The write side asks the same rule: what a viewer may not see
			// does not exist (404); what they see but may not change is 403.
			for _, p := range projects {
				if p.status == "withdrawn" {
					continue
				}
				want := 404
				switch {
				case v == visCoordinator || v == visOwner && p.status != "accepted":
					continue // they may change it: not a visibility question
				case v == visOwner:
					want = 422 // their own accepted project is locked
				case sees(p, v):
					want = 403
				}
				if r := s.do("PATCH", "/v1/projects/"+p.id, tok, map[string]string{"description": "changed"}); r.Status != want {
					t.Errorf("PATCH the %s project: %d, want %d: %.200s", p.name, r.Status, want, r.Raw)
				}
			}
		})
	}
}

// checkStudentRecord checks GET /v1/students/{id} as viewer v: the parts of
// the record docs/visibility.md gives v, the others absent, and the projects
// v may see.
func checkStudentRecord(t *testing.T, s *service, v visViewer, tok, stu string, ids [visNViewers]string,
	projects []*visProject, sees func(*visProject, visViewer) bool) {
	t.Helper()
	var record, placement, grade, preferences bool
	switch v {
	case visOwner, visCoordinator:
		record, placement, grade, preferences = true, true, true, true
	case visAccepted, visExaminer:
		record, placement, grade = true, true, true
	case visProposedTo:
		record = true
	}
	r := s.do("GET", "/v1/students/"+stu, tok, nil)
	if !record {
		if r.Status != 404 {
			t.Errorf("GET the student: %d, want 404: %.300s", r.Status, r.Raw)
		}
		return
	}
	if r.Status != 200 {
		t.Fatalf("GET the student: %d, want 200: %.300s", r.Status, r.Raw)
	}
	if r.str("name") != "Vis owner" || r.str("email") != "vis-student@uni.example" {
		t.Errorf("the record lacks the student's name or e-mail: %.300s", r.Raw)
	}
	for _, part := range []struct {
		shown bool
		keys  []string
	}{
		{placement, []string{"supervisor_id", "assigned_via", "examiner_id", "project"}},
		{grade, []string{"grade", "feedback", "marking"}},
		{preferences, []string{"preferences"}},
	} {
		for _, k := range part.keys {
			if _, ok := r.Body[k]; ok != part.shown {
				t.Errorf("student record key %q present = %v, want %v: %.400s", k, ok, part.shown, r.Raw)
			}
		}
	}
	if placement {
		if r.str("supervisor_id") != ids[visAccepted] || r.str("examiner_id") != ids[visExaminer] {
			t.Errorf("placement %q / %q, want the accepting supervisor and the examiner", r.str("supervisor_id"), r.str("examiner_id"))
		}
		if p, _ := r.Body["project"].(map[string]any); p == nil || p["status"] != "accepted" {
			t.Errorf("project = %v, want the accepted one", r.Body["project"])
		}
	}
	if grade && r.num("grade") != 71 {
		t.Errorf("grade = %v, want 71", r.Body["grade"])
	}
	if preferences {
		if prefs, _ := r.Body["preferences"].([]any); len(prefs) != 2 || prefs[0] != ids[visProposedTo] {
			t.Errorf("preferences = %v, want the student's ranking", r.Body["preferences"])
		}
	}
	var got, want []string
	for _, p := range r.Body["projects"].([]any) {
		got = append(got, p.(map[string]any)["id"].(string))
	}
	for _, p := range projects {
		if sees(p, v) {
			want = append(want, p.id)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the record lists projects %v, want %v", got, want)
	}
}
