package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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

	id := createUnpublished(t, s, studentID, "Never published")
	start := time.Now()
	waitFor(t, "the lost project in the student's list", func() bool {
		for _, it := range s.do("GET", "/v1/projects", student, nil).items() {
			if it["id"] == id {
				return true
			}
		}
		return false
	})
	s.expect(s.do("GET", "/v1/projects/"+id, student, nil), 200)
	t.Logf("caught up after %s", time.Since(start))
}

// TestCatchUpRepairsACreationLostBeforeAnEdit: the bus loses a project's
// creation but carries its next edit. The project's own document is
// repaired at once (the edit fills the gap from the store), but the
// student's overview folds only the creation: having handled the edit
// says nothing about it, and the catch-up must still apply the creation
// there. (It once skipped it, as "applied up to version 2", and the
// student's list lacked the project until a rebuild.)
func TestCatchUpRepairsACreationLostBeforeAnEdit(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	studentID := s.createUser(admin, "edited.student@uni.example", "Edited Student", []string{"student"}, "edited student password")
	student := s.signIn("edited.student@uni.example", "edited student password")
	ctx := context.Background()

	// Hold the catch-up back (its lease is someone else's) until the edit
	// is handled, as it is when the edit arrives within a sweep's interval.
	leases := s.app.store.DB.Collection(outbox.LeaseCollection)
	if _, err := leases.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "catch-up"}}, bson.D{{Key: "_id", Value: "catch-up"},
		{Key: "holder", Value: "this test"}, {Key: "expires_at", Value: time.Now().Add(time.Minute).UTC()}}, options.Replace().SetUpsert(true)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(CatchUpEvery + CatchUpAfter) // a sweep under way has ended

	id := createUnpublished(t, s, studentID, "Created unseen")
	s.expect(s.do("PATCH", "/v1/projects/"+id, student, map[string]string{"aim": "Seen once edited"}), 200)
	s.expect(s.do("GET", "/v1/projects/"+id, student, nil), 200)

	if _, err := leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: "catch-up"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the project in the student's list", func() bool {
		for _, it := range s.do("GET", "/v1/projects", student, nil).items() {
			if it["id"] == id {
				return true
			}
		}
		return false
	})
}

// createUnpublished creates a project for the student whose commit is
// stored but never reaches the bus, as when Pub/Sub loses it: through an
// outbox of its own whose pending entries are then deleted. It returns the
// project's id.
func createUnpublished(t *testing.T, s *service, studentID, title string) string {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	es := imongoEventStore(s)
	lost := outbox.New(s.app.store.DB, nil, "lost", 1, quiet, outbox.WithLog(outbox.NewCommitLog(s.app.store.DB)))
	x := commands.NewExecutor(es, es, nil, s.app.Registry, quiet)
	x.Outbox = lost
	res, err := (&cohort.Service{X: x}).CreateProject(ctx, commands.Meta{Actor: events.Actor{UserID: studentID, Roles: []string{events.RoleStudent}}},
		project.Create{OwnerID: studentID, Fields: project.Fields{Title: title}}, "")
	if err != nil {
		t.Fatal(err)
	}
	lost.Close(ctx)
	if _, err := s.app.store.DB.Collection(outbox.Collection).DeleteMany(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	return res.State.ID
}
