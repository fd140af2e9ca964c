package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/embedded"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
)

var store *embedded.Store

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "outbox-test")
	var err error
	store, err = embedded.Start(context.Background(), embedded.Options{DataDir: dir, Logger: quiet})
	if err != nil {
		panic(err)
	}
	code := m.Run()
	store.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var dbSeq int

func newDB(t *testing.T) *mongo.Database { return newDBB(t) }

func newDBB(t testing.TB) *mongo.Database {
	t.Helper()
	dbSeq++
	name := fmt.Sprintf("outbox_%d_%d", os.Getpid(), dbSeq)
	ctx := context.Background()
	if err := store.PrepareCollections(ctx, name, outbox.Collection, outbox.LogCollection, outbox.LeaseCollection, imongo.CollEvents); err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(store.URI()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(ctx) })
	return client.Database(name)
}

// recorder is a publisher that keeps what it was given: the bus's place in
// these tests, which are about what reaches it, not about the bus itself.
type recorder struct {
	mu   sync.Mutex
	got  map[string]int
	fail bool
}

func (r *recorder) Publish(_ context.Context, c events.Commit) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return fmt.Errorf("the bus is down")
	}
	if r.got == nil {
		r.got = map[string]int{}
	}
	r.got[c.ID()]++
	return nil
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

// publishedOnce reports whether each of ids was published exactly once.
func (r *recorder) publishedOnce(ids []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.got[id] != 1 {
			return false
		}
	}
	return true
}

func (r *recorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

var reg = events.NewRegistry(events.All()...)

func executor(db *mongo.Database, ob commands.Outbox) *commands.Executor {
	es := imongo.NewEventStore(db, reg)
	x := commands.NewExecutor(es, es, nil, reg, quiet)
	x.Outbox = ob
	return x
}

// counter is a tiny aggregate for these tests.
var decider = commands.Decider[int, string]{StreamType: events.StreamProject, Schema: "t/1",
	Initial: func(string) int { return 0 },
	Evolve:  func(n int, _ events.Envelope) int { return n + 1 },
	Decide: func(n int, title string) ([]events.Data, error) {
		if n == 0 {
			return []events.Data{&events.ProjectCreated{OwnerID: "u", Title: title}}, nil
		}
		return []events.Data{&events.ProjectEdited{Title: title}}, nil
	}}

func relay(db *mongo.Database, pub commands.Publisher, holder string) *outbox.Relay {
	return &outbox.Relay{Coll: db.Collection(outbox.Collection), Commits: imongo.NewEventStore(db, reg), Publisher: pub, Log: quiet,
		Lease:    &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "relay", Holder: holder, TTL: 2 * time.Second},
		Interval: 50 * time.Millisecond, MinAge: 0, GiveUp: time.Minute, Workers: 4}
}

func groups(t testing.TB, db *mongo.Database) int64 {
	n, err := db.Collection(outbox.Collection).CountDocuments(context.Background(), bson.D{})
	if err != nil && t != nil {
		t.Fatal(err)
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
	}
}

// TestPublishedAndForgotten: the fast path publishes each commit once and
// leaves an empty outbox.
func TestPublishedAndForgotten(t *testing.T) {
	db := newDB(t)
	pub := &recorder{}
	ob := outbox.New(db, pub, "a", 4, quiet)
	defer ob.Close(context.Background())
	x := executor(db, ob)
	var wg sync.WaitGroup
	ids := make([]string, 40)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := decider.Execute(context.Background(), x, fmt.Sprint("p", i), "t", commands.Meta{})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = res.Commit.ID()
		}()
	}
	wg.Wait()
	waitUntil(t, "every commit published and the outbox empty", func() bool {
		return pub.publishedOnce(ids) && groups(t, db) == 0
	})
}

