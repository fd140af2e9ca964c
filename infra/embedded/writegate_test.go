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

// TestWriteGateOneWriteAtATime: a write waits for the one in flight; reads
// do not; a write whose context ends while it waits goes on ungated and
// releases nothing when it finishes.
func TestWriteGateOneWriteAtATime(t *testing.T) {
	var seen atomic.Int64 // events passed on to the next monitor
	next := &event.CommandMonitor{
		Started:   func(context.Context, *event.CommandStartedEvent) { seen.Add(1) },
		Succeeded: func(context.Context, *event.CommandSucceededEvent) { seen.Add(1) },
		Failed:    func(context.Context, *event.CommandFailedEvent) { seen.Add(1) },
	}
	m := NewWriteGate().Monitor(next)
	ctx := context.Background()
	m.Started(ctx, started("insert", 1))

	second := make(chan struct{})
	go func() { m.Started(ctx, started("update", 2)); close(second) }()
	m.Started(ctx, started("find", 3)) // a read passes
	m.Succeeded(ctx, succeeded(3))
	select {
	case <-second:
		t.Fatal("a second write started while the first was in flight")
	case <-time.After(50 * time.Millisecond):
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	m.Started(cctx, started("delete", 4)) // returns at once: its context is over
	m.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{RequestID: 4}})

	m.Succeeded(ctx, succeeded(1))
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("the second write did not start after the first finished")
	}
	// Request 4 released nothing: the gate is still the second write's.
	third := make(chan struct{})
	go func() { m.Started(ctx, started("insert", 5)); close(third) }()
	select {
	case <-third:
		t.Fatal("a write started while the second was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	m.Succeeded(ctx, succeeded(2))
	<-third
	m.Succeeded(ctx, succeeded(5))
	if n := seen.Load(); n != 10 {
		t.Errorf("the next monitor saw %d events, want 10", n)
	}
}

// TestWriteGateOnTheStore: concurrent writes through the gate all succeed,
// never more than one in flight.
func TestWriteGateOnTheStore(t *testing.T) {
	s, _ := startStore(t, t.TempDir(), nil)
	var inFlight, most atomic.Int64
	count := &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if writeCommands[e.CommandName] {
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
			}
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if writeCommands[e.CommandName] {
				inFlight.Add(-1)
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
	if total != 32 || len(docs) != 8 {
		t.Errorf("%d documents summing %d, want 8 and 32", len(docs), total)
	}
	if most.Load() != 1 {
		t.Errorf("%d writes in flight at once, want 1", most.Load())
	}
}
