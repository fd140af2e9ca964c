package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/keylock"
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
	// locks serialise the read-modify-write of one document (a rebuild's
	// catch-up may apply a stream's commits beside the live projector).
	locks *keylock.Locks
}

var _ StreamProjection = (*Model[struct{}])(nil)

// Name identifies the projection in logs, metrics and subscriptions.
func (m *Model[D]) Name() string { return m.ProjectionName }

// Handle folds a commit into its stream's document, at most once.
func (m *Model[D]) Handle(ctx context.Context, c events.Commit) error {
	return m.HandleStream(ctx, []events.Commit{c})
}

// HandleStream folds commits of one stream into its document with one
// write, each at most once.
func (m *Model[D]) HandleStream(ctx context.Context, commits []events.Commit) error {
	if len(commits) == 0 || commits[0].StreamType != m.StreamType {
		return nil
	}
	commits = inVersionOrder(commits)
	for attempt := range maxConflicts {
		if err := m.handle(ctx, commits, attempt == 0); !errors.Is(err, ErrConflict) {
			return err
		}
		backoff(ctx, attempt)
	}
	return fmt.Errorf("%s %s: %w", m.ProjectionName, commits[len(commits)-1].ID(), ErrConflict)
}

// handle folds commits (of one stream, sorted by version, no duplicates).
// On its first try, commits from the stream's first on create the document
// without looking it up (Creator); a document that exists after all (the
// commits were applied before) makes it fail with ErrConflict, and the
// next try loads it.
func (m *Model[D]) handle(ctx context.Context, commits []events.Commit, firstTry bool) error {
	streamID, last := commits[0].StreamID, commits[len(commits)-1].LastVersion()
	defer m.locks.Lock(streamID).Unlock()
	var doc D
	found, store, err := open(ctx, m.Docs, m.Collection, streamID, &doc, firstTry && commits[0].FirstVersion == 1)
	if err != nil {
		return err
	}
	have := int64(0)
	if found {
		have = m.Version(doc)
	}
	if last <= have {
		return nil // already applied: duplicates or redeliveries
	}
	if !follows(commits, have) {
		// A gap: earlier commits have not arrived (yet). The store has them.
		if commits, err = fillGap(ctx, m.Streams, streamID, have, last); err != nil {
			return err
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
	return store(doc)
}

// inVersionOrder is a stream's commits sorted by version, each once.
func inVersionOrder(commits []events.Commit) []events.Commit {
	if len(commits) < 2 {
		return commits
	}
	commits = slices.Clone(commits)
	slices.SortFunc(commits, func(a, b events.Commit) int { return cmp.Compare(a.FirstVersion, b.FirstVersion) })
	return slices.CompactFunc(commits, func(a, b events.Commit) bool { return a.FirstVersion == b.FirstVersion })
}

// follows reports whether the commits after version have (sorted, no
// duplicates) continue it without a gap.
func follows(commits []events.Commit, have int64) bool {
	next := have + 1
	for _, c := range commits {
		if c.LastVersion() <= have {
			continue
		}
		if c.FirstVersion > next {
			return false
		}
		next = c.LastVersion() + 1
	}
	return true
}
