package bus

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
)

// dataRecorder is a Projection that records the event data it was handed,
// by commit.
type dataRecorder struct {
	name string
	mu   sync.Mutex
	got  map[string]events.Data
}

func (p *dataRecorder) Name() string { return p.name }

func (p *dataRecorder) Handle(_ context.Context, c events.Commit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got[c.ID()] = c.Events[0].Data
	return nil
}

// TestConsumersDecodeEachCommitOnce: consumers sharing Decodings on the
// in-process bus are each handed every commit, as published, and decoded
// once between them (they hold the very same event data); nothing is held
// once every consumer took its commit. A commit handed to one consumer
// alone (Deliver) is decoded by it and leaves nothing held either.
func TestConsumersDecodeEachCommitOnce(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	local := NewLocal()
	const consumers, commits = 3, 200
	shared := NewDecodings(consumers)
	var recs []*dataRecorder
	var cs []*Consumer
	for i := range consumers {
		rec := &dataRecorder{name: fmt.Sprint("p", i), got: map[string]events.Data{}}
		c := &Consumer{Sub: local, Topic: Topic, Registry: reg, Projection: rec, Workers: 4, MaxAttempts: 1,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Decodings: shared}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		recs, cs = append(recs, rec), append(cs, c)
	}
	pub := &Publisher{Pub: local, Topic: Topic}
	var wg sync.WaitGroup
	for i := range commits {
		wg.Go(func() {
			stream := fmt.Sprint("s", i%17)
			c := events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: int64(i/17 + 1),
				Events: []events.Envelope{{ID: fmt.Sprint("e", i), StreamID: stream, StreamType: events.StreamProject,
					Version: int64(i/17 + 1), Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: fmt.Sprint("title ", i)}}}}
			if err := pub.Publish(ctx, c); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait() // Publish returns once every consumer acked
	for id, data := range recs[0].got {
		for _, rec := range recs[1:] {
			if other, ok := rec.got[id]; !ok || other != data {
				t.Errorf("%s: %s was handed %p, %s %p: want the same decoded data", id, recs[0].name, data, rec.name, other)
			}
		}
	}
	for _, rec := range recs {
		if len(rec.got) != commits {
			t.Errorf("%s was handed %d commits, want %d", rec.name, len(rec.got), commits)
		}
		for id, data := range rec.got {
			if e, ok := data.(*events.ProjectEdited); !ok || e.Title == "" {
				t.Errorf("%s: %s was handed %#v", rec.name, id, data)
			}
		}
	}
	alone := events.Commit{StreamID: "alone", StreamType: events.StreamProject, FirstVersion: 1,
		Events: []events.Envelope{{ID: "e-alone", StreamID: "alone", StreamType: events.StreamProject, Version: 1,
			Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: "alone"}}}}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	if err := cs[0].Deliver(dctx, alone); err != nil {
		t.Fatal(err)
	}
	if e, ok := recs[0].got[alone.ID()].(*events.ProjectEdited); !ok || e.Title != "alone" {
		t.Errorf("the delivered commit was handed as %#v", recs[0].got[alone.ID()])
	}
	shared.mu.Lock()
	held := shared.held.Len()
	shared.mu.Unlock()
	if held != 0 {
		t.Errorf("%d decoded commits held after every consumer took them, want none", held)
	}
}
