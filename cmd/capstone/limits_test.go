package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// TestOpenProjectsAreBounded: one student sending many proposals at once gets
// exactly the limit of open projects, the rest a clear 409, and nothing of
// theirs stored; withdrawing one makes room for another. Every document
// stays bounded: a project's fields are capped, and so the student's own
// record is too.
func TestOpenProjectsAreBounded(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--max-open-projects", "3")
	admin := s.admin()
	id := s.createUser(admin, "prolific@uni.example", "Prolific", []string{"student"}, "a prolific student")
	other := s.createUser(admin, "other@uni.example", "Other", []string{"student"}, "another student pw")
	student, otherTok := s.signIn("prolific@uni.example", "a prolific student"), s.signIn("other@uni.example", "another student pw")

	big := strings.Repeat("x", 9000) // a 9 kB proposal, as in the attack
	as := burst(20, func(i int) answer {
		return s.post("/v1/projects", student, map[string]string{"title": fmt.Sprintf("Proposal %d", i), "description": big})
	})
	checkAnswers(t, as, 201, 409)
	if n := count(as, 201); n != 3 {
		t.Fatalf("%d of 20 concurrent proposals were created, want the limit of 3", n)
	}
	for _, a := range as {
		if a.status == 409 && a.code != "too-many-open-projects" {
			t.Fatalf("409 with code %q, want too-many-open-projects", a.code)
		}
	}
	mine := s.expect(s.do("GET", "/v1/projects", student, nil), 200).items()
	if len(mine) != 3 {
		t.Fatalf("the student has %d projects, want 3", len(mine))
	}
	// Another student is not affected.
	s.expect(s.do("POST", "/v1/projects", otherTok, map[string]string{"title": "Mine"}), 201)

	// Withdrawing one makes room for exactly one more.
	s.expect(s.do("DELETE", "/v1/projects/"+mine[0]["id"].(string), student, nil), 204)
	s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "After a withdrawal"}), 201)
	r := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "One too many"}), 409, "too-many-open-projects")
	if !strings.Contains(r.str("detail"), "withdraw one") {
		t.Fatalf("detail %q does not say what to do", r.str("detail"))
	}

	// Fields past their caps are refused, not stored.
	s.expect(s.do("POST", "/v1/projects", otherTok, map[string]string{"title": "Long", "description": strings.Repeat("y", 10001)}), 400, "invalid")
	waitFor(t, "the student's record to list the projects", func() bool {
		return len(s.expect(s.do("GET", "/v1/students/"+id, admin, nil), 200).Body["projects"].([]any)) == 3
	})
	raw, err := s.app.store.DB.Collection(projections.CollStudents).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 4096 {
		t.Fatalf("the student's stored record is %d bytes after 20 proposals", len(raw))
	}
	_ = other
}

// TestOpenProjectPlacesAreReclaimed: a place counted for a creation that
// died half-way (the project never came), or for a project withdrawn while
// freeing its place failed, is given back when the student reaches the
// limit, so a crash cannot leave a student unable to propose. The half-done
// writes are those of a process that then crashed: written beside the
// service, which then starts again (the service is the only writer of its
// embedded store and trusts what it cached, as a restarted one has not).
func TestOpenProjectPlacesAreReclaimed(t *testing.T) {
	dir := t.TempDir()
	s := startServiceWith(t, dir, &syncBuffer{}, "--max-open-projects", "2")
	admin := s.admin()
	id := s.createUser(admin, "unlucky@uni.example", "Unlucky", []string{"student"}, "an unlucky student")
	student := s.signIn("unlucky@uni.example", "an unlucky student")
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	es := imongoEventStore(s)
	past := commands.NewExecutor(es, es, nil, s.app.Registry, quiet)
	past.Clock = func() time.Time { return time.Now().Add(-time.Hour) }
	meta := commands.Meta{Actor: events.Actor{UserID: id, Roles: []string{events.RoleStudent}}}

	// An hour ago a creation took a place and died before the project was stored.
	if _, err := cohort.OpenProjectsDecider.Execute(ctx, past, cohort.OpenProjectsStreamID(id),
		cohort.TakeProjectSlot{ProjectID: "01a00000-0000-7000-8000-000000000001", Max: 2}, meta); err != nil {
		t.Fatal(err)
	}
	// A project was withdrawn, and freeing its place was lost.
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Withdrawn behind its back"}), 201).str("id")
	if _, err := project.Decider.Execute(ctx, past, p, project.Withdraw{By: meta.Actor}, meta); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s = startServiceWith(t, dir, &syncBuffer{}, "--max-open-projects", "2")
	student = s.signIn("unlucky@uni.example", "an unlucky student")
	// Both places are given back: two proposals fit, a third does not.
	s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "First"}), 201)
	s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Second"}), 201)
	s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Third"}), 409, "too-many-open-projects")
}
