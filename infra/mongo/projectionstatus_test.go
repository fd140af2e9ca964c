package mongo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections/status"
)

// TestProjectionStatusAcrossProcesses: what two processes' trackers write
// to the store is summed per projection: the commits applied and failed,
// the newest position, the largest lag, and the instances that run; one
// that stopped (it writes so as it ends) no longer counts, though what it
// applied does.
func TestProjectionStatusAcrossProcesses(t *testing.T) {
	store := imongo.NewProjectionStatus(newDB(t))
	ctx := testCtx(t)
	names := []string{"users", "projects"}
	a, b := status.NewTracker("a", names), status.NewTracker("b", names)
	old, recent := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond), time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	a.Observe("users", newCommit("u1", 1, old, created("t")), nil)
	a.Observe("users", newCommit("u2", 1, recent, created("t")), nil)
	b.Observe("users", newCommit("u3", 1, old, created("t")), nil)
	b.Observe("users", newCommit("u4", 1, old, created("t")), errors.New("failed"))

	runFor := func(tr *status.Tracker) (stop func()) {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		if err := tr.Announce(ctx, store); err != nil {
			t.Fatal(err)
		}
		go func() { defer close(done); tr.Run(rctx, store) }()
		return func() { cancel(); <-done }
	}
	stopA, stopB := runFor(a), runFor(b)
	defer stopA()
	collection := func(_ context.Context, name string) string { return name + "_live" }
	var rep []status.Projection
	// A tracker writes its projections' records one by one, in no set
	// order: wait until both processes have written both.
	waitUntil(t, "both processes to write their figures", func() bool {
		var err error
		rep, err = status.Report(ctx, store, names, collection)
		return err == nil && len(rep) == 2 && rep[0].Instances == 2 && rep[1].Instances == 2 && rep[1].Applied == 3
	})
	users := rep[1]
	if rep[0].Name != "projects" || rep[0].Applied != 0 || rep[0].Instances != 2 || rep[0].Position != nil || rep[0].Collection != "projects_live" {
		t.Fatalf("projects: %+v", rep[0])
	}
	if users.Name != "users" || users.Failed != 1 || users.Position == nil || !users.Position.Equal(recent) || users.Collection != "users_live" ||
		users.LagSeconds < 59 {
		t.Fatalf("users: %+v (position %v, want %v)", users, users.Position, recent)
	}
	stopB()
	rep, err := status.Report(ctx, store, names, collection)
	if err != nil || rep[1].Instances != 1 || rep[1].Applied != 3 || rep[1].Failed != 1 {
		t.Fatalf("after b stopped: %+v %v", rep, err)
	}
}

// waitUntil polls cond for up to ten seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOthersProject: a process that announced its projectors counts as
// another one for every process but itself, until it says it stopped; one
// that went silent without saying so counts for a minute after it last
// wrote; a process is never another to itself.
func TestOthersProject(t *testing.T) {
	store := imongo.NewProjectionStatus(newDB(t))
	ctx := testCtx(t)
	names := []string{"users", "projects"}
	others := func(instance string) bool {
		t.Helper()
		o, err := status.Others(ctx, store, instance)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if others("a") {
		t.Fatal("an empty store has other processes")
	}
	a := status.NewTracker("a", names)
	if err := a.Announce(ctx, store); err != nil {
		t.Fatal(err)
	}
	if others("a") || !others("b") || !others("a2") {
		t.Fatalf("after a announced: others(a)=%v, others(b)=%v, others(a2)=%v", others("a"), others("b"), others("a2"))
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(rctx, store) }()
	cancel()
	<-done
	if others("b") {
		t.Fatal("a stopped, yet counts as running")
	}
	silent := status.Record{ID: "users@c", Projection: "users", UpdatedAt: time.Now().Add(-2 * time.Minute)}
	if err := store.Save(ctx, silent); err != nil {
		t.Fatal(err)
	}
	if others("b") {
		t.Fatal("a process silent for two minutes counts as running")
	}
	silent.UpdatedAt = time.Now().Add(-30 * time.Second)
	if err := store.Save(ctx, silent); err != nil {
		t.Fatal(err)
	}
	if !others("b") || others("c") {
		t.Fatal("a process silent for 30 s does not count as running")
	}
}
