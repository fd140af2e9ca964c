package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/capstone-pms/capstone/events"
)

// streamRecorder is a StreamProjection that records how it was called.
type streamRecorder struct {
	failBatch bool

	mu      sync.Mutex
	batches [][]string // commit ids per HandleStream call
	singles []string
}

func (p *streamRecorder) Name() string { return "recorder" }

func (p *streamRecorder) Handle(_ context.Context, c events.Commit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.singles = append(p.singles, c.ID())
	return nil
}

func (p *streamRecorder) HandleStream(_ context.Context, cs []events.Commit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failBatch {
		return errors.New("the batch failed")
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID())
	}
	p.batches = append(p.batches, ids)
	return nil
}

// TestConsumerCoalescesAStream: of the messages a worker takes at once, a
// stream's commits are handed over together and every commit is observed
// and acked once; a commit that cannot be decoded is reported alone; when
// a batch fails, each of its commits is handled alone.
func TestConsumerCoalescesAStream(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	commit := func(stream string, v int64) events.Commit {
		return events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: v,
			Events: []events.Envelope{{ID: fmt.Sprint(stream, v), StreamID: stream, StreamType: events.StreamProject,
				Version: v, Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: "t"}}}}
	}
	for _, failBatch := range []bool{false, true} {
		t.Run(fmt.Sprint("failBatch=", failBatch), func(t *testing.T) {
			p := &streamRecorder{failBatch: failBatch}
			observed := map[string]int{}
			failed := 0
			c := &Consumer{Registry: reg, Projection: p, MaxAttempts: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Observe: func(_ string, cm events.Commit, err error) {
					if err != nil {
						failed++
						return
					}
					observed[cm.ID()]++
				}}
			commits := []events.Commit{commit("s", 1), commit("t", 1), commit("s", 2), commit("s", 3)}
			var msgs []*message.Message
			for _, cm := range commits {
				payload, err := events.MarshalCommit(cm)
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, message.NewMessage(cm.ID(), payload))
			}
			garbage := message.NewMessage("garbage", []byte("{not a commit"))
			msgs = append(msgs, garbage)

			c.handleBatch(context.Background(), msgs)

			for _, m := range msgs {
				select {
				case <-m.Acked():
				default:
					t.Errorf("message %s not acked", m.UUID)
				}
			}
			for _, cm := range commits {
				if observed[cm.ID()] != 1 {
					t.Errorf("%s observed %d times, want 1", cm.ID(), observed[cm.ID()])
				}
			}
			if failed != 1 {
				t.Errorf("%d failures observed, want 1 (the undecodable message)", failed)
			}
			want := [][]string{{"s:000000000001", "s:000000000002", "s:000000000003"}}
			singles := []string{"t:000000000001"}
			if failBatch {
				want, singles = nil, []string{"s:000000000001", "s:000000000002", "s:000000000003", "t:000000000001"}
			}
			slices.Sort(p.singles)
			if fmt.Sprint(p.batches) != fmt.Sprint(want) || !slices.Equal(p.singles, singles) {
				t.Errorf("batches %v, singles %v; want %v and %v", p.batches, p.singles, want, singles)
			}
		})
	}
}

// stuckSubscriber is a transport that never closes its channel, as a
// Pub/Sub subscriber retrying a server that went away.
type stuckSubscriber struct{ ch chan *message.Message }

func (s stuckSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	return s.ch, nil
}
func (s stuckSubscriber) Close() error { return nil }

// TestConsumerStopsOnAStuckTransport: once its context ends, a consumer
// stops within moments even though the transport never closes its channel.
func TestConsumerStopsOnAStuckTransport(t *testing.T) {
	c := &Consumer{Sub: stuckSubscriber{ch: make(chan *message.Message)}, Topic: Topic, Projection: &streamRecorder{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 2}
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait still blocked 5 s after the context ended")
	}
}
