package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGateBoundsAndQueues: at most slots run; up to maxWaiting per priority
// wait; the rest are refused at once; priority waiters go first.
func TestGateBoundsAndQueues(t *testing.T) {
	g := NewGate(2, 3, time.Hour)
	ctx := context.Background()
	var releases []func()
	for range 2 {
		rel, ok := g.Enter(ctx, false)
		if !ok {
			t.Fatal("a free slot was refused")
		}
		releases = append(releases, rel)
	}
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	enter := func(name string, priority bool) {
		defer wg.Done()
		rel, ok := g.Enter(ctx, priority)
		if !ok {
			t.Errorf("%s was refused", name)
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		rel()
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		wg.Add(1)
		go enter(n, false)
	}
	waitFor(t, func() bool { _, w := g.InUse(); return w == 3 })
	wg.Add(1)
	go enter("p1", true)
	waitFor(t, func() bool { _, w := g.InUse(); return w == 4 })
	start := time.Now()
	if _, ok := g.Enter(ctx, false); ok {
		t.Fatal("a fourth normal waiter was queued")
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("the refusal took %v, want at once", d)
	}
	releases[0]()
	wg.Wait() // n1..n3 and p1 all ran on the one slot freed
	if order[0] != "p1" {
		t.Fatalf("order %v, want the priority waiter first", order)
	}
	releases[1]()
	if running, waiting := g.InUse(); running != 0 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d after all released", running, waiting)
	}
}

// TestGateWaitIsBounded: a waiter gives up after maxWait or when its
// context ends, and leaves no slot behind.
func TestGateWaitIsBounded(t *testing.T) {
	g := NewGate(1, 10, 50*time.Millisecond)
	rel, _ := g.Enter(context.Background(), false)
	start := time.Now()
	if _, ok := g.Enter(context.Background(), false); ok {
		t.Fatal("got a slot that was taken")
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("gave up after %v, want about 50ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := g.Enter(ctx, true); ok {
		t.Fatal("an ended context got a slot")
	}
	rel()
	if running, waiting := g.InUse(); running != 0 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d", running, waiting)
	}
}

// TestGateConcurrent: under contention never more than slots run at once,
// and every slot comes back.
func TestGateConcurrent(t *testing.T) {
	g := NewGate(3, 5, 20*time.Millisecond)
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, ok := g.Enter(context.Background(), i%3 == 0)
			if !ok {
				return
			}
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			rel()
		}()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("%d ran at once, want at most 3", peak.Load())
	}
	if r, w := g.InUse(); r != 0 || w != 0 {
		t.Fatalf("in use %d, waiting %d after all done", r, w)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
