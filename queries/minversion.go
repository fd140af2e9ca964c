package queries

import (
	"context"
	"fmt"

	"github.com/capstone-pms/capstone/events"
)

// VersionNotFoundError refuses a version the stream has not reached: the
// event store, which every replica shares, has no such version.
type VersionNotFoundError struct {
	Want, Latest int64
}

func (e *VersionNotFoundError) Error() string {
	return fmt.Sprintf("version %d does not exist (the latest is %d)", e.Want, e.Latest)
}

// upTo returns a stream's document (one per stream, as a projections.Model
// keeps it) as of at least version want. When the read model is behind,
// the commits it lacks are read from the event store and folded with the
// projection's own fold: the answer is what the read model will hold, at
// once, and a version the store does not have is refused rather than
// waited for. A read model's version is always a commit boundary, so the
// commits after it start at version+1.
func upTo[D any](ctx context.Context, streams Streams, id string, doc D, found bool, version, want int64,
	fold func(D, events.Envelope) (D, bool)) (D, bool, error) {
	if want <= version {
		return doc, found, nil
	}
	commits, err := streams.ReadStream(ctx, id, events.ReadOptions{From: version + 1})
	if err != nil {
		return doc, found, err
	}
	latest := version
	for _, c := range commits {
		for _, e := range c.Events {
			doc, found = fold(doc, e)
			latest = e.Version
		}
	}
	if latest < want {
		return doc, found, &VersionNotFoundError{Want: want, Latest: latest}
	}
	return doc, found, nil
}
