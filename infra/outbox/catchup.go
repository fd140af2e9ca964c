package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/events"
)

// CatchUp makes the projections apply every stored commit, whatever the bus
// lost (a Pub/Sub restarted empty, a subscription created after a publish,
// a projection that gave up on a commit): the event store is the truth and
// the bus only a doorbell. It follows the commit log with one checkpoint per
// projection, the position up to which the projection has applied every
// stored commit the log lists; each sweep reads on from the lowest of them,
// and hands each commit a projection may lack to it. What this process's
// projectors applied (Applied) is skipped without a lookup, so in the
// common case a sweep reads one log entry per group of commits and nothing
// else, and passes it however young: the checkpoints trail the bus by a
// sweep's interval, which is what a process that dies leaves the next one
// to apply again. An entry whose commit is not in the store yet (its
// append is in flight) holds that projection's checkpoint until the commit
// appears, or until GiveUp, after which the append has certainly failed.
//
// Only the holder of the lease sweeps, so of several projector processes
// one catches up at a time. It also trims the log of what every
// projection's checkpoint has passed, so the log holds the last seconds of
// commits rather than the whole history. A projection with no checkpoint
// (a new one) starts where the log is trimmed: what came before, a rebuild
// gives it.
type CatchUp struct {
	Log     *CommitLog
	Commits CommitLoader
	Lease   *Lease
	Targets []CatchUpTarget
	// Applied, if set, says whether a projection already applied the
	// commit of a stream from a version on: this process's projectors (the
	// stream up to that version or past it), or a process's whose marks
	// Refresh read (that commit).
	Applied func(projection, streamID string, version int64) bool
	// Refresh, if set, is called at the start of each sweep, before
	// Applied is asked: it reads what the projector processes marked as
	// applied since the last sweep (Marks.Refresh). Its error is logged;
	// the sweep goes on with what Applied knows.
	Refresh func(ctx context.Context) error
	// InFlight, if set, says whether this process is still publishing the
	// commits of the entry at a position of the log (Outbox.Publishing):
	// they are on their way, not lost, and the catch-up leaves them to the
	// bus however old the entry, as it leaves an entry younger than MinAge.
	InFlight func(position int64) bool
	// Interval between sweeps; MinAge leaves the newest entries to the bus
	// (those Applied does not know of all of); GiveUp passes an id whose
	// commit never appeared; Batch bounds the entries one sweep reads.
	Interval, MinAge, GiveUp time.Duration
	// Settled, when set, is a time before which no entry is in flight (see
	// Relay.Settled): older entries are applied at once, and a commit of
	// theirs that was never stored is passed without waiting GiveUp.
	Settled time.Time
	// Awaited, when positive, is the log's last position as this process
	// started (at Settled): Current reports false until every projection
	// has passed it, so that a process restarted after a crash is not
	// ready while its read models lack commits the crashed one had
	// acknowledged. AwaitFor bounds that wait from Settled: a commit that
	// a projection can never apply holds its checkpoint for good (the
	// catch-up retries it at each sweep), and must not keep the process
	// unready for good too (zero: no bound).
	Awaited  int64
	AwaitFor time.Duration
	Batch    int
	// Workers bounds the commits loaded, and the deliveries made, at once
	// until the projections have passed Awaited (the backlog a crash left,
	// which the process's readiness waits for), and whenever a sweep finds
	// many commits lacking (hurryFrom: the bus is not delivering). Else a
	// sweep goes one commit at a time, as it finds what the bus lost now
	// and then, or what Applied has forgotten under a heavy load, and the
	// live traffic comes first. A projection gets a stream's commits one
	// after the other, in the log's order, whatever Workers is.
	Workers int
	// SweepFor bounds a sweep's time (zero: half the lease's TTL), so that
	// it ends while its lease holds: past it, a sweep saves how far it got
	// and Run renews the lease and goes on at once. A sweep of a long
	// backlog used to outlast its lease, and another process's catch-up
	// took the lease over and applied the same commits beside it.
	SweepFor time.Duration
	Logger   *slog.Logger
	// Caught, if set, is told of each commit the catch-up applied, from
	// the goroutines that deliver (at once for different streams).
	Caught func(projection string, c events.Commit)
	// Backlog, if set, is told of Held after each sweep (metrics).
	Backlog func(n int)

	trimmed int64        // how far this process last trimmed the log
	held    atomic.Int64 // Held, as the last sweep found it
	passed  atomic.Bool  // every projection has passed Awaited
	waived  atomic.Bool  // AwaitFor ran out first (logged once)
}

