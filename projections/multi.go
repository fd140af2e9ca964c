package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// Versioned is a read-model document built from several streams: it keeps,
// per stream, the last version it has folded, so a redelivered commit is
// skipped whichever stream it comes from.
type Versioned interface {
	StreamVersions() map[string]int64
	SetStreamVersion(streamID string, v int64)
}

// Multi is a read model whose documents gather events from several streams.
// Targets says which documents an event concerns. Streams of the types in
// Broadcast (the cohort) concern many documents: for them the projection
// keeps a checkpoint of its own, so a gap is recognised as a gap (and filled
// from the store) even for a document that no earlier event concerned.
type Multi[D any, PD interface {
	*D
	Versioned
}] struct {
	ProjectionName string
	Collection     string
	Targets        func(e events.Envelope) []string
	Fold           func(doc *D, id string, e events.Envelope)
	Broadcast      []string
	// Shown lists stream types whose events a document folds idempotently
	// by itself (a project's creation, which adds its id to a set): for
	// them the document keeps no version per stream, which would grow it by
	// an entry per stream (a student with hundreds of projects), and the
	// function says whether the document shows an event.
	Shown map[string]func(doc *D, e events.Envelope) bool

	Docs    Documents
	Streams Streams

	// locks serialise the read-modify-write of one document: commits of
	// different streams reach different workers, and may concern one document.
	locks *keylock.Locks
}

// Name identifies the projection.
func (m *Multi[D, PD]) Name() string { return m.ProjectionName }

type checkpoint struct {
	ID      string `bson:"_id"`
	Version int64  `bson:"version"`
}

// checkpointID is the id of the document that records how far a broadcast
// stream has been folded into every document it concerns.
func (m *Multi[D, PD]) checkpointID(streamID string) string {
	return checkpointPrefix + m.ProjectionName + ":" + streamID
}

const checkpointPrefix = "checkpoint:"

// PositionsField is the field in which a document gathered from several
// streams records the version it has folded of each. Like checkpoints, it
// says how the document was built, not what it says: it may differ between
// two builds of the same meaning (e.g. with the commits delivered in another
// order), so a comparison of read models leaves it out.
const PositionsField = "versions"

// IsCheckpoint reports whether a read-model document id is a projection's
// checkpoint rather than a document a query serves.
func IsCheckpoint(id string) bool { return strings.HasPrefix(id, checkpointPrefix) }

var _ StreamProjection = (*Multi[StudentDoc, *StudentDoc])(nil)

// HandleStream folds commits of one stream into every document they
// concern, at most once each, with one write a document: the commits of a
// hot stream (someone editing their profile again and again, or a backlog
// the catch-up hands over at once) each cost a read-model write, where
// their documents needed one. So do a broadcast stream's (an import's
// commits of capacities, a hundred supervisors each, queued behind its
// rows), with one write of their checkpoint. Commits that do not follow
// one another are handled one by one, as Handle does.
func (m *Multi[D, PD]) HandleStream(ctx context.Context, commits []events.Commit) error {
	commits = inVersionOrder(commits)
	if len(commits) == 0 {
		return nil
	}
	broadcast, contiguous := slices.Contains(m.Broadcast, commits[0].StreamType), follows(commits, commits[0].FirstVersion-1)
	if broadcast && contiguous {
		return m.handleBroadcast(ctx, commits)
	}
	if len(commits) == 1 || broadcast || !contiguous {
		for _, c := range commits {
			if err := m.Handle(ctx, c); err != nil {
				return err
			}
		}
		return nil
	}
	// One commit of them all, which apply folds as it would each in turn:
	// from the first version a document lacks, filling a gap before the
	// first from the store, and recording for each document the last
	// commit that concerned it (byDoc), as Handle does one by one.
	all := commits[0]
	all.Events, all.RecordedAt = nil, commits[len(commits)-1].RecordedAt
	for _, c := range commits {
		all.Events = append(all.Events, c.Events...)
	}
	order, byDoc, upTo := m.byDoc(commits)
	for _, id := range order {
		if err := m.applyRetrying(ctx, all, id, byDoc[id], upTo[id], false); err != nil {
			return err
		}
	}
	return nil
}

// byDoc sorts the events of commits by the documents they concern (order:
// the documents in the order first concerned), with each document's upTo,
// the last version of the last commit that concerned it.
func (m *Multi[D, PD]) byDoc(commits []events.Commit) (order []string, byDoc map[string][]events.Envelope, upTo map[string]int64) {
	byDoc, upTo = map[string][]events.Envelope{}, map[string]int64{}
	for _, cm := range commits {
		for _, e := range cm.Events {
			for _, id := range m.Targets(e) {
				if _, seen := byDoc[id]; !seen {
					order = append(order, id)
				}
				byDoc[id] = append(byDoc[id], e)
				upTo[id] = cm.LastVersion()
			}
		}
	}
	return order, byDoc, upTo
}

