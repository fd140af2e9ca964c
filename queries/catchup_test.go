package queries

import (
	"context"
	"errors"
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

// slowChecker is a read model on a slow store: each check reads for a
// while (as a store read does, it stops when its context ends) and finds
// the commit not shown.
type slowChecker struct{ shownChecker }

func (c *slowChecker) Applied(ctx context.Context, _ projections.Getter, _ []events.Commit) (bool, error) {
	c.asked.Add(1)
	select {
	case <-time.After(50 * time.Millisecond):
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// TestWaitEndsAtItsBoundOnASlowStore: a wait whose checks read a slow
// store ends at its bound with ErrNotCaughtUp. The bound was looked at only
// between passes of checks, each a store read of its own: an import's wait
// for its read models on an overloaded store took 4 minutes against its
// 10 seconds.
func TestWaitEndsAtItsBoundOnASlowStore(t *testing.T) {
	ck := &slowChecker{}
	c := &Catchup{Checkers: []projections.Checker{ck}} // no log: every commit is checked each pass
	const bound = 300 * time.Millisecond
	start := time.Now()
	err := c.WaitCommits(context.Background(), commitsOf(100), bound) // a pass: 100 checks of 50 ms
	took := time.Since(start)
	if !errors.Is(err, ErrNotCaughtUp) || took > bound+time.Second {
		t.Fatalf("a wait bound to %s on a slow store: %v after %s (%d checks)", bound, err, took, ck.asked.Load())
	}
	// The caller's own end is the caller's, not a wait's bound.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := c.WaitCommits(ctx, commitsOf(100), time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("a wait whose caller went away: %v, want context.Canceled", err)
	}
}

// refusingChecker is a read model on a store whose driver refuses a read it
// expects to outlast its context's deadline, a round trip before the
// deadline: with an error that wraps context.DeadlineExceeded while the
// context has not ended yet (the MongoDB driver's "calculated server-side
// timeout (0 ms)").
type refusingChecker struct{ shownChecker }

func (c *refusingChecker) Applied(ctx context.Context, _ projections.Getter, _ []events.Commit) (bool, error) {
	c.asked.Add(1)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 40*time.Millisecond {
		return false, fmt.Errorf("calculated server-side timeout (0 ms) is less than or equal to 0: %w", context.DeadlineExceeded)
	}
	time.Sleep(20 * time.Millisecond)
	return false, nil
}

// TestWaitEndsNotCaughtUpWhenTheDriverRefusesAtTheBound: a check the
// store's driver refuses as its deadline nears ends the wait as the bound
// does, ErrNotCaughtUp (503 not-caught-up), not as a failure of the store:
// in a fault trial, a read waiting for a stopped projector answered 500
// twice in ten.
func TestWaitEndsNotCaughtUpWhenTheDriverRefusesAtTheBound(t *testing.T) {
	ck := &refusingChecker{}
	c := &Catchup{Checkers: []projections.Checker{ck}}
	for range 3 {
		bound := time.Duration(100+rand.IntN(300)) * time.Millisecond
		if err := c.WaitCommits(context.Background(), commitsOf(1+rand.IntN(50)), bound); !errors.Is(err, ErrNotCaughtUp) {
			t.Fatalf("a wait bound to %s whose last check the driver refused: %v, want ErrNotCaughtUp", bound, err)
		}
	}
}