// trimEvery is how many entries every checkpoint must have passed before
// the log is trimmed again: deletes go in batches, not one a sweep.
const trimEvery = 256

// CatchUpTarget is one projection as the catch-up feeds it: Deliver applies
// a commit (idempotently) or fails. DeliverAll, when set, is used instead:
// it applies a stream's commits in order, all handed over at once, and
// returns each one's error (the bus's consumer folds them together).
type CatchUpTarget struct {
	Name       string
	Deliver    func(ctx context.Context, c events.Commit) error
	DeliverAll func(ctx context.Context, cs []events.Commit) []error
}

// deliver applies a stream's commits in order, with DeliverAll or one by
// one, and returns each one's error.
func (t CatchUpTarget) deliver(ctx context.Context, cs []events.Commit) []error {
	if t.DeliverAll != nil {
		return t.DeliverAll(ctx, cs)
	}
	errs := make([]error, len(cs))
	for i, c := range cs {
		errs[i] = t.Deliver(ctx, c)
	}
	return errs
}

// checkpointDoc is a projection's position in the commit log, kept in the
// log's collection under an id that is not a position.
type checkpointDoc struct {
	ID       string `bson:"_id"`
	Position int64  `bson:"position"`
}

func checkpointID(projection string) string { return "checkpoint:" + projection }

// Run sweeps until ctx ends.
func (c *CatchUp) Run(ctx context.Context) {
	sweepEvery(ctx, c.Interval, c.Lease, c.Logger, "catch-up", func(ctx context.Context) (bool, error) {
		_, more, err := c.sweep(ctx)
		return more, err
	})
}

// Sweep applies what the projections lack of the log's next entries and
// moves their checkpoints on; it returns how many commits it applied.
func (c *CatchUp) Sweep(ctx context.Context) (int, error) {
	applied, _, err := c.sweep(ctx)
	return applied, err
}

// sweepFor is how long a sweep may go on: its own bound if set, else half
// its lease's TTL, else (no lease) a day.
func sweepFor(bound time.Duration, lease *Lease) time.Duration {
	switch {
	case bound > 0:
		return bound
	case lease != nil && lease.TTL > 0:
		return lease.TTL / 2
	}
	return 24 * time.Hour
}

// sweep is Sweep, and reports too whether there is more to do at once: its
// time ran out before it had done what it read, or it read a full Batch.
func (c *CatchUp) sweep(ctx context.Context) (applied int, more bool, err error) {
	until := time.Now().Add(sweepFor(c.SweepFor, c.Lease))
	if c.Refresh != nil {
		if err := c.Refresh(ctx); err != nil && c.Logger != nil {
			c.Logger.Warn("catch-up: the marks of what the projectors applied are not read this sweep", "err", err)
		}
	}
	trimmed, err := c.Log.Trimmed(ctx)
	if err != nil {
		return 0, false, err
	}
	cps := make([]int64, len(c.Targets))
	from := int64(-1)
	for i, t := range c.Targets {
		var cp checkpointDoc
		err := c.Log.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: checkpointID(t.Name)}}).Decode(&cp)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, false, err
		}
		cps[i] = max(cp.Position, trimmed) // nothing is left before the trim
		if from < 0 || cps[i] < from {
			from = cps[i]
		}
	}
	if len(c.Targets) == 0 {
		c.passed.Store(true)
		return 0, false, nil
	}
	now := time.Now()
	by := now.Add(-c.MinAge)
	if c.Settled.After(by) {
		by = c.Settled
	}
	// An entry younger than MinAge, or whose commits this process is still
	// publishing, is left to the bus, unless this process applied all of
	// it already: the checkpoints pass it at once, so that a crash leaves
	// the next process the commits of the last sweep's interval and those
	// the bus had in flight to apply again, not also the last MinAge's
	// worth.
	entries, err := c.Log.ReadWhile(ctx, from+1, max(c.Batch, 1), func(e LogEntry) bool {
		lost := !e.CreatedAt.After(by) && (c.InFlight == nil || !c.InFlight(e.Position))
		return lost || c.appliedAll(e, cps)
	})
	if err != nil {
		return 0, false, err
	}
	// A commit not stored yet, or that a projection failed on, holds that
	// projection's checkpoint (the next sweep comes back to it), but not
	// the entries after it: they are applied meanwhile.
	moved, held := make([]bool, len(c.Targets)), make([]bool, len(c.Targets))
	var errs []error
	backlog := c.Awaited > 0 && !c.passed.Load() // a crash's, which readiness waits for
	for rest, first := entries, true; len(rest) > 0; first = false {
		if !first && time.Now().After(until) { // the first chunk whatever the time: each sweep gets on
			more = true
			break
		}
		n := 0
		for ids := 0; n < len(rest) && (n == 0 || ids+len(rest[n].CommitIDs) <= sweepChunk); n++ {
			ids += len(rest[n].CommitIDs)
		}
		chunk := rest[:n]
		rest = rest[n:]
		lacking, k, err := c.apply(ctx, chunk, cps, now, until, backlog)
		applied += k
		errs = append(errs, err)
		for e, entry := range chunk {
			for i := range c.Targets {
				if cps[i] >= entry.Position {
					continue
				}
				if lacking[i][e] {
					held[i] = true
				} else if !held[i] {
					cps[i], moved[i] = entry.Position, true
				}
			}
		}
	}
	if slices.Min(cps) >= c.Awaited {
		c.passed.Store(true)
	}
	waiting, low := 0, slices.Min(cps)
	for _, e := range entries {
		if e.Position > low && !e.CreatedAt.After(by) {
			waiting += len(e.CommitIDs)
		}
	}
	c.held.Store(int64(waiting))
	if c.Backlog != nil {
		c.Backlog(waiting)
	}
	saved := true
	for i, t := range c.Targets {
		if !moved[i] {
			continue
		}
		if err := replace(ctx, c.Log.Coll, checkpointID(t.Name), checkpointDoc{ID: checkpointID(t.Name), Position: cps[i]}); err != nil {
			errs = append(errs, err)
			saved = false
		}
	}
	if passed := slices.Min(cps); saved && passed >= c.trimmed+trimEvery {
		if upTo, err := c.Log.Trim(ctx, passed, max(c.Batch, trimEvery)); err != nil {
			errs = append(errs, fmt.Errorf("trim the commit log: %w", err))
		} else {
			c.trimmed = upTo
		}
	}
	// A full batch read leaves more of the log to read: at once, not
	// after an interval, as long as the sweeps get on (not when a commit
	// held holds every checkpoint).
	more = (more || time.Now().After(until) || len(entries) == max(c.Batch, 1)) && (applied > 0 || slices.Contains(moved, true))
	return applied, more, errors.Join(errs...)
}

