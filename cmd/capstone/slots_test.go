package main

import (
	"context"
	"testing"

	"github.com/capstone-pms/capstone/events"
)

// placedWith places a new student with sup through an accepted proposal and
// returns the student's id.
func placedWith(s *service, admin, supTok, sup, email string) string {
	s.t.Helper()
	stu := s.createUser(admin, email, "Placed Student", []string{"student"}, "student pw 1234")
	st := s.signIn(email, "student pw 1234")
	pid := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "Proposal", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 200)
	return stu
}

// slotsAgree fails the test unless the cohort and, once it settles, the
// supervisors read model show want students placed with sup out of capacity.
func slotsAgree(t *testing.T, s *service, admin, sup string, capacity, want int) {
	t.Helper()
	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if board.Allocated[sup] != want || board.Remaining(sup) != capacity-want {
		t.Fatalf("cohort: %d placed, %d remaining; want %d placed, %d remaining", board.Allocated[sup], board.Remaining(sup), want, capacity-want)
	}
	waitFor(t, "the supervisors read model", func() bool {
		d := s.do("GET", "/v1/supervisors/"+sup, admin, nil)
		return d.num("allocated") == int64(want) && d.num("remaining") == int64(capacity-want)
	})
}

// TestLeavingStudentFreesTheSlot: a student placed with a supervisor who is
// deleted, or who is no longer a student, gives the slot back, in the
// cohort and in the read model, with the reason on the cohort's events.
func TestLeavingStudentFreesTheSlot(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	sup := s.createUser(admin, "keeper@uni.example", "Dr Keeper", []string{"supervisor"}, "keeper supervisor pw")
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 2}), 200)
	supTok := s.signIn("keeper@uni.example", "keeper supervisor pw")
	gone := placedWith(s, admin, supTok, sup, "gone@uni.example")
	demoted := placedWith(s, admin, supTok, sup, "demoted@uni.example")
	slotsAgree(t, s, admin, sup, 2, 2)

	s.expect(s.do("DELETE", "/v1/users/"+gone, admin, nil), 204)
	slotsAgree(t, s, admin, sup, 2, 1)
	s.expect(s.do("PATCH", "/v1/users/"+demoted, admin, map[string]any{"roles": []string{"examiner"}}), 200)
	slotsAgree(t, s, admin, sup, 2, 0)

	// The proposal of someone no longer a student takes no slot, and
	// leaves it to the students who are.
	s.createUser(admin, "pending@uni.example", "Pending Student", []string{"student"}, "student pw 1234")
	pt := s.signIn("pending@uni.example", "student pw 1234")
	pid := s.expect(s.do("POST", "/v1/projects", pt, map[string]string{"title": "Proposal", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/users/"+s.do("GET", "/v1/me", pt, nil).str("id"), admin, map[string]any{"roles": []string{"examiner"}}), 200)
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 422, "not-a-student")
	slotsAgree(t, s, admin, sup, 2, 0)
	placedWith(s, admin, supTok, sup, "next@uni.example")
	placedWith(s, admin, supTok, sup, "last@uni.example")
	slotsAgree(t, s, admin, sup, 2, 2)

	reasons := map[string]string{}
	commits, err := imongoEventStore(s).ReadStream(context.Background(), events.CohortStreamID, events.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commits {
		for _, e := range c.Events {
			if u, ok := e.Data.(*events.StudentUnallocated); ok {
				reasons[u.StudentID] = u.Reason
			}
		}
	}
	if reasons[gone] != "student deleted" || reasons[demoted] != "no longer a student" {
		t.Fatalf("the cohort's reasons: %v", reasons)
	}
	waitFor(t, "the read models to equal a rebuild", func() bool {
		res, err := s.app.Rebuild(context.Background(), nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
}
