package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func started(name string, id int64) *event.CommandStartedEvent {
	return &event.CommandStartedEvent{CommandName: name, RequestID: id}
}

func succeeded(id int64) *event.CommandSucceededEvent {
	return &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: id}}
}

// TestWriteGateInsertsTwoAtATime: two inserts go together; any other write
// waits until none is in flight, and goes alone; writes go in the order
// they came (an insert behind a waiting update waits too); reads pass; a
// write whose context ends while it waits goes on ungated and releases
// nothing when it finishes.
func TestWriteGateInsertsTwoAtATime(t *testing.T) {
	var seen atomic.Int64 // events passed on to the next monitor
	next := &event.CommandMonitor{
		Started:   func(context.Context, *event.CommandStartedEvent) { seen.Add(1) },
		Succeeded: func(context.Context, *event.CommandSucceededEvent) { seen.Add(1) },
		Failed:    func(context.Context, *event.CommandFailedEvent) { seen.Add(1) },
	}
	m := NewWriteGate().Monitor(next)
	ctx := context.Background()
	start := func(name string, id int64) <-chan struct{} {
		done := make(chan struct{})
		go func() { m.Started(ctx, started(name, id)); close(done) }()
		return done
	}
	goes := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not start", what)
		}
	}
	waits := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
			t.Fatalf("%s started", what)
		case <-time.After(50 * time.Millisecond):
		}
	}

	goes("the first insert", start("insert", 1))
	goes("a second insert beside the first", start("insert", 2))
	update := start("update", 3)
	waits("an update beside two inserts", update)
	m.Started(ctx, started("find", 4)) // a read passes
	m.Succeeded(ctx, succeeded(4))
	third := start("insert", 5)
	waits("an insert queued behind an update", third)

	m.Succeeded(ctx, succeeded(1))
	waits("an update beside an insert", update)
	m.Succeeded(ctx, succeeded(2))
	goes("the update once the inserts finished", update)
	waits("an insert beside an update", third)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	m.Started(cctx, started("delete", 6)) // returns at once: its context is over
	m.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 6}})
	// Request 6 released nothing: the gate is still the update's.
	waits("an insert beside an update, after an ungated delete", third)

	m.Succeeded(ctx, succeeded(3))
	goes("the insert once the update finished", third)
	m.Succeeded(ctx, succeeded(5))
	if n := seen.Load(); n != 12 {
		t.Errorf("the next monitor saw %d events, want 12", n)
	}
}

// TestWriteGateOnTheStore: concurrent inserts and updates through the gate
// all succeed (none fails on SQLite's lock), with never more than two
// inserts in flight, and every update alone: concurrent $inc of the same
// documents all count.
func TestWriteGateOnTheStore(t *testing.T) {
	s, _ := startStore(t, t.TempDir(), nil)
	var mu sync.Mutex
	inFlight := map[string]int{}
	most := map[string]int{}
	count := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if !writeCommands[e.CommandName] {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			inFlight[e.CommandName]++
			total := 0
			for _, n := range inFlight {
				total += n
			}
			if e.CommandName != "insert" && total > 1 {
				t.Errorf("%s started with %v in flight", e.CommandName, inFlight)
			}
			most[e.CommandName] = max(most[e.CommandName], inFlight[e.CommandName])
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if writeCommands[e.CommandName] {
				mu.Lock()
				inFlight[e.CommandName]--
				mu.Unlock()
			}
		},
	}
	client, err := mongo.Connect(options.Client().ApplyURI(s.URI()).SetMonitor(s.WriteGate().Monitor(count)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	coll := client.Database(testDB).Collection("gated")
	ctx := context.Background()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "first"}}); err != nil { // the collection exists before the race
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			id := fmt.Sprint(i % 8)
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}},
				options.UpdateOne().SetUpsert(true))
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			docs := []any{bson.D{{Key: "_id", Value: fmt.Sprintf("i%d", i)}, {Key: "n", Value: 0}}}
			for j := range 50 {
				docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("i%d.%d", i, j)}, {Key: "n", Value: 0}})
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var total int
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct{ N int }
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		total += d.N
	}
	if want := 1 + 8 + 32*51; total != 32 || len(docs) != want {
		t.Errorf("%d documents summing %d, want %d and 32", len(docs), total, want)
	}
	if most["insert"] != insertsAtOnce || most["update"] != 1 {
		t.Errorf("at most %d inserts and %d updates in flight at once, want %d and 1", most["insert"], most["update"], insertsAtOnce)
	}
}
