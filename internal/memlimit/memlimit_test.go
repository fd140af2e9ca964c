package memlimit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestLimit: never under the floor nor under one and a half times the
// live heap, and no more than the larger of the two.
func TestLimit(t *testing.T) {
	for range 10000 {
		floor, live := rand.Int64N(1<<40), rand.Int64N(1<<40)
		got := Limit(floor, live)
		if got < floor || got < live+live/2 || (got != floor && got != live+live/2) {
			t.Fatalf("Limit(%d, %d) = %d", floor, live, got)
		}
	}
	if Limit(100, math.MaxInt64) != math.MaxInt64 {
		t.Fatal("a live heap past what the limit can say gives no limit")
	}
}

// TestFollow: the limit follows the live heap up past the floor and back
// down to it, and what was set before is back when Follow ends.
func TestFollow(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	floor := int64(32 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Follow(ctx, floor, 5*time.Millisecond) }()
	waitLimit := func(ok func(int64) bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if l := debug.SetMemoryLimit(-1); ok(l) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("the limit is %d MiB, not %s", l>>20, what)
			}
		}
	}
	waitLimit(func(l int64) bool { return l == floor }, "the floor while the heap is small")

	size := 64<<20 + rand.IntN(64<<20)
	held := make([]byte, size)
	for i := range held {
		held[i] = byte(i)
	}
	runtime.GC()
	waitLimit(func(l int64) bool { return l >= int64(size)*3/2 }, fmt.Sprintf("over one and a half times a live heap of %d MiB", size>>20))
	runtime.KeepAlive(held)
	held = nil
	runtime.GC()
	waitLimit(func(l int64) bool { return l == floor }, "back to the floor once the heap is small again")

	cancel()
	<-done
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Fatalf("the limit is %d after Follow ended, %d before it began", l, before)
	}
}
