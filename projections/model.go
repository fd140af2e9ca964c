package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/capstone-pms/capstone/events"
)

// Model is a read model with one document per stream of one type: the common
// case (a user, a project). Fold applies one event to the document; it sets
// the document's version and returns false while the document should not
// exist (e.g. a stream that never got its creation event).
type Model[D any] struct {
	ProjectionName string
	Collection     string
	StreamType     string
	Fold           func(doc D, e events.Envelope) (D, bool)
	Version        func(D) int64

	Docs    Documents
	Streams Streams
}

var _ Projection = (*Model[struct{}])(nil)

// Name identifies the projection in logs, metrics and subscriptions.
func (m *Model[D]) Name() string { return m.ProjectionName }

// Handle folds a commit into its stream's document, at most once.
func (m *Model[D]) Handle(ctx context.Context, c events.Commit) error {
	if c.StreamType != m.StreamType {
		return nil
	}
	for attempt := range maxConflicts {
		if err := m.handle(ctx, c); !errors.Is(err, ErrConflict) {
			return err
		}
		backoff(ctx, attempt)
	}
	return fmt.Errorf("%s %s: %w", m.ProjectionName, c.ID(), ErrConflict)
}

func (m *Model[D]) handle(ctx context.Context, c events.Commit) error {
	var doc D
	found, rev, err := m.Docs.Load(ctx, m.Collection, c.StreamID, &doc)
	if err != nil {
		return err
	}
	have := int64(0)
	if found {
		have = m.Version(doc)
	}
	if c.LastVersion() <= have {
		return nil // already applied: a duplicate or a redelivery
	}
	commits := []events.Commit{c}
	if c.FirstVersion > have+1 {
		// A gap: earlier commits have not arrived (yet). The store has them.
		commits, err = m.Streams.ReadStream(ctx, c.StreamID, events.ReadOptions{From: have + 1, UntilVersion: c.LastVersion()})
		if err != nil {
			return fmt.Errorf("fill gap in %s after version %d: %w", c.StreamID, have, err)
		}
		if n := len(commits); n == 0 || commits[n-1].LastVersion() < c.LastVersion() {
			return fmt.Errorf("fill gap in %s after version %d: the store does not have version %d yet", c.StreamID, have, c.LastVersion())
		}
	}
	exists := found
	for _, cm := range commits {
		for _, e := range cm.Events {
			if e.Version > have {
				doc, exists = m.Fold(doc, e)
			}
		}
	}
	if !exists {
		return nil
	}
	return m.Docs.Store(ctx, m.Collection, c.StreamID, doc, rev)
}
