package mongo_test

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

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestIdempotencyKeysExpire: keys bound at random moments over a few days
// are kept for the TTL and no longer: a sweep deletes exactly the keys whose
// time is up (a key bound again after that is fresh), by _id through the
// journal of their minute; sweeps repeat harmlessly.
func TestIdempotencyKeysExpire(t *testing.T) { eachJournalling(t, testIdempotencyKeysExpire) }

func testIdempotencyKeysExpire(t *testing.T, setup func(*imongo.Idempotency)) {
	ctx := testCtx(t)
	s := imongo.NewIdempotency(newDB(t))
	setup(s)
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	bound, stream := map[string]time.Time{}, map[string]string{}
	for i := range 40 {
		at := t0.Add(time.Duration(rand.Int64N(int64(28 * time.Hour)))) // before the first sweep: time only moves on
		key := fmt.Sprintf("k%02d", i)
		if _, fresh, err := s.Begin(ctx, key, imongo.IdempotencyRecord{RequestHash: "h", StreamID: key, StartedAt: at}); err != nil || !fresh {
			t.Fatalf("bind %s: fresh %v, %v", key, fresh, err)
		}
		bound[key], stream[key] = at, key
	}
	for _, hours := range []int{30, 60, 60, 100} {
		now := t0.Add(time.Duration(hours) * time.Hour)
		if _, err := s.Expire(ctx, now, ttl); err != nil {
			t.Fatal(err)
		}
		for key, at := range bound {
			expired := !at.Truncate(time.Minute).After(now.Add(-ttl).Truncate(time.Minute))
			rec, fresh, err := s.Begin(ctx, key, imongo.IdempotencyRecord{RequestHash: "other", StreamID: fmt.Sprint("new-", hours), StartedAt: now})
			if err != nil {
				t.Fatal(err)
			}
			if fresh != expired {
				t.Fatalf("after %d h, key bound at %s: fresh %v, want %v", hours, at, fresh, expired)
			}
			if fresh {
				bound[key], stream[key] = now, fmt.Sprint("new-", hours) // bound again, now
			} else if rec.StreamID != stream[key] {
				t.Fatalf("key %s kept the wrong binding %+v", key, rec)
			}
		}
	}
}

// TestIdempotencyBeginRacesInANewMinute: keys bound at the same moment, the
// first of their minute, are all bound: the first writes of the minute's
// journal race, and none of them may fail (the embedded store answers the
// loser of two racing upserts with a duplicate key, which a create answered
// with a 500).
func TestIdempotencyBeginRacesInANewMinute(t *testing.T) {
	eachJournalling(t, testIdempotencyBeginRacesInANewMinute)
}

func testIdempotencyBeginRacesInANewMinute(t *testing.T, setup func(*imongo.Idempotency)) {
	ctx := testCtx(t)
	s := imongo.NewIdempotency(newDB(t))
	setup(s)
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for minute := range 20 {
		at := t0.Add(time.Duration(minute)*time.Minute + time.Duration(rand.Int64N(int64(time.Minute))))
		errs := make(chan error, 8)
		for i := range cap(errs) {
			go func() {
				key := fmt.Sprintf("m%02d-k%d", minute, i)
				_, fresh, err := s.Begin(ctx, key, imongo.IdempotencyRecord{RequestHash: "h", StreamID: key, StartedAt: at})
				if err == nil && !fresh {
					err = fmt.Errorf("key %s was not fresh", key)
				}
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("minute %d: %v", minute, err)
			}
		}
	}
}

// eachJournalling runs test with the keys journalled by minute, by minute
// and process (a Writer, on a store shared where updates are not atomic),
// and by minute with the sweep reading and deleting by _id alone
// (ByIDAlone): setup makes the store so.
func eachJournalling(t *testing.T, test func(t *testing.T, setup func(*imongo.Idempotency))) {
	for name, setup := range map[string]func(*imongo.Idempotency){
		"by-minute":  func(*imongo.Idempotency) {},
		"by-process": func(s *imongo.Idempotency) { s.Writer = "this-process" },
		"by-id":      func(s *imongo.Idempotency) { s.ByIDAlone = true },
	} {
		t.Run(name, func(t *testing.T) { test(t, setup) })
	}
}

