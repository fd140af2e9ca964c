package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestSendersStartAndStopWithTheCommits: senders run while there are
// commits to publish, at most as many as asked, and stop once idle, so that
// a process that only reads holds none; a commit queued as the last sender
// stops is published all the same. Bursts of random sizes come after
// random pauses around the senders' idle time (made short, so that a
// sender often stops just as a commit is queued).
func TestSendersStartAndStopWithTheCommits(t *testing.T) {
	const idle, maxSenders = 3 * time.Millisecond, 6
	defer outbox.SetSenderIdle(idle)()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	db := newDB(t)
	pub := &recorder{}
	ob := outbox.New(db, pub, "a", maxSenders, quiet, outbox.MaxInFlight(16, 10*time.Second))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ob.Close(ctx)
	}()
	if n := outbox.Senders(ob); n != 0 {
		t.Fatalf("%d senders before any commit, want none", n)
	}
	x := executor(db, ob)
	peak := 0
	for round := range 40 {
		n := 1 + rng.IntN(24)
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res, err := decider.Execute(context.Background(), x, fmt.Sprintf("r%d-%d", round, i), "t", commands.Meta{})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = res.Commit.ID()
			})
			peak = max(peak, outbox.Senders(ob))
		}
		wg.Wait()
		deadline := time.Now().Add(5 * time.Second)
		for _, id := range ids {
			for pub.count(id) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: commit %s published %d times after 5 s, want once (%d senders running)", round, id, pub.count(id), outbox.Senders(ob))
				}
				time.Sleep(time.Millisecond)
			}
		}
		time.Sleep(time.Duration(rng.Int64N(int64(3 * idle))))
	}
	if peak > maxSenders {
		t.Errorf("%d senders ran at once, want at most %d", peak, maxSenders)
	}
	waitUntil(t, "every sender stopped once idle", func() bool { return outbox.Senders(ob) == 0 })
}
