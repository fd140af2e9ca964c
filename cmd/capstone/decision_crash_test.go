package main

import (
	"context"
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
