package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// TestIfMatchGuardsOnlyItsStream: the version a client sends as If-Match is
// the version of the resource it names, and guards that resource's stream
// alone, never another stream the same request writes. Deleting a user on
// its version also releases their e-mail (its own stream, at another
// version), and accepting a proposal on the project's version also places
// the student on the cohort (at another version again).
func TestIfMatchGuardsOnlyItsStream(t *testing.T) {
	s := startService(t)
	ctx := context.Background()
	admin := s.admin()

	const email = "leaving@uni.example"
	created := s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": email, "name": "Leaving",
		"roles": []string{"student"}, "password": "leaving password 1"}), 201)
	id, version := created.str("id"), created.num("version")
	claim, claimVersion, err := commands.Load(ctx, s.app.Exec, user.EmailDecider, user.EmailStreamID(email))
	if err != nil || claim.Owner != id {
		t.Fatalf("the e-mail's claim: %+v, %v", claim, err)
	}
	if claimVersion == version {
		t.Fatalf("the user and their e-mail are both at version %d: the test needs them apart", version)
	}
	s.expect(s.do("DELETE", "/v1/users/"+id, admin, nil, "If-Match", fmt.Sprintf(`"%d"`, version)), 204)
	claim, _, err = commands.Load(ctx, s.app.Exec, user.EmailDecider, user.EmailStreamID(email))
	if err != nil || claim.Owner != "" {
		t.Errorf("after the user was deleted on its version, the e-mail is still held: %+v, %v", claim, err)
	}

	pw := "accepting password 1"
	sup := s.createUser(admin, "accepting-sup@uni.example", "Sup", []string{"supervisor"}, pw)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 2}), 200)
	s.createUser(admin, "accepting-student@uni.example", "Student", []string{"student"}, pw)
	student := s.signIn("accepting-student@uni.example", pw)
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "On its version", "supervisor_id": sup}), 201)
	_, cohortVersion, err := commands.Load(ctx, s.app.Exec, cohort.Decider, events.CohortStreamID)
	if err != nil {
		t.Fatal(err)
	}
	if cohortVersion == p.num("version") {
		t.Fatalf("the project and the cohort are both at version %d: the test needs them apart", cohortVersion)
	}
	accepted := s.expect(s.do("POST", "/v1/projects/"+p.str("id")+"/decision", s.signIn("accepting-sup@uni.example", pw),
		map[string]string{"decision": "accept"}, "If-Match", fmt.Sprintf(`"%d"`, p.num("version"))), 200)
	if accepted.str("status") != events.StatusAccepted {
		t.Fatalf("accepted on its version: %v", accepted.Body)
	}
	board, _, err := commands.Load(ctx, s.app.Exec, cohort.Decider, events.CohortStreamID)
	if err != nil || board.Supervisor[p.str("student_id")].SupervisorID != sup {
		t.Errorf("the student is not placed with the supervisor who accepted: %+v, %v", board.Supervisor, err)
	}
}