// appliedAll reports whether this process applied every commit of the
// entry for every projection whose checkpoint cps has not passed it.
func (c *CatchUp) appliedAll(e LogEntry, cps []int64) bool {
	if c.Applied == nil {
		return false
	}
	for i, t := range c.Targets {
		if cps[i] >= e.Position {
			continue
		}
		for _, id := range e.CommitIDs {
			if stream, first, ok := events.ParseCommitID(id); !ok || !c.Applied(t.Name, stream, first) {
				return false
			}
		}
	}
	return true
}

// Current reports whether the projections have applied every commit
// logged before this process started (Awaited), or AwaitFor has passed
// since Settled without their doing so: the process's readiness.
func (c *CatchUp) Current() bool {
	if c.Awaited <= 0 || c.passed.Load() {
		return true
	}
	if c.AwaitFor <= 0 || time.Since(c.Settled) < c.AwaitFor {
		return false
	}
	if c.waived.CompareAndSwap(false, true) {
		// Either a projection keeps failing on a commit (each retry is
		// warned about), or the backlog is long: a crash in a large import
		// leaves seconds of it, which a restart applies at a few hundred
		// commits a second, each read model cold.
		c.Logger.Warn("ready before the read models applied every commit stored before the start; the catch-up goes on applying them while the process serves",
			"awaited_position", c.Awaited, "waited", c.AwaitFor, "backlog_at_last_sweep", c.Held())
	}
	return true
}

// Held is how many commits logged MinAge ago or more (or before Settled)
// a projection had yet to pass at the last sweep: none, unless one is
// held (a commit a projection keeps failing on, or an append still in
// flight). Where the log alone keeps the commits on their way (LogOnly),
// it is what the relay's backlog is elsewhere.
func (c *CatchUp) Held() int { return int(c.held.Load()) }

// Behind is how many log entries the projection's checkpoint trails the
// log's end by (for metrics and tests).
func (c *CatchUp) Behind(ctx context.Context, projection string) (int64, error) {
	var cp checkpointDoc
	err := c.Log.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: checkpointID(projection)}}).Decode(&cp)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, err
	}
	trimmed, err := c.Log.Trimmed(ctx)
	if err != nil {
		return 0, err
	}
	tail, err := c.Log.Tail(ctx)
	return tail - max(cp.Position, trimmed), err
}