// Handle folds a commit into every document it concerns, at most once each.
func (m *Multi[D, PD]) Handle(ctx context.Context, c events.Commit) error {
	if slices.Contains(m.Broadcast, c.StreamType) {
		return m.handleBroadcast(ctx, []events.Commit{c})
	}
	return m.fold(ctx, c, []events.Commit{c}, false)
}

// handleBroadcast folds commits of a broadcast stream (in version order,
// without a gap between them) into every document they concern, and moves
// the stream's checkpoint past the last: those the checkpoint covers are
// skipped, and a gap between it and the first is filled from the store.
func (m *Multi[D, PD]) handleBroadcast(ctx context.Context, commits []events.Commit) error {
	last := commits[len(commits)-1]
	cpID := m.checkpointID(last.StreamID)
	var cp checkpoint
	_, cpRev, err := m.Docs.Load(ctx, m.Collection, cpID, &cp)
	if err != nil {
		return err
	}
	commits = slices.DeleteFunc(slices.Clone(commits), func(c events.Commit) bool { return c.LastVersion() <= cp.Version })
	if len(commits) == 0 {
		return nil
	}
	if commits[0].FirstVersion > cp.Version+1 {
		if commits, err = fillGap(ctx, m.Streams, last.StreamID, cp.Version, last.LastVersion()); err != nil {
			return err
		}
	}
	if err := m.fold(ctx, last, commits, true); err != nil {
		return err
	}
	// Another replica may have moved the checkpoint on: then it covers these commits too.
	if err := m.Docs.Store(ctx, m.Collection, cpID, checkpoint{ID: cpID, Version: last.LastVersion()}, cpRev); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// fold folds commits, which end with c, into every document they concern.
// Each document records the stream at the last commit that targeted it,
// whether that commit came alone or with others (a gap filled, or a
// broadcast stream's commits handed over together): so the documents are
// the same however the commits were delivered, and equal to a rebuild's,
// which folds them one by one.
func (m *Multi[D, PD]) fold(ctx context.Context, c events.Commit, commits []events.Commit, broadcast bool) error {
	order, byDoc, upTo := m.byDoc(commits)
	if batch, ok := m.Docs.(BatchDocuments); ok && broadcast && len(order) >= batchAtLeast {
		return m.applyBatch(ctx, batch, c, order, byDoc, upTo)
	}
	for _, id := range order {
		if err := m.applyRetrying(ctx, c, id, byDoc[id], upTo[id], broadcast); err != nil {
			return err
		}
	}
	return nil
}

func (m *Multi[D, PD]) applyRetrying(ctx context.Context, c events.Commit, id string, evs []events.Envelope, upTo int64, broadcast bool) error {
	for attempt := range maxConflicts {
		if err := m.apply(ctx, c, id, evs, upTo, broadcast, attempt == 0); !errors.Is(err, ErrConflict) {
			return err
		}
		backoff(ctx, attempt)
	}
	return fmt.Errorf("%s %s in %s: %w", m.ProjectionName, c.ID(), id, ErrConflict)
}

// apply folds the events of one stream into one document and records the
// stream there at version upTo, that of the last commit that targeted it
// (c's, unless c ended a gap of a broadcast stream filled in Handle).
// On its first try, a stream's first commit creates the stream's own
// document without looking it up, as Model's does; should another stream's
// commit have created it already, the create is refused and the next try
// loads it.
func (m *Multi[D, PD]) apply(ctx context.Context, c events.Commit, id string, evs []events.Envelope, upTo int64, broadcast, firstTry bool) error {
	defer m.locks.Lock(id).Unlock()
	doc := PD(new(D))
	_, store, err := open(ctx, m.Docs, m.Collection, id, doc, firstTry && !broadcast && c.FirstVersion == 1 && id == c.StreamID)
	if err != nil {
		return err
	}
	if shown, ok := m.Shown[c.StreamType]; ok {
		changed := false
		for _, e := range evs {
			if !shown((*D)(doc), e) {
				m.Fold((*D)(doc), id, e)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return store(doc)
	}
	have := doc.StreamVersions()[versionKey(c.StreamID)]
	if upTo <= have {
		return nil
	}
	if !broadcast && c.FirstVersion > have+1 {
		commits, err := fillGap(ctx, m.Streams, c.StreamID, have, c.LastVersion())
		if err != nil {
			return err
		}
		evs = nil
		for _, cm := range commits {
			for _, e := range cm.Events {
				if slices.Contains(m.Targets(e), id) {
					evs = append(evs, e)
				}
			}
		}
	}
	for _, e := range evs {
		if e.Version > have {
			m.Fold((*D)(doc), id, e)
		}
	}
	doc.SetStreamVersion(versionKey(c.StreamID), upTo)
	return store(doc)
}

// versionKey makes a stream id usable as a document field name.
func versionKey(streamID string) string {
	return strings.NewReplacer(".", "_", "$", "_").Replace(streamID)
}
