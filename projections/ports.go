package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/retry"
)

// Documents is the read-model storage a projection writes to: whole documents
// by id, which every store serves from its primary index. Each stored
// document has a revision, so that projector replicas racing on one
// document cannot overwrite each other's work.
type Documents interface {
	// Load decodes the document into into and returns its revision (0 and
	// found false when it does not exist).
	Load(ctx context.Context, collection, id string, into any) (found bool, rev int64, err error)
	// Store writes the document under id if its stored revision is still rev
	// (0: it must not exist yet), or fails with ErrConflict.
	Store(ctx context.Context, collection, id string, doc any, rev int64) error
}

// Creator is Documents that can store a document that must not exist yet
// even where Store checks no revision (the all-in-one service's read
// models, written by one process). A projection folding a stream's first
// commit into the stream's own document creates it without looking it up:
// it exists only if the commit was applied before (a redelivery), and then
// Create fails with ErrConflict and the projection loads it as usual.
type Creator interface {
	Create(ctx context.Context, collection, id string, doc any) error
}

// open prepares the read-modify-write of one document: it loads the
// document into into and returns what stores the result at the revision
// loaded, or, when blind (a stream's first commit into the stream's own
// document) and docs can create, loads nothing and returns what creates it.
func open(ctx context.Context, docs Documents, collection, id string, into any, blind bool) (found bool, store func(doc any) error, err error) {
	if creator, ok := docs.(Creator); ok && blind {
		return false, func(doc any) error { return creator.Create(ctx, collection, id, doc) }, nil
	}
	found, rev, err := docs.Load(ctx, collection, id, into)
	return found, func(doc any) error { return docs.Store(ctx, collection, id, doc, rev) }, err
}

// ErrConflict is returned by Store when another writer changed the document
// since it was loaded; the projection loads it again and re-applies.
var ErrConflict = errors.New("read-model document changed concurrently")

// maxConflicts bounds how often a projection retries one commit after losing races.
const maxConflicts = 50

// backoff waits a little, growing and jittered, after a lost race, so that
// replicas contending for one document take turns instead of colliding
// again: up to 2 ms more with each attempt, at most 50 ms.
func backoff(ctx context.Context, attempt int) {
	retry.Backoff(ctx, attempt, 2*time.Millisecond, 25)
}

// Streams reads commits back from the event store to fill gaps.
type Streams interface {
	ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error)
}

// fillGap reads a stream's commits after version have up to version last
// from the event store: those a projection has not been delivered (yet)
// when a later one arrives. The store must have them all: a commit is
// delivered only after its append.
func fillGap(ctx context.Context, streams Streams, streamID string, have, last int64) ([]events.Commit, error) {
	commits, err := streams.ReadStream(ctx, streamID, events.ReadOptions{From: have + 1, UntilVersion: last})
	if err != nil {
		return nil, fmt.Errorf("fill gap in %s after version %d: %w", streamID, have, err)
	}
	if n := len(commits); n == 0 || commits[n-1].LastVersion() < last {
		return nil, fmt.Errorf("fill gap in %s after version %d: the store does not have version %d yet", streamID, have, last)
	}
	return commits, nil
}

// Projection turns commits into read models. Handle must be idempotent.
type Projection interface {
	Name() string
	Handle(ctx context.Context, c events.Commit) error
}

// StreamProjection is a Projection that can also fold several commits of
// one stream at once, writing each document once: a projector that finds a
// hot stream's commits queued together pays one read-model write for all.
type StreamProjection interface {
	Projection
	// HandleStream is Handle for each commit, which are all of one stream
	// (in any order, duplicates allowed).
	HandleStream(ctx context.Context, commits []events.Commit) error
}
