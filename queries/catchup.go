package queries

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// ErrNotCaughtUp is returned when the read models did not show a write in
// the time a read (or a write's answer) may wait for them.
var ErrNotCaughtUp = errors.New("the read models have not caught up with the write yet")

// Position is how far a read must have seen one stream: the commits a write
// stored on it, versions First to Last (First starts a commit).
type Position struct {
	StreamType string
	StreamID   string
	First      int64
	Last       int64
}

// Catchup waits until read models show given writes: what a read that must
// see the caller's own writes waits for, and what the all-in-one service's
// writes wait for before they answer. Projections fill gaps before they
// apply, so a read model that shows a stream's last commit shows every
// earlier one.
type Catchup struct {
	Checkers []projections.Checker
	// Get reads a read-model document as the store holds it now.
	Get projections.Getter
	// Streams reads back the commits of a position (to know what they touch).
	Streams Streams
	// Log, when set, is what this process's projectors have applied: waits
	// end the moment it is projected, without polling the store.
	Log *projections.AppliedLog

	reads, awaited atomic.Int64
}

// Reads is how many documents the waits read to tell whether a read model
// shows a stream, since the Catchup was made.
func (c *Catchup) Reads() int64 { return c.reads.Load() }

// Awaited is how many commits in hand the waits were given (WaitCommits),
// since the Catchup was made.
func (c *Catchup) Awaited() int64 { return c.awaited.Load() }

// Wait waits at most maxWait until the read models named (every one when
// none is named) show every position, or returns ErrNotCaughtUp.
func (c *Catchup) Wait(ctx context.Context, positions []Position, maxWait time.Duration, readModels ...string) error {
	byStream := make([]stream, 0, len(positions))
	for _, p := range positions {
		byStream = append(byStream, stream{pos: p})
	}
	return c.wait(ctx, byStream, maxWait, 0, readModels)
}

// WaitCommits is Wait for commits in hand (a write's own), which need not be
// read back. The store is first asked after settleGrace: a write's commits
// are usually projected sooner, which this process's log reports for free.
func (c *Catchup) WaitCommits(ctx context.Context, commits []events.Commit, maxWait time.Duration, readModels ...string) error {
	c.awaited.Add(int64(len(commits)))
	var byStream []stream
	for _, cm := range commits {
		i := slices.IndexFunc(byStream, func(s stream) bool { return s.pos.StreamID == cm.StreamID })
		if i < 0 {
			byStream = append(byStream, stream{pos: Position{StreamType: cm.StreamType, StreamID: cm.StreamID, First: cm.FirstVersion}})
			i = len(byStream) - 1
		}
		s := &byStream[i]
		s.commits = append(s.commits, cm)
		s.pos.First, s.pos.Last = min(s.pos.First, cm.FirstVersion), max(s.pos.Last, cm.LastVersion())
	}
	for i := range byStream {
		s := &byStream[i]
		slices.SortFunc(s.commits, func(a, b events.Commit) int { return int(a.FirstVersion - b.FirstVersion) })
		s.resolved = true
	}
	grace := time.Duration(0)
	if c.Log != nil {
		grace = settleGrace
	}
	return c.wait(ctx, byStream, maxWait, grace, readModels)
}

// Shown reports whether this process's log says every read model that
// folds anything of cm shows it: what a wait for cm would find at once,
// told without reading the store. False when there is no log, or it does
// not know (then only the store can tell).
func (c *Catchup) Shown(cm events.Commit) bool {
	if c.Log == nil {
		return false
	}
	one := []events.Commit{cm}
	for _, ck := range c.Checkers {
		if ck.Concerns(one) && !c.Log.Has(ck.Name(), cm.StreamID, cm.LastVersion()) {
			return false
		}
	}
	return true
}

// settleGrace is how long a write's wait trusts this process's log alone
// before asking the store too.
const settleGrace = 20 * time.Millisecond

// Polling the store, when it must be polled, starts often and slows down.
// With this process's log, which tells the moment each commit waited for
// is projected, a poll asks the store about the checksAtOnce oldest of
// what is still awaited only: what the log may have forgotten (the oldest
// first), where asking about everything would read, at an import's end,
// the documents of every row still in flight (thousands, each poll) while
// the projectors write them. But what the log has never heard of may be
// long shown, not in flight (the streams an import found as its file has
// them, after a restart: 150 rows waited 3.5 s, eight documents a tenth of
// a second): a poll that finds every one it asked about shown is followed
// at once by one that asks about twice as many, up to maxChecksAtOnce,
// and one that finds some still to come halves them again.
const (
	checksAtOnce    = 8
	maxChecksAtOnce = 512

	firstPoll = 5 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// pause waits for a poll's turn (a variable for tests, which count them).
var pause = func(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-timer.C:
	}
	return nil
}

