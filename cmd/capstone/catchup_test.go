package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestReadModelsCatchUpWhatTheBusLost: a project is stored whose commit the
// bus never carries (no publisher, and its outbox group gone, as when it was
// published into a Pub/Sub topic that had lost its subscriptions). Its first
// event is missing everywhere, which no later commit of the stream could
// repair; the projectors find it in the commit log and apply it from the
// store within seconds: the project and the student's list show it, with
// no restart and no replay.
func TestReadModelsCatchUpWhatTheBusLost(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	studentID := s.createUser(admin, "lost.student@uni.example", "Lost Student", []string{"student"}, "lost student password")
	student := s.signIn("lost.student@uni.example", "lost student password")
	s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Delivered"}), 201)

	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	es := imongoEventStore(s)
	lost := outbox.New(s.app.store.DB, nil, "lost", 1, quiet, outbox.WithLog(outbox.NewCommitLog(s.app.store.DB)))
	x := commands.NewExecutor(es, es, nil, s.app.Registry, quiet)
	x.Outbox = lost
	res, err := (&cohort.Service{X: x}).CreateProject(ctx, commands.Meta{Actor: events.Actor{UserID: studentID, Roles: []string{events.RoleStudent}}},
		project.Create{OwnerID: studentID, Fields: project.Fields{Title: "Never published"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	lost.Close(ctx)
	if _, err := s.app.store.DB.Collection(outbox.Collection).DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitFor(t, "the lost project in the student's list", func() bool {
		for _, it := range s.do("GET", "/v1/projects", student, nil).items() {
			if it["id"] == res.State.ID {
				return true
			}
		}
		return false
	})
	s.expect(s.do("GET", "/v1/projects/"+res.State.ID, student, nil), 200)
	t.Logf("caught up after %s", time.Since(start))
}
