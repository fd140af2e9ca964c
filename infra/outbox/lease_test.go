package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestLeaseOneHolderAcrossProcesses: relays of separate processes (a client
// each, and no write gate ordering their writes, as under capstone dev)
// contend for a lease whose holder's term just ran out: the holder renews
// it or gives it up, the others take it over, all at once in a random
// order. Never do two hold it: at most one contender wins, and then a
// latecomer is refused and the winner renews.
func TestLeaseOneHolderAcrossProcesses(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	colls := make([]*mongo.Collection, 5)
	for i := range colls {
		client, err := mongo.Connect(options.Client().ApplyURI(store.URI()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		colls[i] = client.Database(db.Name()).Collection(outbox.LeaseCollection)
	}
	lease := func(process int, name, holder string, ttl time.Duration) *outbox.Lease {
		l := &outbox.Lease{Coll: colls[process], Name: name, Holder: holder, TTL: ttl}
		l.Terms = true
		return l
	}
	for round := range 60 {
		name := fmt.Sprintf("relay-%d", round)
		// h0 held the lease for a moment: now it has run out.
		if held, err := lease(0, name, "h0", time.Millisecond).Hold(ctx); err != nil || !held {
			t.Fatalf("round %d: the first holder: %v %v", round, held, err)
		}
		time.Sleep(3 * time.Millisecond)
		contenders := 2 + rng.IntN(3)
		release := rng.IntN(3) == 0 // h0 gives it up rather than renew it
		won := make([]bool, contenders)
		var wg sync.WaitGroup
		for i := range contenders {
			l := lease(i, name, fmt.Sprintf("h%d", i), time.Minute)
			delay := time.Duration(rng.IntN(2000)) * time.Microsecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				if i == 0 && release {
					l.Release(ctx)
					return
				}
				held, err := l.Hold(ctx)
				if err != nil {
					t.Error(err)
				}
				won[i] = held
			}()
		}
		wg.Wait()
		var winners []int
		for i, w := range won {
			if w {
				winners = append(winners, i)
			}
		}
		if len(winners) > 1 {
			t.Fatalf("round %d (%d contenders, h0 releasing: %v): %v all hold the lease", round, contenders, release, winners)
		}
		if len(winners) == 0 {
			continue // a release and the takeovers raced: the lease is free
		}
		w := winners[0]
		if held, err := lease(4, name, "late", time.Minute).Hold(ctx); err != nil || held {
			t.Fatalf("round %d: h%d won the lease, then a latecomer took it too: %v %v", round, w, held, err)
		}
		if held, err := lease(w, name, fmt.Sprintf("h%d", w), time.Minute).Hold(ctx); err != nil || !held {
			t.Fatalf("round %d: h%d won the lease, then could not renew it: %v %v", round, w, held, err)
		}
	}
}

// TestLeaseStalledTakeoverHoldsNothing: a process reads that the lease has
// run out, then stalls while another takes it over and renews it a few
// times, each renewal deleting the term before. Its takeover then inserts
// a term that was deleted, which no insert refuses: it must not hold the
// lease for that, nor disturb the holder.
func TestLeaseStalledTakeoverHoldsNothing(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	lease := func(holder string, ttl time.Duration) *outbox.Lease {
		return &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "relay", Holder: holder, TTL: ttl, Terms: true}
	}
	if held, err := lease("dead", time.Millisecond).Hold(ctx); err != nil || !held {
		t.Fatalf("dead: %v %v", held, err)
	}
	time.Sleep(3 * time.Millisecond)
	holder := lease("holder", time.Minute)
	stalled := lease("stalled", time.Minute)
	outbox.AfterTermRead(stalled, func() {
		for range 3 {
			if held, err := holder.Hold(ctx); err != nil || !held {
				t.Fatalf("holder: %v %v", held, err)
			}
		}
	})
	if held, err := stalled.Hold(ctx); err != nil || held {
		t.Fatalf("a takeover decided on a term long gone holds the lease: %v %v", held, err)
	}
	if held, err := holder.Hold(ctx); err != nil || !held {
		t.Fatalf("the holder lost the lease to a stalled takeover: %v %v", held, err)
	}
	n, err := db.Collection(outbox.LeaseCollection).CountDocuments(ctx, bson.D{})
	if err != nil || n != 1 {
		t.Fatalf("%d terms of the lease are kept, want the last one: %v", n, err)
	}
}