// monitoredIdempotency is the store in db through a client that counts the
// find commands sent.
func monitoredIdempotency(t *testing.T, db string) (*imongo.Idempotency, *atomic.Int64) {
	t.Helper()
	mc, finds := counting(t, "find")
	return imongo.NewIdempotency(mc.Database(db)), finds
}

// TestIdempotencySweepReadsWhatThereIs: a sweep reads the index of journals
// and the journals that have come of age, nothing else: two reads on a
// fresh store (not one per minute of the week before), two after a week
// with nothing bound, and one more per minute of keys that expires.
func TestIdempotencySweepReadsWhatThereIs(t *testing.T) {
	ctx := testCtx(t)
	s, finds := monitoredIdempotency(t, newDB(t).Name())
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	sweep := func(now time.Time) int64 {
		t.Helper()
		finds.Store(0)
		if _, err := s.Expire(ctx, now, ttl); err != nil {
			t.Fatal(err)
		}
		return finds.Load()
	}
	if n := sweep(t0); n > 2 {
		t.Fatalf("the first sweep of a fresh store sent %d reads, want at most 2", n)
	}
	minutes := map[time.Time]bool{}
	for i := range 30 {
		at := t0.Add(time.Duration(rand.Int64N(int64(48 * time.Hour))))
		minutes[at.Truncate(time.Minute)] = true
		if _, _, err := s.Begin(ctx, fmt.Sprint("r", i), imongo.IdempotencyRecord{RequestHash: "h", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	swept := t0
	for _, hours := range []int{20, 30, 50, 80, 80 + 7*24} {
		now := t0.Add(time.Duration(hours) * time.Hour)
		due := 0
		for m := range minutes {
			if m.After(swept.Add(-ttl).Truncate(time.Minute)) && !m.After(now.Add(-ttl).Truncate(time.Minute)) {
				due++
			}
		}
		if n := sweep(now); n != int64(2+due) {
			t.Errorf("the sweep at %d h sent %d reads, want 2 and one per minute of keys that expires (%d)", hours, n, due)
		}
		swept = now
	}
}

// TestIdempotencyRetriedKeyKeptItsTime: a key retried a while after it was
// bound is listed in the journal of the retry too; once it expired and was
// bound afresh, the retry's journal coming of age must not delete the new
// binding before its own time.
func TestIdempotencyRetriedKeyKeptItsTime(t *testing.T) {
	eachJournalling(t, testIdempotencyRetriedKeyKeptItsTime)
}

func testIdempotencyRetriedKeyKeptItsTime(t *testing.T, setup func(*imongo.Idempotency)) {
	ctx := testCtx(t)
	s := imongo.NewIdempotency(newDB(t))
	setup(s)
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	begin := func(at time.Time, stream string) (imongo.IdempotencyRecord, bool) {
		t.Helper()
		rec, fresh, err := s.Begin(ctx, "retried", imongo.IdempotencyRecord{RequestHash: "h", StreamID: stream, StartedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return rec, fresh
	}
	begin(t0, "first")
	if _, fresh := begin(t0.Add(2*time.Hour), "retry"); fresh {
		t.Fatal("the retry was bound afresh")
	}
	if _, err := s.Expire(ctx, t0.Add(ttl+time.Minute), ttl); err != nil {
		t.Fatal(err)
	}
	rebound := t0.Add(ttl + time.Hour)
	if _, fresh := begin(rebound, "second"); !fresh {
		t.Fatal("the expired key was not bound afresh")
	}
	if _, err := s.Expire(ctx, t0.Add(2*time.Hour+ttl+time.Minute), ttl); err != nil { // the retry's minute comes of age
		t.Fatal(err)
	}
	if rec, fresh := begin(rebound.Add(time.Hour), "third"); fresh || rec.StreamID != "second" {
		t.Fatalf("the second binding was deleted an hour after it was made: fresh %v, %+v", fresh, rec)
	}
}

// TestIdempotencyUnlistedJournals: the journals of a version that kept no
// index (a cursor, and journals by minute) are swept by walking on from its
// cursor, over the journals written until one ttl past the index's start,
// and the cursor goes once they came of age.
func TestIdempotencyUnlistedJournals(t *testing.T) {
	ctx := testCtx(t)
	db := newDB(t)
	coll := db.Collection(imongo.CollIdempotency)
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	journal := func(at time.Time) string { return "expiry:" + at.UTC().Format("200601021504") }
	old := t0.Add(-3 * time.Hour)
	if _, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "expiry-cursor"}, {Key: "minute", Value: old.Add(-ttl - time.Hour)}},
		bson.D{{Key: "_id", Value: journal(old)}, {Key: "keys", Value: bson.A{"unlisted"}}},
		bson.D{{Key: "_id", Value: "unlisted"}, {Key: "request_hash", Value: "h"}, {Key: "done", Value: false}, {Key: "started_at", Value: old}},
	}); err != nil {
		t.Fatal(err)
	}
	s := imongo.NewIdempotency(db)
	if _, fresh, err := s.Begin(ctx, "listed", imongo.IdempotencyRecord{RequestHash: "h", StartedAt: t0}); err != nil || !fresh {
		t.Fatalf("bind: %v %v", fresh, err)
	}
	if n, err := s.Expire(ctx, old.Add(ttl+time.Minute), ttl); err != nil || n != 1 {
		t.Fatalf("the sweep that reaches the unlisted journal deleted %d keys (%v), want 1", n, err)
	}
	if n := countID(t, coll, "expiry-cursor"); n != 1 {
		t.Fatal("the cursor went before the index had run a ttl")
	}
	if n, err := s.Expire(ctx, t0.Add(ttl+time.Minute), ttl); err != nil || n != 1 {
		t.Fatalf("the sweep of the listed key deleted %d keys (%v), want 1", n, err)
	}
	// Journals an old process wrote in the index's first ttl come of age a
	// ttl later: the walk goes on until then.
	if n := countID(t, coll, "expiry-cursor"); n != 1 {
		t.Fatal("the cursor went before the journals of the index's first ttl came of age")
	}
	if _, err := s.Expire(ctx, t0.Add(2*ttl+time.Minute), ttl); err != nil {
		t.Fatal(err)
	}
	if n := countID(t, coll, "expiry-cursor"); n != 0 {
		t.Fatal("the cursor stayed once every journal an old process could have written came of age")
	}
}

func countID(t *testing.T, coll *mongo.Collection, id string) int64 {
	t.Helper()
	n, err := coll.CountDocuments(testCtx(t), bson.D{{Key: "_id", Value: id}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotencyKeysExpireAcrossProcesses: processes on one store that
// nothing orders their writes to (a client each, as capstone dev's APIs
// reach dev-store) bind keys at once, over a few minutes, while another
// sweeps the minutes that have come of age. Every key is swept once its
// time is up: none is left out of its journal, nor its journal out of the
// index, by a write of another process at the same moment.
func TestIdempotencyKeysExpireAcrossProcesses(t *testing.T) {
	db := newDB(t)
	ctx := testCtx(t)
	process := func(i int) *imongo.Idempotency {
		c, err := mongo.Connect(options.Client().ApplyURI(storeURI))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		s := imongo.NewIdempotency(c.Database(db.Name()))
		s.Writer = fmt.Sprintf("process-%d", i)
		return s
	}
	binders := []*imongo.Idempotency{process(0), process(1), process(2), process(3)}
	sweeper := process(4)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var keys []string
	bind := func(from, to int) {
		var wg sync.WaitGroup
		for m := from; m < to; m++ {
			for range 4 + rng.IntN(12) {
				key := fmt.Sprintf("k%03d", len(keys))
				keys = append(keys, key)
				s := binders[rng.IntN(len(binders))]
				at := t0.Add(time.Duration(m)*time.Minute + time.Duration(rng.Int64N(int64(time.Minute))))
				delay := time.Duration(rng.IntN(3000)) * time.Microsecond
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(delay)
					if _, fresh, err := s.Begin(ctx, key, imongo.IdempotencyRecord{RequestHash: "h", StreamID: key, StartedAt: at}); err != nil || !fresh {
						t.Errorf("bind %s: fresh %v, %v", key, fresh, err)
					}
				}()
			}
		}
		wg.Wait()
	}
	var swept atomic.Int64
	sweep := func(s *imongo.Idempotency, now time.Time) {
		n, err := s.Expire(ctx, now, ttl)
		if err != nil {
			t.Error(err)
		}
		swept.Add(int64(n))
	}
	bind(0, 4)
	// The next minutes' keys are bound while the first minutes' are swept
	// (those of minute 4 not yet: its time is not up).
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			sweep(sweeper, t0.Add(ttl+4*time.Minute-time.Second))
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		}
	}()
	bind(4, 8)
	<-done
	sweep(process(5), t0.Add(ttl+10*time.Minute)) // a process started since
	coll := db.Collection(imongo.CollIdempotency)
	var left []string
	for _, key := range keys {
		if countID(t, coll, key) != 0 {
			left = append(left, key)
		}
	}
	if len(left) > 0 || swept.Load() != int64(len(keys)) {
		t.Fatalf("of %d keys bound at once by %d processes, the sweeps deleted %d; kept for good: %v", len(keys), len(binders), swept.Load(), left)
	}
}

// TestIdempotencySweepByIDAlone: with ByIDAlone, a sweep reads and deletes
// every key by _id alone, which the embedded store serves from its index
// (any other filter reads the whole collection), and deletes just the keys
// come of age. The sweep's time is logged beside that of the filtered
// deletes, on as many keys.
func TestIdempotencySweepByIDAlone(t *testing.T) {
	ctx := testCtx(t)
	var scans atomic.Int64
	byIDAlone := func(f bson.Raw) bool {
		elems, _ := f.Elements()
		_, ok := f.Lookup("_id").StringValueOK()
		return len(elems) == 1 && ok
	}
	mc, _ := countingWhere(t, func(e *event.CommandStartedEvent) bool {
		switch e.CommandName {
		case "find":
			if f, _ := e.Command.Lookup("filter").DocumentOK(); !byIDAlone(f) {
				scans.Add(1)
			}
		case "delete":
			ds, _ := e.Command.Lookup("deletes").ArrayOK()
			vals, _ := ds.Values()
			for _, v := range vals {
				if q, _ := v.Document().Lookup("q").DocumentOK(); !byIDAlone(q) {
					scans.Add(1)
				}
			}
		}
		return false
	})
	ttl := 24 * time.Hour
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	const kept, due = 600, 60
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	for _, byID := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := imongo.NewIdempotency(mc.Database(newDB(t).Name()))
		s.ByIDAlone = byID
		for i := range kept + due {
			at := t0.Add(time.Duration(rng.Int64N(int64(time.Minute)))) // the minute that comes of age
			if i < kept {
				at = at.Add(time.Hour + time.Duration(rng.Int64N(int64(time.Hour))))
			}
			if _, _, err := s.Begin(ctx, fmt.Sprint("k", i), imongo.IdempotencyRecord{RequestHash: "h", StartedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		scans.Store(0)
		start := time.Now()
		n, err := s.Expire(ctx, t0.Add(ttl+time.Minute), ttl)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ByIDAlone %v: %d of %d keys expired in %s, %d commands with other filters", byID, n, kept+due, time.Since(start).Round(time.Millisecond), scans.Load())
		if n != due {
			t.Errorf("ByIDAlone %v: the sweep expired %d keys, want %d", byID, n, due)
		}
		if byID && scans.Load() != 0 {
			t.Errorf("the sweep sent %d finds or deletes filtered on more than _id", scans.Load())
		}
	}
}
