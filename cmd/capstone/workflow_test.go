package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// TestProposalWorkflow: a student proposes, is rejected, edits and proposes
// to another supervisor, is accepted; examiner and grade are recorded, and
// the grade released; the overview and the supervisors list agree.
func TestProposalWorkflow(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	sup1 := s.createUser(admin, "sup1@uni.example", "Dr One", []string{"supervisor"}, "supervisor one pw")
	sup2 := s.createUser(admin, "sup2@uni.example", "Dr Two", []string{"supervisor"}, "supervisor two pw")
	exam := s.createUser(admin, "exam@uni.example", "Dr Exam", []string{"examiner"}, "examiner pw 123")
	stu := s.createUser(admin, "stu@uni.example", "Stu Dent", []string{"student"}, "student pw 1234")
	t1, t2 := s.signIn("sup1@uni.example", "supervisor one pw"), s.signIn("sup2@uni.example", "supervisor two pw")
	st := s.signIn("stu@uni.example", "student pw 1234")

	if r := s.do("PUT", "/v1/supervisors/"+sup2+"/profile", admin, map[string]any{"areas": []string{"ML"}, "info": "x", "project_ideas": []any{}, "capacity": 2}); r.Status != 200 {
		t.Fatal(s.logs.String())
	}
	s.expect(s.do("PUT", "/v1/supervisors/"+sup1+"/profile", t1, map[string]any{"areas": []string{"Systems", "Systems", " Networks "}, "info": "Office 3", "project_ideas": []map[string]string{{"title": "Fast RPC", "description": "d"}}}), 200)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup1+"/profile", t1, map[string]any{"areas": []string{}, "info": "", "capacity": 9}), 403)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup2+"/profile", t1, map[string]any{"areas": []string{}, "info": ""}), 403)
	s.expect(s.do("PUT", "/v1/students/"+stu+"/preferences", st, map[string]any{"supervisor_ids": []string{sup2, sup1}}), 200)
	s.expect(s.do("PUT", "/v1/students/"+stu+"/preferences", st, map[string]any{"supervisor_ids": []string{sup2, sup2}}), 400)
	s.expect(s.do("PUT", "/v1/students/"+stu+"/preferences", st, map[string]any{"supervisor_ids": []string{exam}}), 422, "not-a-supervisor")

	p := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "Proposal", "supervisor_id": sup1}), 201)
	pid := p.str("id")
	if p.str("status") != "submitted" || p.str("supervisor_id") != sup1 {
		t.Fatalf("created with supervisor_id: %s", p.Raw)
	}
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", t2, map[string]string{"decision": "accept"}), 404)
	rej := s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", t1, map[string]string{"decision": "reject", "comment": "Too broad"}), 200)
	if rej.str("status") != "rejected" {
		t.Fatalf("reject: %s", rej.Raw)
	}
	s.expect(s.do("PATCH", "/v1/projects/"+pid, st, map[string]string{"title": "Narrower proposal"}), 200)
	s.expect(s.do("POST", "/v1/projects/"+pid+"/submit", st, map[string]string{"supervisor_id": sup2}), 200)
	acc := s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", t2, map[string]string{"decision": "accept", "comment": "Good"}), 200)
	if acc.str("status") != "accepted" {
		t.Fatalf("accept: %s", acc.Raw)
	}
	s.expect(s.do("DELETE", "/v1/projects/"+pid, st, nil), 422, "project-locked")
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": sup2}), 422, "not-an-examiner")
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": exam}), 200)
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/grade", admin, map[string]any{"grade": 101}), 400)
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/grade", admin, map[string]any{"grade": 72, "feedback": "Solid"}), 200)
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/grade", st, map[string]any{"grade": 100}), 403)
	// A grade reaches the student once it is released.
	if r := s.expect(s.do("GET", "/v1/students/"+stu, st, nil), 200); r.Body["grade"] != nil || r.Body["marking"] != nil {
		t.Fatalf("the student sees a grade before its release: %s", r.Raw)
	}
	s.expect(s.do("POST", "/v1/marking/release", admin, map[string]any{"project_ids": []string{pid}}), 200)

	waitFor(t, "the overview", func() bool {
		r := s.do("GET", "/v1/students/"+stu, st, nil)
		proj, _ := r.Body["project"].(map[string]any)
		return r.Status == 200 && r.str("supervisor_id") == sup2 && r.str("examiner_id") == exam && r.num("grade") == 72 &&
			proj["status"] == "accepted" // the projects read model is its own projection, and may lag
	})
	o := s.expect(s.do("GET", "/v1/students/"+stu, st, nil), 200)
	proj, _ := o.Body["project"].(map[string]any)
	if proj["id"] != pid || proj["status"] != "accepted" || o.str("assigned_via") != "proposal" || o.str("feedback") != "Solid" {
		t.Fatalf("overview: %s", o.Raw)
	}
	s.expect(s.do("GET", "/v1/students/"+stu, t2, nil), 200) // their supervisor
	s.expect(s.do("GET", "/v1/students/"+stu, t1, nil), 404) // not theirs
	s.expect(s.do("GET", "/v1/projects/"+pid, t1, nil), 404) // no longer proposed to them
	waitFor(t, "the supervisors list", func() bool {
		for _, it := range s.do("GET", "/v1/supervisors", st, nil).items() {
			if it["id"] == sup2 {
				return it["allocated"] == float64(1) && it["remaining"] == float64(1) && it["capacity"] == float64(2)
			}
		}
		return false
	})
	one := s.expect(s.do("GET", "/v1/supervisors/"+sup1, st, nil), 200)
	if fmt.Sprint(one.Body["areas"]) != "[Systems Networks]" || one.num("capacity") != 0 {
		t.Fatalf("supervisor one: %s", one.Raw)
	}
}

