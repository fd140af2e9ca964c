package mongo_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestIdempotencyKeysExpire: keys bound at random moments over a few days
// are kept for the TTL and no longer: a sweep deletes exactly the keys whose
// time is up (a key bound again after that is fresh), by _id through the
// journal of their minute; sweeps repeat harmlessly.
func TestIdempotencyKeysExpire(t *testing.T) {
	ctx := testCtx(t)
	s := imongo.NewIdempotency(newDB(t))
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
	ctx := testCtx(t)
	s := imongo.NewIdempotency(newDB(t))
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
