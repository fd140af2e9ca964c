package bus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// TestLocalWaitsForEveryAck: Publish returns once both subscribers acked; a
// nacked copy is delivered again.
func TestLocalWaitsForEveryAck(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, _ := l.Subscribe(ctx, "t")
	b, _ := l.Subscribe(ctx, "t")
	var acked atomic.Int32
	go func() {
		m := <-a
		time.Sleep(50 * time.Millisecond)
		acked.Add(1)
		m.Ack()
	}()
	go func() {
		m := <-b
		m.Nack() // delivered again
		m = <-b
		acked.Add(1)
		m.Ack()
	}()
	start := time.Now()
	if err := l.Publish("t", message.NewMessage("1", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != 2 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("Publish returned after %s with %d acks", time.Since(start), acked.Load())
	}
}

// TestLocalPublishersDoNotQueue: a slow message does not hold up another
// publisher's message (the subscriber handles them concurrently).
func TestLocalPublishersDoNotQueue(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := l.Subscribe(ctx, "t")
	go func() {
		for m := range ch {
			go func() {
				if string(m.Payload) == "slow" {
					time.Sleep(300 * time.Millisecond)
				}
				m.Ack()
			}()
		}
	}()
	go l.Publish("t", message.NewMessage("1", []byte("slow")))
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	if err := l.Publish("t", message.NewMessage("2", []byte("fast"))); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Fatalf("a fast message waited %s behind a slow one", d)
	}
}

// TestLocalUnsubscribe: a cancelled subscription is closed and no longer waited for.
func TestLocalUnsubscribe(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := l.Subscribe(ctx, "t")
	cancel()
	if _, open := <-ch; open {
		t.Fatal("the channel of a cancelled subscription is open")
	}
	done := make(chan error)
	go func() { done <- l.Publish("t", message.NewMessage("1", nil)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("Publish waited for a cancelled subscriber")
	}
	l.Close()
	if err := l.Publish("t", message.NewMessage("2", nil)); err != ErrClosed {
		t.Fatalf("publish after Close: %v", err)
	}
}

// TestLocalFullQueueHoldsUpNoOther: a subscriber whose queue is full gets
// the message once it has room, and meanwhile the others get it at once;
// Publish returns when every subscriber acked.
func TestLocalFullQueueHoldsUpNoOther(t *testing.T) {
	l := NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	full, _ := l.Subscribe(ctx, "t")
	other, _ := l.Subscribe(ctx, "t")
	// Fill full's queue (and drain other's copies) with acked messages
	// nobody waits for: a publisher per message, each held until full
	// reads its copy.
	queue := cap(full)
	for i := range queue {
		go l.Publish("t", message.NewMessage(fmt.Sprint("fill", i), nil))
	}
	for range queue {
		(<-other).Ack()
	}
	for len(full) < queue {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- l.Publish("t", message.NewMessage("last", []byte("x"))) }()
	select {
	case m := <-other:
		if m.UUID != "last" {
			t.Fatalf("the other subscriber got %s", m.UUID)
		}
		m.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("a subscriber with room waited for one whose queue is full")
	}
	select {
	case err := <-done:
		t.Fatalf("Publish returned (%v) before the full subscriber had the message", err)
	case <-time.After(20 * time.Millisecond):
	}
	var got []string
	for len(got) <= queue {
		m := <-full
		got = append(got, m.UUID)
		m.Ack()
	}
	if got[queue] != "last" {
		t.Fatalf("the full subscriber's last message is %s", got[queue])
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Publish did not return once every subscriber acked")
	}
}