// TestCapacityUnderConcurrency: 30 acceptances race for 5 slots: exactly 5
// succeed, the others get 409 capacity-reached, and the read models agree
// (invariant "rules across streams hold").
func TestCapacityUnderConcurrency(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	sup, supTok := supervisorWithSlots(s, admin, "busy@uni.example", 5)
	const n = 30
	projects := make([]string, n)
	students := make([]string, n)
	for i := range n {
		res, err := s.app.Users.Create(ctx, commands.Meta{Actor: events.SystemActor}, user.Create{Email: fmt.Sprintf("racer%d@uni.example", i), Name: "Racer", Roles: []string{"student"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		students[i] = res.State.ID
		by := events.Actor{UserID: res.State.ID, Roles: []string{"student"}}
		projects[i] = uuid.Must(uuid.NewV7()).String()
		if _, err := project.Decider.Execute(ctx, s.app.Exec, projects[i], project.Create{OwnerID: by.UserID, Fields: project.Fields{Title: "Race"}}, commands.Meta{Actor: by}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.app.Cohort.Submit(ctx, commands.Meta{Actor: by}, projects[i], commands.AnyVersion, sup); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.do("POST", "/v1/projects/"+projects[i]+"/decision", supTok, map[string]string{"decision": "accept"})
		}()
	}
	wg.Wait()
	accepted := map[string]bool{}
	for i, r := range results {
		switch {
		case r.Status == 200:
			accepted[students[i]] = true
		case r.Status == 409 && r.str("code") == "capacity-reached":
		default:
			t.Errorf("accept %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if len(accepted) != 5 {
		t.Fatalf("%d acceptances succeeded, want exactly 5", len(accepted))
	}
	board, _, err := s.app.Cohort.Board(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if board.Allocated[sup] != 5 || board.Remaining(sup) != 0 {
		t.Fatalf("board: %d allocated, %d remaining", board.Allocated[sup], board.Remaining(sup))
	}
	waitFor(t, "the supervisors read model", func() bool {
		d := s.do("GET", "/v1/supervisors/"+sup, admin, nil)
		return d.num("allocated") == 5 && d.num("remaining") == 0
	})
	for i, id := range students {
		want := ""
		if accepted[id] {
			want = sup
		}
		waitFor(t, "student "+id, func() bool { return s.do("GET", "/v1/students/"+id, admin, nil).str("supervisor_id") == want })
		status := "submitted"
		if accepted[id] {
			status = "accepted"
		}
		if got := s.expect(s.do("GET", "/v1/projects/"+projects[i], admin, nil), 200).str("status"); got != status {
			t.Fatalf("project %d is %s, want %s", i, got, status)
		}
	}
}

// TestConcurrentEditsWithoutIfMatchAllLand: a burst of edits of one project
// without If-Match, all at once, is decided one after the other: every one
// answers 200 with a version of its own, and the project ends at the
// version after the last (none lost, none refused as a conflict).
func TestConcurrentEditsWithoutIfMatchAllLand(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "burst@uni.example", "Bur St", []string{"student"}, "student pw 1234")
	st := s.signIn("burst@uni.example", "student pw 1234")
	p := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "Burst"}), 201)
	pid, created := p.str("id"), int(p.Body["version"].(float64))
	const edits = 20
	versions := make(chan int, edits)
	var wg sync.WaitGroup
	for i := range edits {
		wg.Go(func() {
			r := s.do("PATCH", "/v1/projects/"+pid, st, map[string]string{"title": fmt.Sprint("Burst ", i)})
			if r.Status != 200 {
				t.Errorf("edit %d: %d %s", i, r.Status, r.Raw)
				return
			}
			versions <- int(r.Body["version"].(float64))
		})
	}
	wg.Wait()
	close(versions)
	seen := map[int]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("two edits answered version %d", v)
		}
		seen[v] = true
	}
	got := s.expect(s.do("GET", "/v1/projects/"+pid, st, nil), 200)
	if v := int(got.Body["version"].(float64)); v != created+edits {
		t.Fatalf("after %d edits from version %d the project is at version %d", edits, created, v)
	}
}
