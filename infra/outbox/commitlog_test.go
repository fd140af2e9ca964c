package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestCommitLogDense: writers in several processes (separate CommitLogs on
// one store) append concurrently; the log's positions run 1..n without a
// gap or a repeat, every id is in it exactly once, Tail finds n, and a
// writer that starts late finds the end by itself.
func TestCommitLogDense(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	writers := 2 + rand.IntN(3)
	per := 20 + rand.IntN(30)
	var wg sync.WaitGroup
	for w := range writers {
		l := outbox.NewCommitLog(db)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if _, err := l.Append(ctx, []string{fmt.Sprintf("w%d-%d", w, i)}, time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := writers * per
	l := outbox.NewCommitLog(db)
	tail, err := l.Tail(ctx)
	if err != nil || tail != int64(n) {
		t.Fatalf("Tail = %d, %v; want %d", tail, err, n)
	}
	entries, err := l.Read(ctx, 1, n+10)
	if err != nil || len(entries) != n {
		t.Fatalf("Read gave %d entries, %v; want %d", len(entries), err, n)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		if e.Position != int64(i+1) || len(e.CommitIDs) != 1 || seen[e.CommitIDs[0]] {
			t.Fatalf("entry %d: %+v", i, e)
		}
		seen[e.CommitIDs[0]] = true
	}
	late := outbox.NewCommitLog(db)
	if pos, err := late.Append(ctx, []string{"late"}, time.Now()); err != nil || pos != int64(n+1) {
		t.Fatalf("a late writer appended at %d, %v; want %d", pos, err, n+1)
	}
}

// memLoader is an event store holding some commits.
type memLoader map[string]events.Commit

func (m memLoader) LoadCommit(_ context.Context, id string) (events.Commit, bool, error) {
	c, ok := m[id]
	return c, ok, nil
}

// TestCatchUpAppliesWhatTheBusLost: the catch-up hands each projection the
// stored commits of the log that it has not applied (skipping those this
// process applied, and ids never stored once they are old), holds a
// projection's checkpoint at a commit that fails or is not stored yet while
// it goes on with the entries after it, and retries it on the next sweep.
func TestCatchUpAppliesWhatTheBusLost(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	log := outbox.NewCommitLog(db)
	stored := memLoader{}
	commit := func(stream string, v int64) events.Commit {
		return events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: v,
			Events: []events.Envelope{{StreamID: stream, Version: v, Type: "ProjectEdited", Data: &events.ProjectEdited{}}}}
	}
	old := time.Now().Add(-time.Hour)
	a1, a2, b1, d1 := commit("a", 1), commit("a", 2), commit("b", 1), commit("d", 1)
	stored[a1.ID()], stored[a2.ID()], stored[b1.ID()], stored[d1.ID()] = a1, a2, b1, d1
	for _, ids := range [][]string{{a1.ID(), "never:000000000001"}, {a2.ID()}, {b1.ID()}, {d1.ID()}} {
		if _, err := log.Append(ctx, ids, old); err != nil {
			t.Fatal(err)
		}
	}
	young := commit("c", 1) // logged just now, not stored yet: its append is in flight
	if _, err := log.Append(ctx, []string{young.ID()}, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	failB := true
	deliver := func(name string) func(context.Context, events.Commit) error {
		return func(_ context.Context, c events.Commit) error {
			if name == "p2" && c.StreamID == "b" && failB {
				return fmt.Errorf("b fails once")
			}
			got[name] = append(got[name], c.ID())
			return nil
		}
	}
	cu := &outbox.CatchUp{Log: log, Commits: stored, Logger: quiet, GiveUp: time.Minute, Batch: 100,
		Targets: []outbox.CatchUpTarget{{Name: "p1", Deliver: deliver("p1")}, {Name: "p2", Deliver: deliver("p2")}},
		Applied: func(p, stream string, v int64) bool { return p == "p1" && stream == "a" && v == 1 }}
	if _, err := cu.Sweep(ctx); err == nil {
		t.Fatal("a failing delivery was not reported")
	}
	want := func(name string, ids ...string) {
		t.Helper()
		if fmt.Sprint(got[name]) != fmt.Sprint(ids) {
			t.Fatalf("%s got %v, want %v", name, got[name], ids)
		}
	}
	want("p1", a2.ID(), b1.ID(), d1.ID())
	want("p2", a1.ID(), a2.ID(), d1.ID()) // past the commit it failed on, whose position it holds
	for name, behind := range map[string]int64{"p1": 1, "p2": 3} {
		if n, err := cu.Behind(ctx, name); err != nil || n != behind {
			t.Fatalf("%s is %d entries behind, %v; want %d", name, n, err, behind)
		}
	}
	failB = false
	stored[young.ID()] = young
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	want("p1", a2.ID(), b1.ID(), d1.ID(), young.ID())
	want("p2", a1.ID(), a2.ID(), d1.ID(), b1.ID(), d1.ID(), young.ID()) // d1 again, harmlessly: it was past the hold
	if n, _ := cu.Sweep(ctx); n != 0 {
		t.Fatalf("a sweep with nothing new applied %d commits", n)
	}
}

// TestCommitLogTrimmed: readers read the log on while it is trimmed of what
// they have passed, and writers in several processes (some starting late,
// finding the end past the trim) append meanwhile: every entry written is
// read once, Tail finds the end, and the trimmed part is gone. A writer
// whose next position is stale, and so takes a position trimmed away (where
// no reader looks), notices and writes again past it.
func TestCommitLogTrimmed(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	var written sync.Map // id -> position
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := outbox.NewCommitLog(db)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if rand.IntN(20) == 0 {
					l = outbox.NewCommitLog(db) // another process, which finds the end itself
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				pos, err := l.Append(ctx, []string{id}, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				written.Store(id, pos)
			}
		}()
	}
	reader := outbox.NewCommitLog(db)
	read := map[string]int64{}
	var at int64
	readOn := func() {
		for {
			entries, err := reader.Read(ctx, at+1, 50)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) == 0 {
				return
			}
			for _, e := range entries {
				if _, twice := read[e.CommitIDs[0]]; twice || e.Position != at+1 {
					t.Fatalf("entry %+v after position %d (read before: %v)", e, at, twice)
				}
				read[e.CommitIDs[0]], at = e.Position, e.Position
			}
		}
	}
	for range 40 {
		readOn()
		if _, err := reader.Trim(ctx, at-int64(rand.IntN(5)), 1+rand.IntN(30)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	readOn()
	written.Range(func(id, pos any) bool {
		if read[id.(string)] != pos.(int64) {
			t.Errorf("%s written at %d, read at %d", id, pos, read[id.(string)])
		}
		return true
	})
	if tail, err := reader.Tail(ctx); err != nil || tail != at {
		t.Fatalf("Tail = %d, %v; want %d", tail, err, at)
	}

	// A writer whose next position the trim has freed.
	if _, err := reader.Trim(ctx, at, int(at)); err != nil {
		t.Fatal(err)
	}
	late := outbox.NewCommitLog(db)
	outbox.StaleNext(late, at-2)
	pos, err := late.Append(ctx, []string{"raced"}, time.Now())
	if err != nil || pos != at+1 {
		t.Fatalf("a writer with a stale position appended at %d, %v; want %d, past the trim", pos, err, at+1)
	}
	if entries, err := reader.Read(ctx, at+1, 10); err != nil || len(entries) != 1 || entries[0].CommitIDs[0] != "raced" {
		t.Fatalf("after the trim the log has %+v, %v; want the raced entry", entries, err)
	}
	if n, err := db.Collection(outbox.LogCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 2 { // the entry and the trim's mark
		t.Fatalf("%d documents left in the log, %v; want the last entry and the trim's mark", n, err)
	}
}

// TestCatchUpTrimsTheLog: once every projection's checkpoint has passed a
// few hundred entries, the catch-up deletes them; the log then holds only
// what some projection still has to read, and a new projection (no
// checkpoint yet) starts where the log was trimmed.
func TestCatchUpTrimsTheLog(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	log := outbox.NewCommitLog(db)
	stored := memLoader{}
	old := time.Now().Add(-time.Hour)
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			c := events.Commit{StreamID: fmt.Sprint("s", i), StreamType: events.StreamProject, FirstVersion: 1,
				Events: []events.Envelope{{StreamID: fmt.Sprint("s", i), Version: 1, Type: "ProjectEdited", Data: &events.ProjectEdited{}}}}
			stored[c.ID()] = c
			if _, err := log.Append(ctx, []string{c.ID()}, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 300 + rand.IntN(300)
	appendN(0, n)
	got := map[string]int{}
	target := func(name string) outbox.CatchUpTarget {
		return outbox.CatchUpTarget{Name: name, Deliver: func(context.Context, events.Commit) error { got[name]++; return nil }}
	}
	cu := &outbox.CatchUp{Log: log, Commits: stored, Logger: quiet, GiveUp: time.Minute, Batch: 1000,
		Targets: []outbox.CatchUpTarget{target("p1"), target("p2")}}
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if trimmed, err := log.Trimmed(ctx); err != nil || trimmed != int64(n) || got["p1"] != n || got["p2"] != n {
		t.Fatalf("after a sweep over %d entries: trimmed to %d (%v), applied %v", n, trimmed, err, got)
	}
	if docs, err := db.Collection(outbox.LogCollection).CountDocuments(ctx, bson.D{}); err != nil || docs != 3 { // the two checkpoints and the trim's mark
		t.Fatalf("the log keeps %d documents, %v; want 3", docs, err)
	}

	appendN(n, 5)
	cu.Targets = append(cu.Targets, target("p3"))
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got["p1"] != n+5 || got["p2"] != n+5 || got["p3"] != 5 {
		t.Fatalf("after 5 more entries and a new projection: applied %v", got)
	}
	if behind, err := cu.Behind(ctx, "p3"); err != nil || behind != 0 {
		t.Fatalf("the new projection is %d behind, %v", behind, err)
	}
}

// TestCatchUpLeavesYoungEntriesUnread: a sweep reads the log's entries up
// to the first one younger than MinAge, which it leaves to a later sweep,
// and not the young ones after it: under load the last seconds of the log
// are hundreds of entries, each an _id lookup, that every sweep would read
// again. The old entries are applied, and the young ones once they age.
func TestCatchUpLeavesYoungEntriesUnread(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 31))
			ctx := context.Background()
			db := newDB(t)
			log := outbox.NewCommitLog(db)
			counted, finds := countingDB(t, db, "find")
			stored := memLoader{}
			oldN, youngN := 1+rng.IntN(10), 20+rng.IntN(40)
			now := time.Now()
			var all []string
			for i := range oldN + youngN {
				c := events.Commit{StreamID: fmt.Sprint("s", i), StreamType: events.StreamProject, FirstVersion: 1,
					Events: []events.Envelope{{StreamID: fmt.Sprint("s", i), Version: 1, Type: "ProjectEdited", Data: &events.ProjectEdited{}}}}
				stored[c.ID()] = c
				all = append(all, c.ID())
				at := now.Add(-time.Hour)
				if i >= oldN {
					at = now
				}
				if _, err := log.Append(ctx, []string{c.ID()}, at); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			cu := &outbox.CatchUp{Log: outbox.NewCommitLog(counted), Commits: stored, Logger: quiet, GiveUp: time.Minute, Batch: 1000, MinAge: time.Minute,
				Targets: []outbox.CatchUpTarget{{Name: "p", Deliver: func(_ context.Context, c events.Commit) error {
					got = append(got, c.ID())
					return nil
				}}}}
			for sweep := range 3 {
				before := finds.Load()
				if _, err := cu.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
				// The trim, the checkpoint, the entries read: the old ones
				// at the first sweep, and the first young one.
				read := int64(1)
				if sweep == 0 {
					read += int64(oldN)
				}
				if n := finds.Load() - before; n > 2+read {
					t.Fatalf("sweep %d with %d old and %d young entries made %d finds in the log, want at most %d", sweep, oldN, youngN, n, 2+read)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(all[:oldN]) {
				t.Fatalf("applied %v, want the old entries' commits %v", got, all[:oldN])
			}
			cu.MinAge = 0 // the young entries have aged
			if _, err := cu.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(all) {
				t.Fatalf("once aged, applied %v, want every commit %v", got, all)
			}
		})
	}
}

// TestSoleCommitLogAppendsWithoutReading: the log's only writer appends
// with one insert an entry, reading nothing after it has found the end,
// while its reader trims behind it; the log stays dense and every entry is
// read once, in order.
func TestSoleCommitLogAppendsWithoutReading(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	counted, finds := countingDB(t, db, "find")
	w := outbox.NewCommitLog(counted)
	w.Sole = true
	reader := outbox.NewCommitLog(db)
	n := 60 + rand.IntN(60)
	var read []string
	var at int64
	for i := range n {
		if _, err := w.Append(ctx, []string{fmt.Sprint("c", i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			finds.Store(0) // finding the end the first time
		}
		if rand.IntN(4) == 0 {
			entries, err := reader.Read(ctx, at+1, 1+rand.IntN(20))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				read, at = append(read, e.CommitIDs[0]), e.Position
			}
			if _, err := reader.Trim(ctx, at, 1+rand.IntN(20)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := finds.Load(); got != 0 {
		t.Fatalf("%d appends made %d finds after the first, want none", n-1, got)
	}
	entries, err := reader.Read(ctx, at+1, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		read = append(read, e.CommitIDs[0])
	}
	for i, id := range read {
		if id != fmt.Sprint("c", i) || len(read) != n {
			t.Fatalf("read %d entries, the %dth %s; want c0..c%d in order", len(read), i, id, n-1)
		}
	}
}

// countingDB is db through a client that counts the commands named name
// it sends.
func countingDB(t *testing.T, db *mongo.Database, name string) (*mongo.Database, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == name {
			n.Add(1)
		}
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(store.URI()).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client.Database(db.Name()), &n
}

// TestCatchUpCurrentOnceItPassedTheStart: a process that starts on a log
// whose end is at Awaited is current (ready) only once every projection has
// applied every entry up to it, whatever comes after (entries of its own,
// in flight); with nothing awaited it is current at once. A commit that a
// projection keeps failing on holds it back only until AwaitFor has passed
// since the start.
func TestCatchUpCurrentOnceItPassedTheStart(t *testing.T) {
	for _, poisoned := range []bool{false, true} {
		t.Run(fmt.Sprint("poisoned=", poisoned), func(t *testing.T) {
			db := newDB(t)
			ctx := context.Background()
			log := outbox.NewCommitLog(db)
			stored := memLoader{}
			var ids []string
			n := 1 + rand.IntN(30)
			for i := range n {
				c := events.Commit{StreamID: fmt.Sprint("s", i), StreamType: events.StreamProject, FirstVersion: 1,
					Events: []events.Envelope{{StreamID: fmt.Sprint("s", i), Version: 1, Type: "ProjectEdited", Data: &events.ProjectEdited{}}}}
				stored[c.ID()] = c
				ids = append(ids, c.ID())
				if _, err := log.Append(ctx, []string{c.ID()}, time.Now().Add(-time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			poison := ids[rand.IntN(n)]
			awaited, err := log.Tail(ctx)
			if err != nil || awaited != int64(n) {
				t.Fatalf("Tail = %d, %v; want %d", awaited, err, n)
			}
			settled := time.Now()
			for i := range 1 + rand.IntN(5) { // this process's own, young and in flight
				if _, err := log.Append(ctx, []string{fmt.Sprintf("young:%012d", i+1)}, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			applied := map[string]map[string]bool{"p1": {}, "p2": {}}
			deliver := func(name string) func(context.Context, events.Commit) error {
				return func(_ context.Context, c events.Commit) error {
					if poisoned && name == "p2" && c.ID() == poison {
						return fmt.Errorf("p2 cannot apply %s", c.ID())
					}
					applied[name][c.ID()] = true
					return nil
				}
			}
			const awaitFor = 300 * time.Millisecond
			cu := &outbox.CatchUp{Log: log, Commits: stored, Logger: quiet, GiveUp: time.Minute, MinAge: time.Minute, Batch: 1000,
				Settled: settled, Awaited: awaited, AwaitFor: awaitFor,
				Targets: []outbox.CatchUpTarget{{Name: "p1", Deliver: deliver("p1")}, {Name: "p2", Deliver: deliver("p2")}}}
			if cu.Current() {
				t.Fatal("current before any sweep, with entries from before the start")
			}
			_, err = cu.Sweep(ctx)
			if poisoned != (err != nil) {
				t.Fatalf("sweep: %v", err)
			}
			if poisoned {
				if cu.Current() {
					t.Fatal("current while a projection lacks a commit from before the start")
				}
				time.Sleep(time.Until(settled.Add(awaitFor)))
				if !cu.Current() {
					t.Fatalf("still not current %s after the start: a commit no projection can apply holds readiness for good", awaitFor)
				}
				return
			}
			for name, got := range applied {
				if len(got) != n {
					t.Fatalf("%s applied %d of the %d commits from before the start", name, len(got), n)
				}
			}
			if !cu.Current() {
				t.Fatal("not current after a sweep that applied everything from before the start")
			}
		})
	}
	fresh := &outbox.CatchUp{Log: outbox.NewCommitLog(newDB(t)), Logger: quiet, Settled: time.Now(), AwaitFor: time.Minute}
	if !fresh.Current() {
		t.Fatal("a process started on an empty log is not current at once")
	}
}

// TestCommitLogEntryReadAndTrimmedWhileAppended: an entry that a reader
// reads, and a trim passes, between its insert and its writer's look at the
// trim is the reader's like any other: its writer keeps it at its position
// rather than append it again, which the reader would read twice. Whether
// the trim's delete pass is done when the writer looks, or still under way.
func TestCommitLogEntryReadAndTrimmedWhileAppended(t *testing.T) {
	ctx := context.Background()
	for _, passDone := range []bool{true, false} {
		db := newDB(t)
		writer, reader := outbox.NewCommitLog(db), outbox.NewCommitLog(db)
		for i := range 3 {
			if _, err := writer.Append(ctx, []string{fmt.Sprint("before-", i)}, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reader.Read(ctx, 1, 10); err != nil {
			t.Fatal(err)
		}
		passed := make(chan error, 1)
		outbox.AfterInsert(writer, func(pos int64) {
			outbox.AfterInsert(writer, nil)
			entries, err := reader.Read(ctx, pos, 10)
			if err != nil || len(entries) != 1 || entries[0].CommitIDs[0] != "x" {
				t.Errorf("the reader read %+v, %v at %d", entries, err, pos)
			}
			if passDone {
				_, err = reader.Trim(ctx, pos, 100)
				passed <- err
				return
			}
			// The mark passes pos; the delete pass comes a moment later.
			if err := outbox.MarkTrim(ctx, reader, pos); err != nil {
				t.Error(err)
			}
			go func() {
				time.Sleep(50 * time.Millisecond)
				_, err := reader.Trim(ctx, pos, 100)
				passed <- err
			}()
		})
		pos, err := writer.Append(ctx, []string{"x"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := <-passed; err != nil {
			t.Fatal(err)
		}
		if pos != 4 {
			t.Fatalf("pass done %v: the entry read and trimmed was appended again, at %d", passDone, pos)
		}
		if again, err := reader.Read(ctx, pos+1, 10); err != nil || len(again) != 0 {
			t.Fatalf("pass done %v: past the trim the reader reads %+v, %v", passDone, again, err)
		}
	}
}
