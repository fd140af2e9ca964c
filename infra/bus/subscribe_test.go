package bus

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/capstone-pms/capstone/events"
)

// downSubscriber is a transport out of reach for its first fails tries to
// subscribe, then one that delivers what is sent on ch.
type downSubscriber struct {
	ch chan *message.Message

	mu    sync.Mutex
	fails int
	tries int
}

func (s *downSubscriber) Subscribe(context.Context, string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.tries <= s.fails {
		return nil, errors.New("connection refused")
	}
	return s.ch, nil
}
func (s *downSubscriber) Close() error { return nil }

// TestConsumerKeepsTryingToSubscribe: a KeepTrying consumer whose transport
// is out of reach starts at once without its subscription, applies what it
// is handed meanwhile (the catch-up), tries again with a bounded delay,
// logs the first failure and no more within RetryLogEvery, and once the
// transport answers it is subscribed and receives. Without KeepTrying the
// same failure fails Start.
func TestConsumerKeepsTryingToSubscribe(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	commit := func(stream string, v int64) events.Commit {
		return events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: v,
			Events: []events.Envelope{{ID: stream + "-" + string(rune('0'+v)), StreamID: stream, StreamType: events.StreamProject,
				Version: v, Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: "t"}}}}
	}
	var logs strings.Builder
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(b)
	}), nil))
	sub := &downSubscriber{ch: make(chan *message.Message, 1), fails: 6}
	p := &streamRecorder{}
	c := &Consumer{Sub: sub, Topic: Topic, Registry: reg, Projection: p, Log: log, Workers: 2,
		KeepTrying: true, RetryAtMost: 20 * time.Millisecond, RetryLogEvery: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); c.Wait() }()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start with the transport out of reach: %v", err)
	}
	if c.Subscribed() {
		t.Fatal("subscribed while the transport is out of reach")
	}
	if err := deliverWithin(ctx, c, commit("s", 1)); err != nil {
		t.Fatalf("the catch-up's delivery while unsubscribed: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); !c.Subscribed(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not subscribed 5 s after the transport answers")
		}
	}
	payload, err := events.MarshalCommit(commit("s", 2))
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage("m", payload)
	msg.Metadata.Set(MetaStreamID, "s")
	sub.ch <- msg
	select {
	case <-msg.Acked():
	case <-time.After(5 * time.Second):
		t.Fatal("a message received after subscribing was never acked")
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "cannot subscribe to the bus"); n != 1 {
		t.Errorf("%d warnings for %d failed tries within RetryLogEvery, want 1:\n%s", n, sub.fails, out)
	}
	if !strings.Contains(out, "subscribed to the bus") || !strings.Contains(out, "tries=7") {
		t.Errorf("no note of the subscription after 7 tries:\n%s", out)
	}

	strict := &Consumer{Sub: &downSubscriber{fails: 1}, Topic: Topic, Registry: reg, Projection: p, Log: log}
	if err := strict.Start(ctx); err == nil {
		t.Error("Start without KeepTrying succeeded with the transport out of reach")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
