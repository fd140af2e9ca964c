package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/events"
)

// TestRejectionFreesASlotLeftByAnAcceptance: an acceptance takes the
// supervisor's slot on the cohort first and marks the project accepted
// second. A process killed between the two (or a store failing both the
// project's write and the slot's release) leaves the slot held through a
// project still submitted. The supervisor then rejecting the proposal must
// free it: the student is not placed with a supervisor who turned them
// down, the slot is the supervisor's again, and another supervisor can
// accept the student's next proposal.
func TestRejectionFreesASlotLeftByAnAcceptance(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	first := s.createUser(admin, "first.sup@uni.example", "First Sup", []string{"supervisor"}, "first supervisor password")
	second := s.createUser(admin, "second.sup@uni.example", "Second Sup", []string{"supervisor"}, "second supervisor password")
	student := s.createUser(admin, "left.student@uni.example", "Left Student", []string{"student"}, "left student password")
	for _, sup := range []string{first, second} {
		s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 1}), 200)
	}
	firstTok := s.signIn("first.sup@uni.example", "first supervisor password")
	secondTok := s.signIn("second.sup@uni.example", "second supervisor password")
	studentTok := s.signIn("left.student@uni.example", "left student password")
	p := s.expect(s.do("POST", "/v1/projects", studentTok, map[string]any{"title": "Left behind", "supervisor_id": first}), 201).str("id")

	// The acceptance's first half, as the process stored it before it died.
	if _, err := cohort.Decider.Execute(context.Background(), s.app.Cohort.X, events.CohortStreamID,
		cohort.Allocate{StudentID: student, SupervisorID: first, Via: events.ViaProposal, ProjectID: p},
		commands.Meta{Actor: events.Actor{UserID: first, Roles: []string{events.RoleSupervisor}}}); err != nil {
		t.Fatal(err)
	}

	s.expect(s.do("POST", "/v1/projects/"+p+"/decision", firstTok, map[string]string{"decision": "reject"}), 200)
	if got := s.expect(s.do("GET", "/v1/students/"+student, admin, nil), 200).str("supervisor_id"); got != "" {
		t.Fatalf("after the rejection the student is placed with %s, want no one", got)
	}
	if left := s.expect(s.do("GET", "/v1/supervisors/"+first, admin, nil), 200).num("remaining"); left != 1 {
		t.Fatalf("the rejecting supervisor has %d slot(s) left, want 1", left)
	}
	s.expect(s.do("POST", "/v1/projects/"+p+"/submit", studentTok, map[string]any{"supervisor_id": second}), 200)
	s.expect(s.do("POST", "/v1/projects/"+p+"/decision", secondTok, map[string]string{"decision": "accept"}), 200)
	if got := s.expect(s.do("GET", "/v1/students/"+student, admin, nil), 200).str("supervisor_id"); got != second {
		t.Fatalf("after the second supervisor accepted, the student is placed with %q, want %s", got, second)
	}
}

// TestAcceptanceRacingRejectionsIsRefusedOnlyWhenFull: a supervisor's
// acceptances and rejections of several proposals at once. An acceptance
// takes a slot before it marks its project, so one that was bound to fail
// (its proposal rejected a moment before) held a slot meanwhile, and an
// acceptance beside it was refused 409 capacity-reached ("all 2 slots are
// taken") while the supervisor ended with both free. Decisions on one
// project now take turns, so a slot is only taken by an acceptance that
// goes through: whenever one is refused for capacity, the supervisor's
// slots end up all taken.
func TestAcceptanceRacingRejectionsIsRefusedOnlyWhenFull(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	sup := s.createUser(admin, "racing.sup@uni.example", "Racing Sup", []string{"supervisor"}, "racing supervisor password")
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 2}), 200)
	supTok := s.signIn("racing.sup@uni.example", "racing supervisor password")
	rnd := seeded(t, 0)
	for round := range 3 {
		n := 4 + rnd.IntN(5)
		projects := make([]string, n)
		for i := range projects {
			email := fmt.Sprintf("racer%d.%d@uni.example", round, i)
			s.createUser(admin, email, "Racer", []string{"student"}, "racing student password")
			tok := s.signIn(email, "racing student password")
			projects[i] = s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Race", "supervisor_id": sup}), 201).str("id")
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		full := 0
		for _, p := range projects {
			for _, d := range []string{"reject", "accept"} {
				wg.Go(func() {
					r := s.do("POST", "/v1/projects/"+p+"/decision", supTok, map[string]string{"decision": d})
					switch {
					case r.Status == 409 && r.str("code") == "capacity-reached":
						mu.Lock()
						full++
						mu.Unlock()
					case r.Status != 200 && !(r.Status == 422 && r.str("code") == "not-submitted"):
						t.Errorf("%s of %s: %d %s", d, p, r.Status, r.Raw)
					}
				})
			}
		}
		wg.Wait()
		left := s.expect(s.do("GET", "/v1/supervisors/"+sup, admin, nil), 200).num("remaining")
		if full > 0 && left != 0 {
			t.Fatalf("round %d: %d acceptance(s) refused capacity-reached, yet the supervisor ends with %d slot(s) free", round, full, left)
		}
		for _, p := range projects { // free the slots for the next round
			if s.do("GET", "/v1/projects/"+p, admin, nil).str("status") == "accepted" {
				s.expect(s.do("DELETE", "/v1/projects/"+p, admin, nil), 204)
			}
		}
	}
}
