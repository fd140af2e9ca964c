// Package memlimit keeps the Go runtime's soft memory limit at a floor
// while the live heap is small, and half as much again as the live heap
// once it is not. With GOGC=100 alone a process may hold twice its live
// heap between collections: the all-in-one service held 220 to 260 MiB
// through a 5,000-student cohort's allocation with a live heap of about 60.
// A fixed limit near what it needs (GOMEMLIMIT=96MiB) kept it at 151 MiB
// but doubled the allocation's time, as the collector ran back to back
// whenever the live heap came near the limit. Following the live heap
// keeps a collection's worth of room above it, so a process under the
// floor collects as GOGC says until it nears the floor, and one above it
// collects after allocating half its live heap: at most about twice as
// often as GOGC=100, never in a loop.
//
// It also sets the collector's target (GOGC) for a process that collects
// often to stay small while it serves, and less often while bulk work runs
// (TuneGC, Busy).
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Limit is the soft memory limit for a live heap of live bytes: the floor,
// or the live heap and half as much again, whichever is more.
func Limit(floor, live int64) int64 {
	if live > math.MaxInt64/3*2 {
		return math.MaxInt64
	}
	return max(floor, live+live/2)
}

// liveHeap is the runtime's metric of the heap the last collection found
// live.
const liveHeap = "/gc/heap/live:bytes"

// Follow sets the soft memory limit to Limit(floor, live heap) now and
// every interval until ctx ends, then puts back the limit it found.
func Follow(ctx context.Context, floor int64, every time.Duration) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	sample := []metrics.Sample{{Name: liveHeap}}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(Limit(floor, int64(min(sample[0].Value.Uint64(), math.MaxInt64))))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// gc is the collector's targets TuneGC set, and how many bulk works run
// (Busy).
var gc struct {
	sync.Mutex
	idle, busy int
	tuned      bool
	running    int
}

// TuneGC sets the collector's target (GOGC) to idle, and to busy while
// bulk work runs (Busy). Until it is called, Busy changes nothing: a
// process whose GOGC is its operator's, or a test's, keeps it.
func TuneGC(idle, busy int) {
	gc.Lock()
	defer gc.Unlock()
	gc.idle, gc.busy, gc.tuned = idle, busy, true
	if gc.running > 0 {
		debug.SetGCPercent(busy)
	} else {
		debug.SetGCPercent(idle)
	}
}

// Busy marks bulk work (a file's import) as running until the function it
// returns is called: meanwhile the collector's target is TuneGC's busy
// one. A process that collects often to stay small while it serves reads
// so spends less of its CPU collecting through an import, whose memory
// the soft limit still bounds (Follow).
func Busy() (done func()) {
	gc.Lock()
	defer gc.Unlock()
	if gc.running++; gc.running == 1 && gc.tuned {
		debug.SetGCPercent(gc.busy)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			gc.Lock()
			defer gc.Unlock()
			if gc.running--; gc.running == 0 && gc.tuned {
				debug.SetGCPercent(gc.idle)
			}
		})
	}
}
