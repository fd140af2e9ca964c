package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
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

// orderRecorder is a projection that checks each stream's commits come one
// at a time and in order, and counts them.
type orderRecorder struct {
	mu      sync.Mutex
	last    map[string]int64
	busy    map[string]bool
	handled int
	wrong   []string
}

func (p *orderRecorder) Name() string { return "order" }

func (p *orderRecorder) Handle(_ context.Context, c events.Commit) error {
	p.mu.Lock()
	if p.busy[c.StreamID] {
		p.wrong = append(p.wrong, fmt.Sprintf("%s handled twice at once", c.ID()))
	}
	if want := p.last[c.StreamID] + 1; c.FirstVersion != want {
		p.wrong = append(p.wrong, fmt.Sprintf("%s came when %d was due", c.ID(), want))
	}
	p.busy[c.StreamID] = true
	p.mu.Unlock()
	if rand.IntN(4) == 0 {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[c.StreamID] = false
	p.last[c.StreamID] = c.FirstVersion
	p.handled++
	return nil
}

// TestConsumerWorkersComeAndGo: a worker runs only while its queue has
// work, stopping after WorkerIdle without any, and starting again with the
// next message; however the messages fall around those moments (sent in
// bursts with pauses near workerIdle, from the transport and through
// Deliver at once), each stream's commits are handled one at a time, in
// order, every message is acked, and once all is quiet no worker runs.
func TestConsumerWorkersComeAndGo(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 5))
	workerIdle := time.Duration(100+rng.IntN(2000)) * time.Microsecond
	reg := events.NewRegistry(events.All()...)
	ch := make(chan *message.Message, 256)
	p := &orderRecorder{last: map[string]int64{}, busy: map[string]bool{}}
	c := &Consumer{Sub: stuckSubscriber{ch: ch}, Topic: Topic, Registry: reg, Projection: p, MaxAttempts: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 1 + rng.IntN(8), WorkerIdle: workerIdle}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	commit := func(stream string, v int64) events.Commit {
		return events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: v,
			Events: []events.Envelope{{ID: fmt.Sprint(stream, v), StreamID: stream, StreamType: events.StreamProject,
				Version: v, Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: "t"}}}}
	}
	pause := func(r *rand.Rand) {
		if r.IntN(8) == 0 { // near the moment an idle worker stops
			time.Sleep(workerIdle*time.Duration(r.IntN(3)) + time.Duration(r.IntN(300))*time.Microsecond)
		}
	}
	var sent []*message.Message
	var mu sync.Mutex
	var wg sync.WaitGroup
	const perStream = 40
	for g := range 6 { // each sender its own streams, in order
		r := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			streams := 1 + r.IntN(6)
			for v := int64(1); v <= perStream; v++ {
				for s := range streams {
					cm := commit(fmt.Sprintf("g%d-s%d", g, s), v)
					if g%2 == 0 { // through the transport, not waiting
						payload, err := events.MarshalCommit(cm)
						if err != nil {
							t.Error(err)
							return
						}
						msg := message.NewMessage(cm.ID(), payload)
						msg.Metadata.Set(MetaStreamID, cm.StreamID)
						mu.Lock()
						sent = append(sent, msg)
						mu.Unlock()
						ch <- msg
					} else if err := deliverWithin(ctx, c, cm); err != nil { // as the catch-up does
						t.Errorf("seed %d (idle %v, %d workers): %v", seed, workerIdle, c.Workers, err)
						return
					}
					pause(r)
				}
			}
		})
	}
	wg.Wait()
	for _, msg := range sent {
		select {
		case <-msg.Acked():
		case <-time.After(10 * time.Second):
			t.Fatalf("seed %d: message %s never acked (idle %v, %d workers)", seed, msg.UUID, workerIdle, c.Workers)
		}
	}
	p.mu.Lock()
	if len(p.wrong) > 0 {
		t.Errorf("seed %d (idle %v, %d workers): %v", seed, workerIdle, c.Workers, p.wrong[:min(len(p.wrong), 5)])
	}
	for stream, v := range p.last {
		if v != perStream {
			t.Errorf("seed %d: %s handled up to %d of %d", seed, stream, v, perStream)
		}
	}
	p.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); c.running() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("seed %d: %d workers still run, idle for 10 s", seed, c.running())
		}
	}
}

// deliverWithin is c.Deliver(cm), failing if it is not acked within 10 s.
func deliverWithin(ctx context.Context, c *Consumer, cm events.Commit) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Deliver(ctx, cm); err != nil {
		return fmt.Errorf("deliver %s: %w", cm.ID(), err)
	}
	return nil
}

// running is how many of c's workers run.
func (c *Consumer) running() int {
	c.qmu.RLock()
	defer c.qmu.RUnlock()
	n := 0
	for _, q := range c.queues {
		q.mu.Lock()
		if q.running {
			n++
		}
		q.mu.Unlock()
	}
	return n
}

// TestConsumerIdleWorkersStopSoon: with the default WorkerIdle, the
// workers a burst of commits started (as a load's writes start them before
// its clients read) stop within a few seconds of their last commit rather
// than holding their stacks through the reads; a later burst starts others
// and is handled in order, and they stop too.
func TestConsumerIdleWorkersStopSoon(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 7))
	reg := events.NewRegistry(events.All()...)
	ch := make(chan *message.Message, 256)
	p := &orderRecorder{last: map[string]int64{}, busy: map[string]bool{}}
	c := &Consumer{Sub: stuckSubscriber{ch: ch}, Topic: Topic, Registry: reg, Projection: p, MaxAttempts: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Workers: 64}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	streams := 64 + rng.IntN(200)
	for burst := int64(1); burst <= 2; burst++ {
		var sent []*message.Message
		for s := range streams {
			cm := events.Commit{StreamID: fmt.Sprint("s", s), StreamType: events.StreamProject, FirstVersion: burst,
				Events: []events.Envelope{{ID: fmt.Sprint(s, "-", burst), StreamID: fmt.Sprint("s", s), StreamType: events.StreamProject,
					Version: burst, Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: "t"}}}}
			payload, err := events.MarshalCommit(cm)
			if err != nil {
				t.Fatal(err)
			}
			msg := message.NewMessage(cm.ID(), payload)
			msg.Metadata.Set(MetaStreamID, cm.StreamID)
			sent = append(sent, msg)
			ch <- msg
		}
		for _, msg := range sent {
			select {
			case <-msg.Acked():
			case <-time.After(10 * time.Second):
				t.Fatalf("seed %d: message %s never acked", seed, msg.UUID)
			}
		}
		if n := c.running(); n == 0 {
			t.Fatalf("seed %d, burst %d: no worker runs right after %d streams' commits", seed, burst, streams)
		}
		acked := time.Now()
		for c.running() > 0 {
			if time.Since(acked) > 3*time.Second {
				t.Fatalf("seed %d, burst %d: %d workers still run 3 s after their last commit (DefaultWorkerIdle %v)",
					seed, burst, c.running(), DefaultWorkerIdle)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("seed %d, burst %d: %d streams, every worker stopped %v after the last ack", seed, burst, streams, time.Since(acked).Round(time.Millisecond))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.wrong) > 0 {
		t.Errorf("seed %d: %v", seed, p.wrong[:min(len(p.wrong), 5)])
	}
	for stream, v := range p.last {
		if v != 2 {
			t.Errorf("seed %d: %s handled up to %d of 2", seed, stream, v)
		}
	}
}
