package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// youngLog writes n entries listed just now, each of 1 to 4 commits (a
// stream's next commit, of one of a few dozen streams named prefix0,
// prefix1, ...), all stored, and returns the entries' commits.
func youngLog(t *testing.T, rng *rand.Rand, log *outbox.CommitLog, stored memLoader, prefix string, n int) [][]events.Commit {
	t.Helper()
	heads := map[string]int64{}
	entries := make([][]events.Commit, n)
	for i := range entries {
		var ids []string
		for range 1 + rng.IntN(4) {
			s := fmt.Sprint(prefix, rng.IntN(40))
			if slices.ContainsFunc(entries[i], func(c events.Commit) bool { return c.StreamID == s }) {
				continue // a group holds one commit of a stream
			}
			heads[s]++
			c := events.Commit{StreamID: s, StreamType: events.StreamProject, FirstVersion: heads[s],
				Events: []events.Envelope{{StreamID: s, Version: heads[s], Type: "ProjectEdited", Data: &events.ProjectEdited{}}}}
			stored[c.ID()] = c
			entries[i] = append(entries[i], c)
			ids = append(ids, c.ID())
		}
		if _, err := log.Append(context.Background(), ids, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return entries
}

// TestCatchUpPassesWhatItAppliedAtOnce: the checkpoints pass the entries
// this process has applied all of as soon as a sweep reads them, however
// young, so that a process killed a moment later leaves the next one only
// what the bus had not applied yet to apply again, not the last MinAge's
// worth of commits (every one of which it once delivered again, one at a
// time: seconds of an import's commits kept a restarted service unready
// for many seconds more).
func TestCatchUpPassesWhatItAppliedAtOnce(t *testing.T) {
	forSeeds(t, 4, 71, func(t *testing.T, rng *rand.Rand) {
		ctx := context.Background()
		db := newDB(t)
		log := outbox.NewCommitLog(db)
		stored := memLoader{}
		n := 20 + rng.IntN(60)
		entries := youngLog(t, rng, log, stored, "s", n)
		// The bus applied the first k entries for both projections, and
		// a few commits after them (in flight, done out of order) for one.
		k := rng.IntN(n)
		applied := map[string]bool{}
		for i, e := range entries {
			for _, c := range e {
				for _, p := range []string{"p1", "p2"} {
					if i < k || (p == "p1" && i > k && rng.IntN(2) == 0) {
						applied[p+" "+c.ID()] = true
					}
				}
			}
		}
		deliveries := map[string][]string{}
		var mu sync.Mutex
		deliver := func(name string) func(context.Context, events.Commit) error {
			return func(_ context.Context, c events.Commit) error {
				mu.Lock()
				defer mu.Unlock()
				deliveries[name] = append(deliveries[name], c.ID())
				return nil
			}
		}
		targets := []outbox.CatchUpTarget{{Name: "p1", Deliver: deliver("p1")}, {Name: "p2", Deliver: deliver("p2")}}
		live := &outbox.CatchUp{Log: log, Commits: stored, Logger: quiet, GiveUp: time.Minute, MinAge: time.Hour, Batch: 1000,
			Targets: targets, Applied: func(p, stream string, v int64) bool {
				return applied[p+" "+events.CommitID(stream, v)]
			}}
		if _, err := live.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if len(deliveries) > 0 {
			t.Fatalf("a sweep delivered %v, all young: the bus's", deliveries)
		}
		for _, p := range []string{"p1", "p2"} {
			if behind, err := live.Behind(ctx, p); err != nil || behind != int64(n-k) {
				t.Fatalf("%s is %d entries behind (%v) after a sweep, with the first %d of %d applied; want %d", p, behind, err, k, n, n-k)
			}
		}

		// Killed: the next process knows nothing of what this one applied.
		awaited, err := log.Tail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		next := &outbox.CatchUp{Log: log, Commits: stored, Logger: quiet, GiveUp: time.Minute, MinAge: time.Hour, Batch: 1000,
			Settled: time.Now(), Awaited: awaited, AwaitFor: time.Minute, Targets: targets}
		got, err := next.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, e := range entries[k:] {
			for _, c := range e {
				want = append(want, c.ID())
			}
		}
		slices.Sort(want)
		for _, p := range []string{"p1", "p2"} {
			if slices.Sort(deliveries[p]); !slices.Equal(deliveries[p], want) {
				t.Errorf("after the restart %s was delivered %d commits %v; want the %d of the entries the bus had not applied all of, %v",
					p, len(deliveries[p]), deliveries[p], len(want), want)
			}
		}
		if got != 2*len(want) || !next.Current() {
			t.Fatalf("the restarted sweep applied %d commits, current %v; want %d, current", got, next.Current(), 2*len(want))
		}
	})
}

// TestCatchUpDeliversStreamsAtOnce: until it has applied the backlog from
// before the start, a sweep hands different streams' commits, to each
// projection, to up to Workers deliveries at once, as the bus does, and a
// stream's to each projection one after the other in the log's order; it
// loads each commit once, whichever projections lack it. Once current,
// it goes one commit at a time, leaving the store to the live traffic.
func TestCatchUpDeliversStreamsAtOnce(t *testing.T) {
	forSeeds(t, 3, 5, func(t *testing.T, rng *rand.Rand) {
		ctx := context.Background()
		db := newDB(t)
		log := outbox.NewCommitLog(db)
		stored := memLoader{}
		entries := youngLog(t, rng, log, stored, "s", 30+rng.IntN(40))
		awaited, err := log.Tail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		workers := 2 + rng.IntN(7)

		var mu sync.Mutex
		inFlight, peak := 0, 0
		full := make(chan struct{}) // closed once workers deliveries are under way together
		var once sync.Once
		hold := func() {
			select {
			case <-full:
			case <-time.After(5 * time.Second): // one at a time: it never fills
				once.Do(func() { close(full) })
			}
		}
		got := map[string][]string{} // projection and stream -> commits delivered, in order
		deliver := func(name string) func(context.Context, events.Commit) error {
			return func(_ context.Context, c events.Commit) error {
				mu.Lock()
				inFlight++
				peak = max(peak, inFlight)
				if inFlight == workers {
					once.Do(func() { close(full) })
				}
				got[name+" "+c.StreamID] = append(got[name+" "+c.StreamID], c.ID())
				mu.Unlock()
				hold()
				mu.Lock()
				inFlight--
				mu.Unlock()
				return nil
			}
		}
		var loads atomic.Int64
		cu := &outbox.CatchUp{Log: log, Commits: loaderFunc(func(ctx context.Context, id string) (events.Commit, bool, error) {
			loads.Add(1)
			return stored.LoadCommit(ctx, id)
		}), Logger: quiet, GiveUp: time.Minute, Settled: time.Now(), Awaited: awaited, Batch: 1000, Workers: workers,
			Targets: []outbox.CatchUpTarget{{Name: "p1", Deliver: deliver("p1")}, {Name: "p2", Deliver: deliver("p2")}}}
		applied, err := cu.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if peak != workers {
			t.Fatalf("at most %d deliveries under way at once, with %d workers", peak, workers)
		}
		want := map[string][]string{}
		for _, e := range entries {
			for _, c := range e {
				for _, p := range []string{"p1", "p2"} {
					want[p+" "+c.StreamID] = append(want[p+" "+c.StreamID], c.ID())
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("delivered by projection and stream %v; want each stream's commits once, in order, %v", got, want)
		}
		if n := int64(len(stored)); loads.Load() != n || applied != 2*len(stored) {
			t.Fatalf("loaded %d commits and applied %d for 2 projections; want %d loads, %d applied", loads.Load(), applied, n, 2*n)
		}
		if !cu.Current() {
			t.Fatal("not current after a sweep that applied everything from before the start")
		}

		// Current: what the bus lost afterwards, one at a time.
		later := youngLog(t, rng, log, stored, "t", 5+rng.IntN(10))
		peak = 0
		hold = func() { time.Sleep(2 * time.Millisecond) }
		if applied, err := cu.Sweep(ctx); err != nil || applied != 2*len(slices.Concat(later...)) {
			t.Fatalf("a sweep once current applied %d commits (%v), want %d", applied, err, 2*len(slices.Concat(later...)))
		}
		if peak != 1 {
			t.Fatalf("once current, %d deliveries under way at once", peak)
		}

		// Current, but the bus delivers nothing (Pub/Sub out of reach):
		// a backlog goes Workers at once again.
		var backlog []events.Commit
		for len(backlog) < outbox.HurryFrom {
			backlog = append(backlog, slices.Concat(youngLog(t, rng, log, stored, "u", 20)...)...)
		}
		mu.Lock()
		peak, full, once = 0, make(chan struct{}), sync.Once{}
		hold = func() {
			select {
			case <-full:
			case <-time.After(5 * time.Second):
				once.Do(func() { close(full) })
			}
		}
		mu.Unlock()
		if applied, err := cu.Sweep(ctx); err != nil || applied != 2*len(backlog) {
			t.Fatalf("a sweep of a backlog of %d applied %d commits (%v), want %d", len(backlog), applied, err, 2*len(backlog))
		}
		if peak != workers {
			t.Fatalf("a backlog of %d commits went %d at once, with %d workers", len(backlog), peak, workers)
		}
	})
}

// TestCatchUpSweepEndsInTime: a sweep starts no load once its time
// (SweepFor) is up, so that it ends while its lease holds (delivering what
// it loaded), and says there is more; the checkpoints pass nothing it did
// not apply, so the sweeps after it apply the rest: every commit reaches
// every projection, each stream's for the first time in order, whatever
// moment the time ran out at.
func TestCatchUpSweepEndsInTime(t *testing.T) {
	forSeeds(t, 4, 9, func(t *testing.T, rng *rand.Rand) {
		ctx := context.Background()
		db := newDB(t)
		log := outbox.NewCommitLog(db)
		stored := memLoader{}
		entries := youngLog(t, rng, log, stored, "s", 40+rng.IntN(30))
		var slow time.Duration // each load and delivery: set below, once bound is
		var mu sync.Mutex
		got := map[string][]int64{} // projection and stream -> versions, as delivered
		deliver := func(name string) func(context.Context, []events.Commit) []error {
			return func(_ context.Context, cs []events.Commit) []error {
				for _, c := range cs {
					time.Sleep(slow)
					mu.Lock()
					got[name+" "+c.StreamID] = append(got[name+" "+c.StreamID], c.FirstVersion)
					mu.Unlock()
				}
				return make([]error, len(cs))
			}
		}
		// Well above a sweep's own reads of the log (timed here: they take
		// ten times as long under the race detector), and below the loads'.
		read := time.Now()
		if _, err := log.ReadWhile(ctx, 1, 1000, func(outbox.LogEntry) bool { return true }); err != nil {
			t.Fatal(err)
		}
		bound := 3*time.Since(read) + time.Duration(60+rng.IntN(90))*time.Millisecond
		workers := 1 + rng.IntN(2)
		slow = max(4*time.Millisecond, 2*bound*time.Duration(workers)/time.Duration(len(stored))) // the loads alone take twice the bound
		load := loaderFunc(func(ctx context.Context, id string) (events.Commit, bool, error) {
			time.Sleep(slow)
			return stored.LoadCommit(ctx, id)
		})
		cu := &outbox.CatchUp{Log: log, Commits: load, Logger: quiet, GiveUp: time.Minute, Settled: time.Now(), Batch: 1000,
			Workers: workers, SweepFor: bound,
			Targets: []outbox.CatchUpTarget{{Name: "p1", DeliverAll: deliver("p1")}, {Name: "p2", DeliverAll: deliver("p2")}}}
		sweeps, cut := 0, 0
		for {
			start := time.Now()
			applied, more, err := outbox.SweepMore(ctx, cu)
			if err != nil {
				t.Fatal(err)
			}
			// What was loaded before the time was up is delivered: at most
			// as long again for each of the two projections.
			if took := time.Since(start); took > 3*bound+10*slow+time.Second {
				t.Fatalf("a sweep bound to %v took %v", bound, took)
			}
			sweeps++
			if more {
				cut++
			}
			if applied == 0 && !more {
				break
			}
			if sweeps > len(stored)+10 { // each applies one commit at least
				t.Fatalf("%d sweeps for %d commits: a sweep got nowhere", sweeps, len(stored))
			}
		}
		if cut == 0 {
			t.Fatalf("no sweep ran out of time (bound %v, %d commits %v each)", bound, len(stored), slow)
		}
		want := map[string][]int64{}
		for _, e := range entries {
			for _, c := range e {
				for _, p := range []string{"p1", "p2"} {
					want[p+" "+c.StreamID] = append(want[p+" "+c.StreamID], c.FirstVersion)
				}
			}
		}
		for key, vs := range want {
			var first []int64 // each version's first delivery
			for _, v := range got[key] {
				if !slices.Contains(first, v) {
					first = append(first, v)
				}
			}
			if !slices.Equal(first, vs) {
				t.Fatalf("%s: first delivered %v (all: %v), want %v", key, first, got[key], vs)
			}
		}
		t.Logf("%d sweeps, %d cut short, bound %v, %d commits", sweeps, cut, bound, len(stored))
	})
}

// forSeeds runs fn as a subtest for each of n seeds, with a generator of
// that seed (and salt).
func forSeeds(t *testing.T, n, salt uint64, fn func(t *testing.T, rng *rand.Rand)) {
	for seed := range n {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { fn(t, rand.New(rand.NewPCG(seed, salt))) })
	}
}

// loaderFunc is a CommitLoader of a function.
type loaderFunc func(ctx context.Context, id string) (events.Commit, bool, error)

func (f loaderFunc) LoadCommit(ctx context.Context, id string) (events.Commit, bool, error) {
	return f(ctx, id)
}
