package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/queries"
)

// TestWholeCohort runs a cohort through the API end to end, as a coordinator
// would: import people, students rank and propose, supervisors decide, an
// allocation run places the rest, examiners and grades go in, exports come out.
func TestWholeCohort(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"examiners", "examiners.csv"},
		{"students", "students.csv"}, {"preferences", "preferences.csv"}} {
		r := s.expect(s.upload(admin, f.kind, f.file, fixture(t, f.file), ""), 200)
		if errs, _ := r.Body["errors"].([]any); len(errs) > 0 {
			t.Fatalf("%s: %s", f.kind, r.Raw)
		}
	}
	byEmail := func(email string) string {
		var id string
		waitFor(t, email, func() bool {
			items := s.do("GET", "/v1/users?q="+email, admin, nil).items()
			if len(items) == 1 {
				id = fmt.Sprint(items[0]["id"])
			}
			return id != ""
		})
		return id
	}
	// On the sample cohort as imported, every student is placed within their list.
	waitForRankings(t, s, 200)
	sample := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "seed": 2026}), 200)
	if n := len(sample.Body["assignments"].([]any)); n != 200 {
		t.Fatalf("the sample cohort: %d of 200 placed within their lists: %.300s", n, sample.Raw)
	}
	t.Logf("sample cohort, generous, dry run: %v", sample.Body["profile"])

	sup1, sup2 := byEmail("sup001@qmul.example.ac.uk"), byEmail("sup002@qmul.example.ac.uk")
	supTok1, supTok2 := s.signInAs(t, admin, sup1), s.signInAs(t, admin, sup2)

	// Three students re-rank, propose; two are accepted, one rejected.
	var accepted []string
	for i, dec := range []struct {
		sup, tok, decision string
	}{{sup1, supTok1, "accept"}, {sup2, supTok2, "accept"}, {sup1, supTok1, "reject"}} {
		id := byEmail(fmt.Sprintf("s%04d@qmul.example.ac.uk", i+1))
		tok := s.signInAs(t, admin, id)
		s.expect(s.do("PUT", "/v1/students/"+id+"/preferences", tok, map[string]any{"supervisor_ids": []string{dec.sup}}), 200)
		p := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": fmt.Sprint("Proposal ", i), "supervisor_id": dec.sup}), 201).str("id")
		s.expect(s.do("POST", "/v1/projects/"+p+"/decision", dec.tok, map[string]string{"decision": dec.decision, "comment": "ok"}), 200)
		if dec.decision == "accept" {
			accepted = append(accepted, id)
		}
	}

	// Allocation places everyone else, outside their lists if it must.
	students := queries.Students{Reader: newReadModels(s)}
	waitFor(t, "rankings and acceptances in the read model", func() bool {
		docs, _ := students.All(context.Background())
		ranked, placed := 0, 0
		for _, d := range docs {
			if len(d.Preferences) > 0 {
				ranked++
			}
			if d.SupervisorID != "" {
				placed++
			}
		}
		return ranked == 200 && placed == len(accepted)
	})
	run := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 2026, "allow_outside_list": true}), 200)
	placed := len(run.Body["assignments"].([]any))
	if placed+len(accepted) != 200 || len(run.Body["unplaced"].([]any)) != 0 {
		t.Fatalf("allocation placed %d (+%d accepted) of 200: %.400s", placed, len(accepted), run.Raw)
	}
	t.Logf("allocation profile on the sample cohort: %v (seed %v, objective %v)", run.Body["profile"], run.Body["seed"], run.Body["objective"])

	// Examiners and grades go in (CSV), exports come out.
	for _, f := range []struct{ kind, file string }{{"examiner-assignments", "secondary_examiner_assignment.csv"}, {"final-grades", "final_grades.csv"}} {
		r := s.expect(s.upload(admin, f.kind, f.file, fixture(t, f.file), ""), 200)
		if errs, _ := r.Body["errors"].([]any); len(errs) > 0 {
			t.Fatalf("%s: %s", f.kind, r.Raw)
		}
	}
	var csv string
	waitFor(t, "the assignments export", func() bool {
		csv = s.expect(s.do("GET", "/v1/exports/supervisor-assignments.csv", admin, nil), 200).Raw
		return strings.Count(csv, "\r\n") == 201
	})
	waitFor(t, "the grades export", func() bool {
		return strings.Count(s.expect(s.do("GET", "/v1/exports/final-grades.csv", admin, nil), 200).Raw, "\r\n") == 31
	})
	for _, it := range s.do("GET", "/v1/supervisors", admin, nil).items() {
		if it["allocated"].(float64) > it["capacity"].(float64) {
			t.Fatalf("supervisor over capacity: %v", it)
		}
	}
}
