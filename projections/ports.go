package projections

import (
	"context"

	"github.com/capstone-pms/capstone/events"
)

// Documents is the read-model storage a projection writes to: whole documents
// by id, which every store serves from its primary index.
type Documents interface {
	// Get decodes the document into into and reports whether it exists.
	Get(ctx context.Context, collection, id string, into any) (bool, error)
	// Put stores the document under id, replacing any previous one.
	Put(ctx context.Context, collection, id string, doc any) error
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
