package mongo_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestScanAndEstimate: commits appended to random streams in a random
// interleaving come back from a scan each once, each stream's in version
// order (the scan is in the order they were stored, not sorted), from a
// time on exactly those recorded since; the store's estimate of how many
// it holds is about the count.
func TestScanAndEstimate(t *testing.T) {
	ctx := testCtx(t)
	es := imongo.NewEventStore(newDB(t), registry)
	base := time.Now().UTC().Truncate(time.Millisecond)
	next := map[string]int64{}
	var appended []events.Commit
	n := 50 + rand.IntN(150)
	for i := range n {
		stream := fmt.Sprint("scan-", rand.IntN(1+n/4))
		first := next[stream] + 1
		data := []events.Data{created("t")}
		if first > 1 {
			data = []events.Data{edited(fmt.Sprint("t", i))}
		}
		c := newCommit(stream, first, base.Add(time.Duration(i)*time.Millisecond), data...)
		if err := es.Append(ctx, c); err != nil {
			t.Fatal(err)
		}
		next[stream] = c.LastVersion()
		appended = append(appended, c)
	}
	since := appended[rand.IntN(n)].RecordedAt
	for _, from := range []time.Time{{}, since} {
		seen := map[string]int64{}
		got, err := es.Scan(ctx, from, func(c events.Commit) error {
			// From a time on, a stream's first commit may be any version.
			if last, ok := seen[c.StreamID]; (ok || from.IsZero()) && c.FirstVersion != last+1 {
				return fmt.Errorf("%s: version %d after %d", c.StreamID, c.FirstVersion, last)
			}
			if c.RecordedAt.Before(from) {
				return fmt.Errorf("%s recorded before %v", c.ID(), from)
			}
			seen[c.StreamID] = c.LastVersion()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, c := range appended {
			if !c.RecordedAt.Before(from) {
				want++
			}
		}
		if got != want {
			t.Fatalf("a scan from %v gave %d commits; want %d", from, got, want)
		}
	}
	est, err := es.Estimate(ctx)
	if err != nil || est < int64(n)*9/10 || est > int64(n)*11/10 {
		t.Fatalf("Estimate = %d, %v; %d commits stored", est, err, n)
	}
}

// TestScanStopsAtItsHandlersError: an error of the function a scan hands
// the commits to, at a random one of several of the store's batches, ends
// the scan with that error, after exactly the commits before it; the
// commits come in the order they were stored.
func TestScanStopsAtItsHandlersError(t *testing.T) {
	ctx := testCtx(t)
	es := imongo.NewEventStore(newDB(t), registry)
	base := time.Now().UTC().Truncate(time.Millisecond)
	n := 300 + rand.IntN(300)
	for i := range n {
		if err := es.Append(ctx, newCommit(fmt.Sprint("stop-", i), 1, base.Add(time.Duration(i)*time.Millisecond), created("t"))); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		stop := rand.IntN(n)
		boom := fmt.Errorf("stop at %d", stop)
		handed := 0
		got, err := es.Scan(ctx, time.Time{}, func(c events.Commit) error {
			if c.StreamID != fmt.Sprint("stop-", handed) {
				return fmt.Errorf("commit %d is %s", handed, c.StreamID)
			}
			if handed == stop {
				return boom
			}
			handed++
			return nil
		})
		if err != boom || got != stop || handed != stop {
			t.Fatalf("a scan stopped at commit %d of %d: %d handed, %d counted, %v", stop, n, handed, got, err)
		}
	}
}