// TestSettledGroupsDeletedTogether: commands one after another each write
// their own group, and the groups they settle within DeleteLinger go in
// one delete, so the bookkeeping is about one write per command, not two.
func TestSettledGroupsDeletedTogether(t *testing.T) {
	db := newDB(t)
	var deletes atomic.Int64
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "delete" {
			deletes.Add(1)
		}
	}}
	client, err := mongo.Connect(options.Client().ApplyURI(store.URI()).SetMonitor(monitor))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	db = client.Database(db.Name())
	pub := &recorder{}
	ob := outbox.New(db, pub, "a", 4, quiet)
	defer ob.Close(context.Background())
	x := executor(db, ob)
	const n = 30
	start := time.Now()
	for i := range n {
		if _, err := decider.Execute(context.Background(), x, fmt.Sprint("p", i), "t", commands.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the outbox empty", func() bool { return groups(t, db) == 0 })
	// The groups settled within a linger go in one delete: at most one
	// delete a linger of the time the commands took (a few milliseconds
	// each, some tens under the race detector), and never one a group.
	lingers := int64(time.Since(start)/outbox.DeleteLinger) + 1
	want := min(lingers, n/2)
	if d := deletes.Load(); d == 0 || d > want {
		t.Errorf("%d deletes for %d groups settled over %d lingers, want 1 to %d", d, n, lingers, want)
	}
}

// TestBusDownThenBack: commands are accepted while the bus is down; the
// relay publishes every one of them once it is back.
func TestBusDownThenBack(t *testing.T) {
	db := newDB(t)
	pub := &recorder{fail: true}
	ob := outbox.New(db, pub, "a", 4, quiet)
	defer ob.Close(context.Background())
	x := executor(db, ob)
	var ids []string
	for i := range 25 {
		res, err := decider.Execute(context.Background(), x, fmt.Sprint("q", i%5), fmt.Sprint("t", i), commands.Meta{})
		if err != nil {
			t.Fatalf("a command failed while the bus was down: %v", err)
		}
		ids = append(ids, res.Commit.ID())
	}
	if groups(t, db) == 0 {
		t.Fatal("nothing waits in the outbox while the bus is down")
	}
	pub.setFail(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A relay in the writer's process: the failed publishes released their
	// groups, so it does not leave them to the writer.
	r := relay(db, pub, "r1")
	r.Skip = ob.Holds
	go r.Run(ctx)
	waitUntil(t, "every commit published after the bus came back", func() bool {
		for _, id := range ids {
			if pub.count(id) < 1 {
				return false
			}
		}
		return groups(t, db) == 0
	})
}

// gate is a publisher that holds every publish until it is opened, like the
// in-process bus waiting for a busy projector.
type gate struct {
	recorder
	open chan struct{}
	// streams, if set, are the streams whose publishes wait (nil: all).
	streams map[string]bool
}

func (g *gate) Publish(ctx context.Context, c events.Commit) error {
	if g.streams == nil || g.streams[c.StreamID] {
		select {
		case <-g.open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.recorder.Publish(ctx, c)
}

// TestRelayLeavesHeldGroups: a relay in the writer's process does not
// publish again what the writer is still publishing, however long that
// takes; what it would have added is duplicate work for a busy projector.
func TestRelayLeavesHeldGroups(t *testing.T) {
	db := newDB(t)
	pub := &gate{open: make(chan struct{})}
	ob := outbox.New(db, pub, "a", 2, quiet)
	defer ob.Close(context.Background())
	x := executor(db, ob)
	var ids []string
	for i := range 6 {
		res, err := decider.Execute(context.Background(), x, fmt.Sprint("h", i), "t", commands.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Commit.ID())
	}
	r := relay(db, &pub.recorder, "r1") // MinAge 0: every group is old enough
	r.Skip = ob.Holds
	for range 3 {
		if err := r.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if n := pub.count(id); n != 0 {
			t.Fatalf("the relay published %s (%d times) while its writer held it", id, n)
		}
	}
	// Without Skip, the same relay would have taken them: the test's
	// premise, checked on a second outbox's group the first does not hold.
	other := outbox.New(db, nil, "b", 1, quiet)
	defer other.Close(context.Background())
	res, err := decider.Execute(context.Background(), executor(db, other), "h-other", "t", commands.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pub.count(res.Commit.ID()) != 1 {
		t.Fatalf("a group no writer here holds was not published by the relay")
	}
	close(pub.open)
	waitUntil(t, "every held commit published once by its writer and the outbox empty", func() bool {
		return pub.publishedOnce(ids) && groups(t, db) == 0
	})
}

// flakyStore stores a commit and then reports a failure, as a connection
// lost before the answer does: the command fails although its commit is in
// the store.
type flakyStore struct{ *imongo.EventStore }

func (f flakyStore) Append(ctx context.Context, c events.Commit) error {
	if err := f.EventStore.Append(ctx, c); err != nil {
		return err
	}
	return errors.New("connection reset before the answer")
}

// TestUncertainAppendPublished: an append that failed after storing its
// commit is not forgotten: the group goes to the relay, which finds the
// commit in the store and publishes it.
func TestUncertainAppendPublished(t *testing.T) {
	db := newDB(t)
	pub := &recorder{}
	ob := outbox.New(db, pub, "a", 2, quiet)
	defer ob.Close(context.Background())
	x := executor(db, ob)
	x.Store = flakyStore{imongo.NewEventStore(db, reg)}
	if _, err := decider.Execute(context.Background(), x, "u1", "t", commands.Meta{}); err == nil {
		t.Fatal("the command succeeded; the test needs a failed append")
	}
	// Had the group been settled as abandoned, its deletion would be done by now.
	time.Sleep(4 * outbox.DeleteLinger)
	r := relay(db, pub, "r1")
	r.Skip = ob.Holds
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pub.count("u1:000000000001") != 1 || groups(t, db) != 0 {
		t.Errorf("published %d times, %d groups left; want 1 and 0", pub.count("u1:000000000001"), groups(t, db))
	}
}

// TestMaxInFlightHoldsWritersBack: with one commit in flight allowed, the
// next command answers only once the first is published (backpressure);
// if that takes longer than the wait, its commit goes to the relay instead.
func TestMaxInFlightHoldsWritersBack(t *testing.T) {
	db := newDB(t)
	pub := &gate{open: make(chan struct{})}
	ob := outbox.New(db, pub, "a", 4, quiet, outbox.MaxInFlight(1, 300*time.Millisecond))
	defer ob.Close(context.Background())
	x := executor(db, ob)
	run := func(stream string) (string, time.Duration) {
		start := time.Now()
		res, err := decider.Execute(context.Background(), x, stream, "t", commands.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Commit.ID(), time.Since(start)
	}
	first, _ := run("m1") // takes the one slot; its publish waits at the gate
	// Nothing frees the slot: the second waits out its 300 ms and leaves its
	// commit to the relay.
	second, took := run("m2")
	if took < 300*time.Millisecond {
		t.Errorf("the second command answered after %s with the slot taken, want >= 300ms", took)
	}
	r := relay(db, &pub.recorder, "r1")
	r.Skip = ob.Holds
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pub.count(second) != 1 || pub.count(first) != 0 {
		t.Fatalf("relay published first %d, second %d times; want 0 and 1", pub.count(first), pub.count(second))
	}
	// The third waits for the first's publish, which the gate lets through
	// after 100 ms: it answers then, and its own commit is the writer's.
	go func() { time.Sleep(100 * time.Millisecond); close(pub.open) }()
	third, took := run("m3")
	if took < 80*time.Millisecond || took >= 300*time.Millisecond {
		t.Errorf("the third command answered after %s, want about 100ms (when the slot was freed)", took)
	}
	waitUntil(t, "first and third published once", func() bool { return pub.count(first) == 1 && pub.count(third) == 1 })
}

// TestBulkLeavesRoomToSingleRequests: a batch's commits (commands.Bulk)
// hold at most seven eighths of the room in flight. With that much of
// theirs unpublished, another of theirs waits out the bound and is left
// to the relay, while single requests still find room at once, up to the
// eighth kept for them; all of them published once the bus moves.
func TestBulkLeavesRoomToSingleRequests(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	n := 8 + rng.IntN(57)
	kept := n / 8
	// The bound on the wait for room, which tells a commit that waited for
	// room from one that did not: a second, so that a store write slowed
	// by a loaded machine is not taken for a wait (at 200 ms, one took
	// 387 ms at load 9).
	const wait = time.Second
	db := newDB(t)
	pub := &gate{open: make(chan struct{})}
	ob := outbox.New(db, pub, "a", n, quiet, outbox.MaxInFlight(n, wait))
	defer ob.Close(context.Background())
	x := executor(db, ob)
	bulk := commands.Bulk(context.Background())
	var streams int
	run := func(ctx context.Context) (string, time.Duration) {
		streams++
		start := time.Now()
		res, err := decider.Execute(ctx, x, fmt.Sprint("b", streams), "t", commands.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Commit.ID(), time.Since(start)
	}
	var writers []string // the commits their writers publish
	for i := range n - kept {
		id, took := run(bulk)
		if took >= wait {
			t.Fatalf("n=%d: the batch's commit %d of %d waited %s for room", n, i+1, n-kept, took)
		}
		writers = append(writers, id)
	}
	left, took := run(bulk)
	if took < wait {
		t.Errorf("n=%d: a batch's commit past %d in flight answered after %s, want the whole %s", n, n-kept, took, wait)
	}
	for i := range kept {
		id, took := run(context.Background())
		if took >= wait/2 {
			t.Errorf("n=%d: single request %d of %d waited %s for room, with the batch's part full", n, i+1, kept, took)
		}
		writers = append(writers, id)
	}
	if _, took := run(context.Background()); took < wait {
		t.Errorf("n=%d: a single request past %d in flight answered after %s, want the whole %s", n, n, took, wait)
	}
	close(pub.open)
	waitUntil(t, "every commit that found room published once by its writer", func() bool {
		return pub.publishedOnce(writers)
	})
	if pub.count(left) != 0 {
		t.Errorf("n=%d: the commit left to the relay was published by its writer", n)
	}
	// The room is all free again: a batch takes its whole part at once.
	for i := range n - kept {
		if _, took := run(bulk); took >= wait {
			t.Fatalf("n=%d: after the bus moved, the batch's commit %d waited %s", n, i+1, took)
		}
	}
}

// TestInFlightCommitsWaitForASender: under MaxInFlight, every commit that
// found room in flight waits for a sender, however few the senders: none
// is left to the relay for want of room in the queue to them.
func TestInFlightCommitsWaitForASender(t *testing.T) {
	db := newDB(t)
	pub := &gate{open: make(chan struct{})}
	const senders, inFlight = 2, 8
	ob := outbox.New(db, pub, "a", senders, quiet, outbox.MaxInFlight(inFlight, 10*time.Second))
	defer ob.Close(context.Background())
	x := executor(db, ob)
	var ids []string
	for i := range inFlight {
		res, err := decider.Execute(context.Background(), x, fmt.Sprint("q", i), "t", commands.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Commit.ID())
	}
	// The senders wait at the gate with one commit each; the rest are queued.
	r := relay(db, &pub.recorder, "r1")
	r.Skip = ob.Holds
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if n := pub.count(id); n != 0 {
			t.Fatalf("the relay published %s (%d times): its writer had left it, queue full", id, n)
		}
	}
	close(pub.open)
	waitUntil(t, "every commit published once by its writer", func() bool {
		return pub.publishedOnce(ids)
	})
}

// TestDiedAfterAppend: a process that stored a commit and died before
// publishing it (here: an outbox without a publisher) loses nothing.
func TestDiedAfterAppend(t *testing.T) {
	db := newDB(t)
	dead := outbox.New(db, nil, "dead", 1, quiet)
	res, err := decider.Execute(context.Background(), executor(db, dead), "d1", "t", commands.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// A reservation whose append never happened is dropped after GiveUp.
	if _, err := dead.Reserve(context.Background(), "never:000000000001"); err != nil {
		t.Fatal(err)
	}
	pub := &recorder{}
	r := relay(db, pub, "r1")
	r.GiveUp = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitUntil(t, "the stored commit published by the relay", func() bool { return pub.count(res.Commit.ID()) == 1 })
	waitUntil(t, "the outbox empty", func() bool { return groups(t, db) == 0 })
	if pub.count("never:000000000001") != 0 {
		t.Fatal("a commit that was never stored was published")
	}
}

// TestLeaseTakeover: one relay holds the lease and renews it, the other
// cannot take it meanwhile (nor when it is released, but at once then);
// when the holder dies without releasing it, the other takes over once it
// has expired, not before, and nothing is stuck. The lease that must stay
// held lives a minute, so a loaded machine's slow writes cannot expire it
// between two calls; the one that must expire lives half a second. Leases
// in terms (a store shared where filtered writes are not atomic) behave
// the same.
func TestLeaseTakeover(t *testing.T) {
	for _, terms := range []bool{false, true} {
		t.Run(fmt.Sprintf("terms=%v", terms), func(t *testing.T) { testLeaseTakeover(t, terms) })
	}
}

func testLeaseTakeover(t *testing.T, terms bool) {
	db := newDB(t)
	ctx := context.Background()
	lease := func(name, holder string, ttl time.Duration) *outbox.Lease {
		return &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: name, Holder: holder, TTL: ttl, Terms: terms}
	}
	a, b := lease("held", "a", time.Minute), lease("held", "b", time.Minute)
	if held, err := a.Hold(ctx); err != nil || !held {
		t.Fatalf("a: %v %v", held, err)
	}
	if held, _ := b.Hold(ctx); held {
		t.Fatal("b holds a lease that a holds")
	}
	if held, _ := a.Hold(ctx); !held {
		t.Fatal("a could not renew")
	}
	if held, _ := b.Hold(ctx); held {
		t.Fatal("b holds a lease that a renewed")
	}
	a.Release(ctx)
	if held, _ := b.Hold(ctx); !held {
		t.Fatal("b could not take a released lease")
	}

	const ttl = 500 * time.Millisecond
	a, b = lease("relay", "a", ttl), lease("relay", "b", ttl)
	start := time.Now()
	if held, err := a.Hold(ctx); err != nil || !held {
		t.Fatalf("a: %v %v", held, err)
	}
	// a dies: it renews no more.
	waitUntil(t, "b to take over", func() bool { held, _ := b.Hold(ctx); return held })
	if took := time.Since(start); took < ttl-time.Millisecond || took > ttl+5*time.Second { // expiry is kept to the millisecond
		t.Fatalf("take-over %s after a held the lease, want once it expired (%s)", took, ttl)
	}
	if held, _ := a.Hold(ctx); held {
		t.Fatal("a still holds the lease after b took it over")
	}

	// End to end: the holder dies with work left; the other relay does it.
	pub := &recorder{}
	dead := outbox.New(db, nil, "w", 1, quiet)
	res, err := decider.Execute(ctx, executor(db, dead), "l1", "t", commands.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	stuck := &recorder{fail: true} // the first relay cannot publish, then dies
	c1, kill := context.WithCancel(ctx)
	go relay(db, stuck, "r1").Run(c1)
	time.Sleep(200 * time.Millisecond)
	kill()
	c2, cancel := context.WithCancel(ctx)
	defer cancel()
	go relay(db, pub, "r2").Run(c2)
	waitUntil(t, "the second relay to publish", func() bool { return pub.count(res.Commit.ID()) == 1 })
}

// countingLoader counts the commits a sweep reads.
type countingLoader struct {
	outbox.CommitLoader
	mu    sync.Mutex
	loads int
}

func (c *countingLoader) LoadCommit(ctx context.Context, id string) (events.Commit, bool, error) {
	c.mu.Lock()
	c.loads++
	c.mu.Unlock()
	return c.CommitLoader.LoadCommit(ctx, id)
}

// TestSweepReadsOnlyWhatIsInFlight: after 300 commits were published, a
// sweep reads no commit at all: its work follows the outbox, not the store.
func TestSweepReadsOnlyWhatIsInFlight(t *testing.T) {
	db := newDB(t)
	pub := &recorder{}
	ob := outbox.New(db, pub, "a", 4, quiet)
	x := executor(db, ob)
	for i := range 300 {
		if _, err := decider.Execute(context.Background(), x, fmt.Sprint("s", i), "t", commands.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	ob.Close(context.Background())
	waitUntil(t, "the outbox empty", func() bool { return groups(t, db) == 0 })
	r := relay(db, pub, "r1")
	loader := &countingLoader{CommitLoader: r.Commits}
	r.Commits = loader
	x2 := executor(db, outbox.New(db, nil, "b", 1, quiet)) // a writer that died before publishing
	if _, err := decider.Execute(context.Background(), x2, "late", "t", commands.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if loader.loads != 1 {
		t.Fatalf("a sweep with one commit in flight read %d commits", loader.loads)
	}
}

// TestRestartAloneSettlesTheDeadAtOnce: a process that has the store alone
// and starts after another died (its groups and commit-log entries young,
// its leases unexpired) deals with what the dead one left in its first
// sweeps: the lease is taken over at once, the stored commits are
// published and applied without waiting MinAge, and the ids whose appends
// never happened are dropped without waiting GiveUp. What it writes itself
// afterwards is left to it as usual.
func TestRestartAloneSettlesTheDeadAtOnce(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	stored := died(t, db, outbox.New(db, nil, "dead", 1, quiet, outbox.WithLog(outbox.NewCommitLog(db))), 1+rand.IntN(8))
	for _, name := range []string{"relay", "catch-up"} { // held when it died
		l := &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: name, Holder: "dead", TTL: time.Hour}
		if held, err := l.Hold(ctx); err != nil || !held {
			t.Fatalf("the dead process's %s lease: %v %v", name, held, err)
		}
	}
	time.Sleep(2 * time.Millisecond)
	settled := time.Now().Truncate(time.Millisecond).Add(-time.Millisecond) // as the service takes it

	pub := &recorder{}
	r := relay(db, pub, "alive")
	r.MinAge, r.GiveUp, r.Settled = time.Hour, time.Hour, settled
	r.Lease.Alone = true
	var applied []string
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: quiet,
		Lease:  &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "catch-up", Holder: "alive", TTL: time.Hour, Alone: true},
		MinAge: time.Hour, GiveUp: time.Hour, Settled: settled, Batch: 100,
		Targets: []outbox.CatchUpTarget{{Name: "p", Deliver: func(_ context.Context, c events.Commit) error {
			applied = append(applied, c.ID())
			return nil
		}}}}
	for _, l := range []*outbox.Lease{r.Lease, cu.Lease} {
		if held, err := l.Hold(ctx); err != nil || !held {
			t.Fatalf("the %s lease of a dead process was not taken over at once: %v %v", l.Name, held, err)
		}
	}
	if err := r.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range stored {
		if pub.count(id) != 1 {
			t.Errorf("the dead process's commit %s was published %d times by the first sweep, want once", id, pub.count(id))
		}
	}
	if pub.count("never:000000000001") != 0 || groups(t, db) != 0 {
		t.Errorf("after the first sweep: the never-stored id published %d times, %d groups left; want none",
			pub.count("never:000000000001"), groups(t, db))
	}
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != fmt.Sprint(stored) {
		t.Errorf("the first catch-up sweep applied %v, want the dead process's %v", applied, stored)
	}
	if behind, err := cu.Behind(ctx, "p"); err != nil || behind != 0 {
		t.Errorf("after the first catch-up sweep, %d entries behind (%v): a never-stored id held it", behind, err)
	}

	alive := outbox.New(db, nil, "alive", 1, quiet, outbox.WithLog(outbox.NewCommitLog(db)))
	res, err := decider.Execute(ctx, executor(db, alive), "mine", "t", commands.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if pub.count(res.Commit.ID()) != 0 || slices.Contains(applied, res.Commit.ID()) {
		t.Errorf("a young commit of the live process was taken from it: published %d times, applied %v", pub.count(res.Commit.ID()), applied)
	}
}

// TestLogOnlyLeavesTheLostToTheCatchUp: an outbox that keeps its groups in
// the commit log alone writes nothing to the outbox collection, and every
// commit it stored reaches the projection: those it published, one whose
// publish failed, and those of a process that died before publishing
// (the catch-up of the process started after it). An id whose append never
// happened is passed.
func TestLogOnlyLeavesTheLostToTheCatchUp(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	n := 2 + rand.IntN(8)
	failAt := rand.IntN(n)
	pub := &failingFor{stream: fmt.Sprint("s", failAt)}
	live := outbox.New(db, pub, "live", 2, quiet, outbox.WithLog(outbox.NewCommitLog(db)), outbox.LogOnly())
	stored := storeCommits(t, db, live, "s", n)
	waitUntil(t, "the published commits out", func() bool {
		for i, id := range stored {
			if i != failAt && pub.count(id) != 1 {
				return false
			}
		}
		return true
	})
	// A released group is the catch-up's: nothing is left tracking it.
	waitUntil(t, "no group tracked", func() bool { return outbox.Live(live) == 0 && outbox.Logged(live) == 0 })
	stored = append(stored, died(t, db, outbox.New(db, nil, "dead", 1, quiet, outbox.WithLog(outbox.NewCommitLog(db)), outbox.LogOnly()), 1+rand.IntN(4))...)
	live.Close(ctx)
	if g := groups(t, db); g != 0 {
		t.Fatalf("%d outbox documents written; want none", g)
	}

	time.Sleep(2 * time.Millisecond)
	settled := time.Now().Truncate(time.Millisecond).Add(-time.Millisecond) // as a restarted service takes it
	applied := map[string]int{}
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: quiet,
		Lease:  &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "catch-up", Holder: "next", TTL: time.Hour, Alone: true},
		MinAge: time.Hour, GiveUp: time.Hour, Settled: settled, Batch: 100,
		InFlight: live.Publishing, // a failed publish is no longer in flight
		Targets: []outbox.CatchUpTarget{{Name: "p", Deliver: func(_ context.Context, c events.Commit) error {
			applied[c.ID()]++
			return nil
		}}}}
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range stored {
		if applied[id] != 1 {
			t.Errorf("commit %s applied %d times by the catch-up, want once", id, applied[id])
		}
	}
	if applied["never:000000000001"] != 0 {
		t.Error("a commit that was never stored was applied")
	}
	if behind, err := cu.Behind(ctx, "p"); err != nil || behind != 0 {
		t.Errorf("after the catch-up, %d entries behind (%v)", behind, err)
	}
}

// TestCatchUpLeavesToTheBusWhatItCarries: an entry of the commit log whose
// commits this process is still publishing is the bus's, however old: the
// catch-up applies none of it, and its checkpoint stops before it (and
// passes what came before it), until the publishes end. Before, the
// catch-up applied a second time every commit older than MinAge, and in a
// cohort's import, whose writers keep commits in flight for seconds, it
// delivered hundreds behind the bus's own in the projectors' queues, its
// sweeps taking ten seconds while the checkpoints stood still.
func TestCatchUpLeavesToTheBusWhatItCarries(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	db := newDB(t)
	ctx := context.Background()
	n := 3 + rng.IntN(10)
	firstHeld := rng.IntN(n)
	pub := &gate{open: make(chan struct{}), streams: map[string]bool{}}
	for i := firstHeld; i < n; i++ {
		if i == firstHeld || rng.IntN(2) == 0 {
			pub.streams[fmt.Sprint("s", i)] = true
		}
	}
	log := outbox.NewCommitLog(db)
	live := outbox.New(db, pub, "live", n, quiet, outbox.WithLog(log), outbox.LogOnly())
	defer live.Close(ctx)
	stored := storeCommits(t, db, live, "s", n)
	waitUntil(t, "the commits not held published", func() bool {
		for i, id := range stored {
			if !pub.streams[fmt.Sprint("s", i)] && pub.count(id) != 1 {
				return false
			}
		}
		return true
	})

	var delivered []string
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: quiet,
		MinAge: 0, GiveUp: time.Hour, Batch: 100, InFlight: live.Publishing,
		// What the bus published, it applied (the in-process bus's publish
		// lasts until the projectors have).
		Applied: func(_, stream string, version int64) bool {
			return pub.count(events.CommitID(stream, version)) > 0
		},
		Targets: []outbox.CatchUpTarget{{Name: "p", Deliver: func(_ context.Context, c events.Commit) error {
			delivered = append(delivered, c.ID())
			return nil
		}}}}
	for range 2 {
		if _, err := cu.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(delivered) != 0 {
		t.Fatalf("the catch-up applied %v, which the bus was still carrying", delivered)
	}
	behind, err := cu.Behind(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(n - firstHeld); behind != want {
		t.Fatalf("with commit %d of %d held in flight, the checkpoint is %d entries behind, want %d (just before it)", firstHeld, n, behind, want)
	}

	close(pub.open)
	waitUntil(t, "every commit published", func() bool {
		return pub.publishedOnce(stored)
	})
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if behind, err := cu.Behind(ctx, "p"); err != nil || behind != 0 || len(delivered) != 0 {
		t.Fatalf("once published: %d entries behind (%v), the catch-up applied %v; want none and none", behind, err, delivered)
	}
	if l := outbox.Logged(live); l != 0 {
		t.Fatalf("%d groups still tracked as in flight once every commit was published", l)
	}
}

// failingFor is a recorder whose publishes of one stream's commits fail.
type failingFor struct {
	recorder
	stream string
}

func (f *failingFor) Publish(ctx context.Context, c events.Commit) error {
	if c.StreamID == f.stream {
		return fmt.Errorf("the bus lost %s", c.ID())
	}
	return f.recorder.Publish(ctx, c)
}

// died is what a process that dies leaves through its outbox dead: n
// stored commits, of streams d0, d1, ..., whose ids it returns, and the
// reservation of never:000000000001, whose append never happened.
func died(t *testing.T, db *mongo.Database, dead *outbox.Outbox, n int) []string {
	t.Helper()
	stored := storeCommits(t, db, dead, "d", n)
	if _, err := dead.Reserve(context.Background(), "never:000000000001"); err != nil {
		t.Fatal(err)
	}
	return stored
}

// storeCommits stores a commit on each of n streams, prefix0, prefix1,
// ..., through ob, and returns their ids.
func storeCommits(t *testing.T, db *mongo.Database, ob *outbox.Outbox, prefix string, n int) []string {
	t.Helper()
	var stored []string
	for i := range n {
		res, err := decider.Execute(context.Background(), executor(db, ob), fmt.Sprint(prefix, i), "t", commands.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, res.Commit.ID())
	}
	return stored
}

// TestAReservationGivenUpIsSettled: a caller whose context ends while its
// reservation is being written appends nothing, and the group does not
// wait for it: with an outbox document, the document is deleted once the
// group's other commits are out (not left for the relay); kept in the
// commit log alone, where no relay asks about it, the group is not
// tracked for good.
func TestAReservationGivenUpIsSettled(t *testing.T) {
	for _, logOnly := range []bool{false, true} {
		t.Run(fmt.Sprint("log only ", logOnly), func(t *testing.T) {
			db := newDB(t)
			ctx := context.Background()
			log := outbox.NewCommitLog(db)
			opts := []outbox.Option{outbox.WithLog(log)}
			if logOnly {
				opts = append(opts, outbox.LogOnly())
			}
			pub := &recorder{}
			o := outbox.New(db, pub, "live", 2, quiet, opts...)
			defer o.Close(ctx)
			gone, cancel := context.WithCancel(ctx)
			cancel()
			// A reservation asked with an ended context is sent or refused
			// at random; sent, its caller has left before the answer.
			for i := 0; ; i++ {
				r, err := o.Reserve(gone, fmt.Sprintf("left:%012d", i+1))
				if err == nil {
					r.Abandoned() // the answer came first: the caller gives it back
				}
				if tail, err := log.Tail(ctx); err != nil {
					t.Fatal(err)
				} else if tail > 0 {
					break
				}
				if i == 1000 {
					t.Fatal("no reservation with an ended context was ever written")
				}
			}
			var stored []string
			for i := range 1 + rand.IntN(5) {
				res, err := decider.Execute(ctx, executor(db, o), fmt.Sprint("s", i), "t", commands.Meta{})
				if err != nil {
					t.Fatal(err)
				}
				stored = append(stored, res.Commit.ID())
			}
			// Kept in the log alone, a group has no document and is never
			// live: its commits are published after their commands return.
			waitUntil(t, "every group settled", func() bool {
				for _, id := range stored {
					if pub.count(id) == 0 {
						return false
					}
				}
				return outbox.Live(o) == 0 && groups(t, db) == 0
			})
			for _, id := range stored {
				if got := pub.count(id); got != 1 {
					t.Errorf("commit %s published %d times, want once", id, got)
				}
			}
		})
	}
}

// TestCatchUpBacklogCountsWhatIsHeld: the catch-up's backlog counts the
// commits logged long enough ago that a projection has yet to pass: none
// while every projection applies them, those from the first it keeps
// failing on while it does, and none again once it applies it.
func TestCatchUpBacklogCountsWhatIsHeld(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	ob := outbox.New(db, nil, "w", 1, quiet, outbox.WithLog(outbox.NewCommitLog(db)), outbox.LogOnly())
	defer ob.Close(ctx)
	n := 3 + rand.IntN(6)
	stored := storeCommits(t, db, ob, "b", n)
	failing := stored[rand.IntN(n)]
	fail := true
	backlog := -1
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: quiet,
		Lease:  &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "catch-up", Holder: "me", TTL: time.Hour, Alone: true},
		MinAge: 0, GiveUp: time.Hour, Batch: 100, Backlog: func(n int) { backlog = n },
		Targets: []outbox.CatchUpTarget{
			{Name: "fine", Deliver: func(context.Context, events.Commit) error { return nil }},
			{Name: "failing", Deliver: func(_ context.Context, c events.Commit) error {
				if fail && c.ID() == failing {
					return fmt.Errorf("cannot apply %s", c.ID())
				}
				return nil
			}},
		}}
	if _, err := cu.Sweep(ctx); err == nil {
		t.Fatal("the sweep hid the projection's failure")
	}
	// The failing commit and every one logged after it wait for the
	// failing projection's checkpoint to move.
	want := n - slices.Index(stored, failing)
	if cu.Held() != backlog {
		t.Fatalf("Held %d, but the sweep reported %d", cu.Held(), backlog)
	}
	if backlog < 1 || backlog > want {
		t.Fatalf("backlog %d while a projection fails on commit %d of %d; want 1 to %d", backlog, slices.Index(stored, failing)+1, n, want)
	}
	fail = false
	if _, err := cu.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if backlog != 0 || cu.Held() != 0 {
		t.Fatalf("backlog %d (Held %d) once every projection applied every commit; want 0", backlog, cu.Held())
	}
}

// TestGroupWriteTimeoutIsStoreUnavailable: a reservation whose group the
// store did not write within the outbox's bound (the store stalled, its
// connection open) fails as a store that could not be reached (answered
// 503, to be retried), not as an internal error, in either mode; nothing
// is left tracked.
func TestGroupWriteTimeoutIsStoreUnavailable(t *testing.T) {
	name := newDB(t).Name()
	stall := &stallingProxy{}
	uri := stall.start(t, store.URI())
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database(name)
	if err := db.RunCommand(context.Background(), bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	defer outbox.SetGroupWriteTimeout(300 * time.Millisecond)()
	for _, opts := range [][]outbox.Option{{outbox.WithLog(outbox.NewCommitLog(db))}, {outbox.WithLog(outbox.NewCommitLog(db)), outbox.LogOnly()}} {
		ob := outbox.New(db, &recorder{}, "slow", 1, quiet, opts...)
		stall.stalled.Store(true)
		_, err := ob.Reserve(context.Background(), fmt.Sprint("s:", rand.Uint64()))
		if err == nil || !commands.IsStoreUnavailable(err) {
			t.Errorf("reserve while the store stalls: %v; want an error the API answers as the store unavailable", err)
		}
		if n := outbox.Live(ob); n != 0 {
			t.Errorf("%d groups still tracked after a failed write", n)
		}
		stall.stalled.Store(false)
		ob.Close(context.Background())
	}
}

// stallingProxy passes a store's connections through, and while stalled
// holds back what the client sends: the store then seems to hang with
// its connections open, as one whose process is stopped.
type stallingProxy struct {
	stalled atomic.Bool
}

// start listens for the store at uri (its Unix socket) and returns the
// URI to reach it through the proxy.
func (p *stallingProxy) start(t *testing.T, uri string) string {
	rest := strings.TrimPrefix(uri, "mongodb://")
	host, tail, _ := strings.Cut(rest, "/")
	target, err := url.PathUnescape(host)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "proxy.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go io.Copy(c, s)
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					for p.stalled.Load() {
						time.Sleep(10 * time.Millisecond)
					}
					if n > 0 {
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "mongodb://" + strings.ReplaceAll(sock, "/", "%2F") + "/" + tail
}

// slowRecorder is a recorder whose publishes take a while.
type slowRecorder struct {
	recorder
	slow time.Duration
}

func (s *slowRecorder) Publish(ctx context.Context, c events.Commit) error {
	time.Sleep(s.slow)
	return s.recorder.Publish(ctx, c)
}

// TestRelaySweepEndsInTime: a relay sweep starts no publish once its time
// (SweepFor) is up, so that it ends while its lease holds, and says there
// is more; the groups it did not finish stay for the next, so every commit
// is published and every group deleted once the sweeps are done.
func TestRelaySweepEndsInTime(t *testing.T) {
	forSeeds(t, 3, 11, func(t *testing.T, rng *rand.Rand) {
		db := newDB(t)
		ids := storeCommits(t, db, outbox.New(db, nil, "dead", 1, quiet), "s", 60+rng.IntN(30)) // left to the relay
		pub := &slowRecorder{slow: time.Duration(5+rng.IntN(6)) * time.Millisecond}
		r := relay(db, pub, "r1")
		r.Settled, r.Workers = time.Now().Add(time.Second), 1+rng.IntN(2)
		// Well above a sweep's own reads, even under the race detector,
		// and well below the publishes' time.
		r.SweepFor = time.Duration(40+rng.IntN(60)) * time.Millisecond
		sweepUntilDone(t, r, pub, ids)
		for _, id := range ids {
			if pub.count(id) == 0 {
				t.Fatalf("%s never published", id)
			}
		}
		if n := groups(t, db); n != 0 {
			t.Fatalf("%d groups left", n)
		}
	})
}

// sweepUntilDone sweeps with r until a sweep says there is no more, each
// within its bound (SweepFor) and each publishing a commit at least, and
// fails the test unless one ran out of time. It returns the sweeps made.
func sweepUntilDone(t *testing.T, r *outbox.Relay, pub *slowRecorder, ids []string) int {
	t.Helper()
	sweeps, cut := 0, 0
	for more := true; more; sweeps++ {
		start := time.Now()
		var err error
		if more, err = outbox.RelaySweepMore(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > r.SweepFor+time.Second {
			t.Fatalf("a sweep bound to %v took %v", r.SweepFor, took)
		}
		if more {
			cut++
		}
		if sweeps > len(ids)+10 {
			t.Fatalf("%d sweeps for %d commits: the sweeps got nowhere", sweeps, len(ids))
		}
	}
	if cut == 0 {
		t.Fatalf("no sweep ran out of time (bound %v, %d commits %v each, %d workers)", r.SweepFor, len(ids), pub.slow, r.Workers)
	}
	t.Logf("%d sweeps, %d cut short", sweeps, cut)
	return sweeps
}

// TestRelayGoesOnWithinALargeGroup: a group of more commits than a sweep
// has time to publish is narrowed to the commits not yet published, so the
// next sweep goes on from them. Each sweep used to start the group again
// from its first commit: on a slow store a group of 255 commits was never
// done, and its first commits were published again at every sweep, long
// after the writes had stopped.
func TestRelayGoesOnWithinALargeGroup(t *testing.T) {
	forSeeds(t, 3, 13, func(t *testing.T, rng *rand.Rand) {
		db := newDB(t)
		ids := storeCommits(t, db, outbox.New(db, nil, "dead", 1, quiet), "g", 40+rng.IntN(40)) // left to the relay
		// One group holds them all, as a writer's grouped reservation does.
		ctx := context.Background()
		coll := db.Collection(outbox.Collection)
		if _, err := coll.DeleteMany(ctx, bson.D{}); err != nil {
			t.Fatal(err)
		}
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "one-group"}, {Key: "commit_ids", Value: ids},
			{Key: "created_at", Value: time.Now().UTC()}}); err != nil {
			t.Fatal(err)
		}
		pub := &slowRecorder{slow: time.Duration(5+rng.IntN(6)) * time.Millisecond}
		r := relay(db, pub, "r1")
		r.Settled, r.Workers = time.Now().Add(time.Second), 1+rng.IntN(2)
		r.SweepFor = time.Duration(40+rng.IntN(60)) * time.Millisecond
		sweeps := sweepUntilDone(t, r, pub, ids)
		for _, id := range ids {
			if n := pub.count(id); n != 1 {
				t.Fatalf("%s published %d times over %d sweeps", id, n, sweeps)
			}
		}
		if n := groups(t, db); n != 0 {
			t.Fatalf("%d groups left", n)
		}
	})
}