// stream is one stream of what a wait is for, with its commits once known.
type stream struct {
	pos      Position
	commits  []events.Commit
	resolved bool
}

// pending is one read model that has yet to show one stream.
type pending struct {
	ck projections.Checker
	s  *stream
}

func (c *Catchup) wait(ctx context.Context, streams []stream, maxWait, grace time.Duration, readModels []string) (err error) {
	deadline := time.Now().Add(maxWait)
	// The checks read the store, and a slow store read runs past the
	// deadline too: under the deadline's context a check cut short by it
	// is ErrNotCaughtUp, as a pause that reaches it is. Checked only
	// between passes, an import's wait for its thousands of rows on an
	// overloaded store once took 4 minutes against its 10 seconds.
	caller := ctx
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer func() {
		// The store's driver refuses a read it expects to outlast the
		// deadline a round trip before it, with an error that wraps
		// context.DeadlineExceeded while ctx has not ended yet: that is
		// the bound too, not a failure of the store.
		if err != nil && caller.Err() == nil && (ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)) {
			err = ErrNotCaughtUp
		}
	}()
	var todo []pending
	for i := range streams {
		for _, ck := range c.Checkers {
			if len(readModels) == 0 || slices.Contains(readModels, ck.ReadModel()) {
				todo = append(todo, pending{ck: ck, s: &streams[i]})
			}
		}
	}
	// Notified before anything is checked, so nothing projected meanwhile is missed.
	wake := make(chan struct{}, 1)
	if c.Log != nil {
		for _, p := range todo {
			cancel := c.Log.Notify(p.ck.Name(), p.s.pos.StreamID, p.s.pos.Last, wake)
			defer cancel()
		}
	}
	if todo, err = c.dropConcerned(ctx, todo); err != nil {
		return err
	}
	get := func(ctx context.Context, collection, id string, into any) (bool, error) {
		c.reads.Add(1)
		return c.Get(ctx, collection, id, into)
	}
	poll, atOnce := firstPoll, checksAtOnce
	nextCheck := time.Now().Add(grace)
	for {
		todo = slices.DeleteFunc(todo, func(p pending) bool {
			return c.Log != nil && c.Log.Has(p.ck.Name(), p.s.pos.StreamID, p.s.pos.Last)
		})
		if len(todo) > 0 && !time.Now().Before(nextCheck) {
			checks := len(todo)
			if c.Log != nil {
				checks = min(checks, atOnce)
			}
			kept := todo[:0]
			for i, p := range todo {
				if i >= checks {
					kept = append(kept, p)
					continue
				}
				ok, err := p.ck.Applied(ctx, get, p.s.commits)
				if err != nil {
					return fmt.Errorf("check %s for %s: %w", p.ck.Name(), p.s.pos.StreamID, err)
				}
				if !ok {
					kept = append(kept, p)
				}
			}
			allShown := len(kept) == len(todo)-checks
			todo = kept
			if allShown && c.Log != nil {
				atOnce = min(2*atOnce, maxChecksAtOnce)
				continue // the next ones at once
			}
			atOnce = max(atOnce/2, checksAtOnce)
			nextCheck = time.Now().Add(poll)
			poll = min(2*poll, maxPoll)
		}
		if len(todo) == 0 {
			return nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return ErrNotCaughtUp
		}
		until := nextCheck
		if deadline.Before(until) {
			until = deadline
		}
		if err := pause(ctx, until.Sub(now), wake); err != nil {
			return err
		}
	}
}

// dropConcerned reads back the commits of the streams that need them and
// drops what no read model waited on is concerned with.
func (c *Catchup) dropConcerned(ctx context.Context, todo []pending) ([]pending, error) {
	kept := todo[:0]
	for _, p := range todo {
		if c.Log != nil && c.Log.Has(p.ck.Name(), p.s.pos.StreamID, p.s.pos.Last) {
			continue
		}
		if !p.s.resolved {
			commits, err := c.Streams.ReadStream(ctx, p.s.pos.StreamID, events.ReadOptions{From: p.s.pos.First, UntilVersion: p.s.pos.Last})
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p.s.pos.StreamID, err)
			}
			p.s.commits, p.s.resolved = commits, true
		}
		if len(p.s.commits) > 0 && p.ck.Concerns(p.s.commits) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}
