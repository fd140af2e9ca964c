package queries

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// shownChecker is a read model that shows a stream once shown says so,
// counting what it is asked.
type shownChecker struct {
	shown func(streamID string) bool
	asked atomic.Int64
}

func (c *shownChecker) Name() string                                { return "model" }
func (c *shownChecker) Handle(context.Context, events.Commit) error { return nil }
func (c *shownChecker) ReadModel() string                           { return "model" }
func (c *shownChecker) Concerns(commits []events.Commit) bool       { return len(commits) > 0 }
func (c *shownChecker) Applied(_ context.Context, _ projections.Getter, cs []events.Commit) (bool, error) {
	c.asked.Add(1)
	return c.shown(cs[0].StreamID), nil
}

// countPauses counts the waits' pauses, and the most checks made between
// one and the next, until the test ends.
func countPauses(t *testing.T, ck *shownChecker) (pauses *int, mostBetween *int64) {
	pauses, mostBetween = new(int), new(int64)
	before := pause
	last := int64(0)
	pause = func(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
		*pauses++
		*mostBetween = max(*mostBetween, ck.asked.Load()-last)
		last = ck.asked.Load()
		return before(ctx, d, wake)
	}
	t.Cleanup(func() { pause = before })
	return pauses, mostBetween
}

func commitsOf(n int) []events.Commit {
	cs := make([]events.Commit, n)
	for i := range cs {
		cs[i] = events.Commit{StreamType: "user", StreamID: fmt.Sprint("s", i), FirstVersion: 1,
			Events: []events.Envelope{{StreamID: fmt.Sprint("s", i), Version: 1}}}
	}
	return cs
}

// TestWaitForWhatTheLogHasNotHeardOf: a wait for commits this process's
// log knows nothing of (an import's streams found as its file has them,
// after a restart), all long shown, asks about more of them each poll and
// does not pause between: a handful of pauses for hundreds of commits,
// where eight a poll took one a tenth of a second each (3.5 s for 150
// rows). While none of what it asks about is shown, each poll asks about
// no more than the first ones (the rows of an import still in flight,
// whose documents it would read again and again).
func TestWaitForWhatTheLogHasNotHeardOf(t *testing.T) {
	n := 100 + rand.IntN(2000)
	ck := &shownChecker{shown: func(string) bool { return true }}
	pauses, _ := countPauses(t, ck)
	c := &Catchup{Checkers: []projections.Checker{ck}, Log: projections.NewAppliedLogOf(16, ck)}
	if err := c.WaitCommits(context.Background(), commitsOf(n), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ck.asked.Load() != int64(n) {
		t.Errorf("asked %d times about %d commits, want once each", ck.asked.Load(), n)
	}
	// One pause for the grace in which the log alone is trusted.
	if *pauses > 1 {
		t.Errorf("%d commits long shown took %d pauses, want 1 (the grace)", n, *pauses)
	}

	var shownAfter atomic.Int64
	shownAfter.Store(int64(20 + rand.IntN(40)))
	ck = &shownChecker{}
	ck.shown = func(string) bool { return ck.asked.Load() > shownAfter.Load() }
	pauses, most := countPauses(t, ck)
	c = &Catchup{Checkers: []projections.Checker{ck}, Log: projections.NewAppliedLogOf(16, ck)}
	if err := c.WaitCommits(context.Background(), commitsOf(n), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d commits, shown after %d checks: %d pauses, at most %d checks between two", n, shownAfter.Load(), *pauses, *most)
	if *most > checksAtOnce {
		t.Errorf("a poll asked about %d commits while none it asked about was shown, want at most %d", *most, checksAtOnce)
	}
}
