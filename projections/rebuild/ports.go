package rebuild

import (
	"context"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// Store is where the read models live, as a rebuild needs it. Collections
// are named physically; a read model's logical name is its projection's.
type Store interface {
	// Physical is the collection that holds a read model now.
	Physical(ctx context.Context, logical string) string
	// Fresh makes a new, empty collection for a rebuild of a read model
	// started at, and returns its name.
	Fresh(ctx context.Context, logical string, at time.Time) (string, error)
	// Buffer holds a rebuild's documents in memory, so that folding the
	// whole event store costs no round trip per commit.
	Buffer() Buffer
	// Writing writes the given read models (logical name -> collection) to
	// those collections, whatever serves them.
	Writing(targets map[string]string) projections.Documents
	// SwitchTo makes a collection the one that serves a read model, for
	// every process within SwitchSettles.
	SwitchTo(ctx context.Context, logical, collection string) error
	// SwitchSettles is how long after a switch a process may still write
	// to the read model's previous collection: a rebuild applies the
	// commits of that time again only after it.
	SwitchSettles() time.Duration
	// Snapshot returns every document of a collection as plain values
	// (maps, slices, strings, numbers), by id, without the store's own
	// bookkeeping (a document's revision).
	Snapshot(ctx context.Context, collection string) (map[string]map[string]any, error)
	// Drop removes a collection.
	Drop(ctx context.Context, collection string) error
	// SavePending records a catch-up still to be done (replacing the one
	// with its id); DonePending removes it.
	SavePending(ctx context.Context, p Pending) error
	DonePending(ctx context.Context, id string) error
	// ClaimPending returns the pending catch-ups whose beat is older than
	// before, each claimed for the caller: its beat moved to now, by one
	// caller only.
	ClaimPending(ctx context.Context, before, now time.Time) ([]Pending, error)
}

// Pending is a switching rebuild's catch-up, recorded before its switch and
// removed once it is done: if the rebuild's process dies in between, the
// switched read models lack what was appended while it ran, and another
// process finishes the catch-up (Rebuilder.Resume).
type Pending struct {
	ID string
	// Collections are the rebuilt collections (logical -> collection), Old
	// those they replace.
	Collections, Old map[string]string
	// Mark, when Marked, is where the rebuild found the commit log's end,
	// and Floor how far it was trimmed then (Recent.Mark); NotBefore is when
	// the catch-up's window begins.
	Mark, Floor int64
	Marked      bool
	NotBefore   time.Time
	// Beat is when the process doing the catch-up last said it was at it.
	Beat time.Time
}

// Buffer is a read-model store in memory whose documents Flush writes in
// bulk to a collection.
type Buffer interface {
	projections.Documents
	// Flush writes the documents of a read model to the collection.
	Flush(ctx context.Context, logical, collection string) error
}

// Events is the event store as a rebuild reads it: every commit recorded
// since a time, in order, and a stream's commits for the projections to
// fill gaps.
type Events interface {
	projections.Streams
	// Count is how many commits were recorded since since (all if zero).
	Count(ctx context.Context, since time.Time) (int64, error)
	// Estimate is about how many commits the store holds, known without
	// reading them.
	Estimate(ctx context.Context) (int64, error)
	// Scan calls fn with each commit recorded since since, each stream's
	// in version order as a rule (a projection fills the gap otherwise).
	Scan(ctx context.Context, since time.Time, fn func(events.Commit) error) (int, error)
	// LoadCommit reads one commit by its id (events.CommitID).
	LoadCommit(ctx context.Context, id string) (events.Commit, bool, error)
}

// Recent lists what was appended lately without reading the whole event
// store (the commit log): a rebuild's catch-up reads there what was
// appended while it ran.
type Recent interface {
	// Mark is a mark, every commit appended from now on listed after it,
	// and a floor: the commits listed up to it were stored before now, or
	// never will be.
	Mark(ctx context.Context) (mark, floor int64, err error)
	// Since lists, oldest first, the ids of the commits listed after mark,
	// and of those before it and after floor that were listed from
	// notBefore on; false when it no longer reaches back that far.
	Since(ctx context.Context, mark, floor int64, notBefore time.Time) ([]string, bool, error)
}
