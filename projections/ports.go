package projections

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/capstone-pms/capstone/events"
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

// ErrConflict is returned by Store when another writer changed the document
// since it was loaded; the projection loads it again and re-applies.
var ErrConflict = errors.New("read-model document changed concurrently")

// maxConflicts bounds how often a projection retries one commit after losing races.
const maxConflicts = 50

// backoff waits a little, growing and jittered, after a lost race, so that
// replicas contending for one document take turns instead of colliding again.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(rand.Int64N(int64(time.Millisecond) * int64(min(2*(attempt+1), 50))))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Streams reads commits back from the event store to fill gaps.
type Streams interface {
	ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error)
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
