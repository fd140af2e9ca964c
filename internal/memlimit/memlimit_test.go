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

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestBusy: in any order of bulk works starting and ending, the target is
// the busy one exactly while one runs, ending a work twice ends it once,
// and before TuneGC nothing changes it.
func TestBusy(t *testing.T) {
	before := gcPercent()
	defer debug.SetGCPercent(before)
	defer func() { gc.idle, gc.busy, gc.tuned, gc.running = 0, 0, false, 0 }()

	debug.SetGCPercent(77)
	end := Busy()
	if p := gcPercent(); p != 77 {
		t.Fatalf("Busy before TuneGC set the target to %d", p)
	}
	end()
	end()
	if gc.running != 0 {
		t.Fatalf("%d works counted after the only one ended twice", gc.running)
	}

	for round := range 200 {
		idle, busy := 10+rand.IntN(100), 150+rand.IntN(300)
		TuneGC(idle, busy)
		var ends []func()
		for range rand.IntN(40) {
			if len(ends) > 0 && rand.IntN(2) == 0 {
				i := rand.IntN(len(ends))
				ends[i]()
				if rand.IntN(4) == 0 {
					ends[i]() // twice: counted once
				}
				ends = append(ends[:i], ends[i+1:]...)
			} else {
				ends = append(ends, Busy())
			}
			want := idle
			if len(ends) > 0 {
				want = busy
			}
			if p := gcPercent(); p != want {
				t.Fatalf("round %d: %d works running, target %d, want %d", round, len(ends), p, want)
			}
		}
		for _, end := range ends {
			end()
		}
		if p := gcPercent(); p != idle {
			t.Fatalf("round %d: every work ended, target %d, want %d", round, p, idle)
		}
	}
}

// TestBusyAtOnce: works starting and ending on many goroutines leave the
// idle target once all have ended.
func TestBusyAtOnce(t *testing.T) {
	before := gcPercent()
	defer debug.SetGCPercent(before)
	defer func() { gc.idle, gc.busy, gc.tuned, gc.running = 0, 0, false, 0 }()
	TuneGC(50, 200)
	done := make(chan struct{})
	for range 16 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				end := Busy()
				runtime.Gosched()
				end()
			}
		}()
	}
	for range 16 {
		<-done
	}
	if gc.running != 0 {
		t.Fatalf("%d works counted after all ended", gc.running)
	}
	if p := gcPercent(); p != 50 {
		t.Fatalf("every work ended, target %d, want 50", p)
	}
}
