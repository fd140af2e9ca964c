package bus

import (
	"context"
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
