package projections

import (
	"context"
	"slices"

	"github.com/capstone-pms/capstone/events"
)

// Getter reads one read-model document by id, as the store holds it now
// (not from a cache that may be behind): what a query would serve.
type Getter func(ctx context.Context, collection, id string, into any) (bool, error)

// Checker is a projection that can tell whether its read model shows
// commits: what a read that must see a write (read your writes) waits for.
type Checker interface {
	Projection
	// ReadModel is the collection the projection writes.
	ReadModel() string
	// Concerns reports whether the read model folds anything of the
	// commits (all of one stream): if not, there is nothing to wait for.
	Concerns(commits []events.Commit) bool
	// Applied reports whether the read model shows every commit given, all
	// of one stream in version order. It reads documents with get. A
	// projection that applied a commit has applied every earlier commit of
	// that stream too (it fills gaps before it applies), so a caller may
	// give just the last commits it wrote.
	Applied(ctx context.Context, get Getter, commits []events.Commit) (bool, error)
}

var (
	_ Checker = (*Model[struct{}])(nil)
	_ Checker = (*Multi[SupervisorDoc, *SupervisorDoc])(nil)
)

// ReadModel is the collection the model writes.
func (m *Model[D]) ReadModel() string { return m.Collection }

// Concerns reports whether the commits are of the model's stream type.
func (m *Model[D]) Concerns(commits []events.Commit) bool {
	return len(commits) > 0 && commits[0].StreamType == m.StreamType
}

// Applied reports whether the stream's document has reached the last
// commit's version.
func (m *Model[D]) Applied(ctx context.Context, get Getter, commits []events.Commit) (bool, error) {
	if !m.Concerns(commits) {
		return true, nil
	}
	last := commits[len(commits)-1]
	var doc D
	found, err := get(ctx, m.Collection, last.StreamID, &doc)
	if err != nil || !found {
		return false, err
	}
	return m.Version(doc) >= last.LastVersion(), nil
}

// ReadModel is the collection the model writes.
func (m *Multi[D, PD]) ReadModel() string { return m.Collection }

// Concerns reports whether the commits are of a broadcast stream or have
// an event that targets a document.
func (m *Multi[D, PD]) Concerns(commits []events.Commit) bool {
	for _, c := range commits {
		if slices.Contains(m.Broadcast, c.StreamType) {
			return true
		}
		for _, e := range c.Events {
			if len(m.Targets(e)) > 0 {
				return true
			}
		}
	}
	return false
}

// Applied reports whether every document the commits concern has folded
// them: for a broadcast stream, whether the projection's checkpoint has
// passed the last commit (it moves only once every document is written);
// otherwise, whether each document the events target records the stream at
// the version of the commit that targeted it, or later.
func (m *Multi[D, PD]) Applied(ctx context.Context, get Getter, commits []events.Commit) (bool, error) {
	if len(commits) == 0 {
		return true, nil
	}
	last := commits[len(commits)-1]
	if slices.Contains(m.Broadcast, last.StreamType) {
		var cp checkpoint
		if _, err := get(ctx, m.Collection, m.checkpointID(last.StreamID), &cp); err != nil {
			return false, err
		}
		return cp.Version >= last.LastVersion(), nil
	}
	need := map[string]int64{} // document -> the version it must record
	for _, c := range commits {
		for _, e := range c.Events {
			for _, id := range m.Targets(e) {
				need[id] = max(need[id], c.LastVersion())
			}
		}
	}
	if shown, ok := m.Shown[last.StreamType]; ok {
		for _, c := range commits {
			for _, e := range c.Events {
				for _, id := range m.Targets(e) {
					doc := PD(new(D))
					found, err := get(ctx, m.Collection, id, doc)
					if err != nil || !found || !shown((*D)(doc), e) {
						return false, err
					}
				}
			}
		}
		return true, nil
	}
	for id, v := range need {
		doc := PD(new(D))
		found, err := get(ctx, m.Collection, id, doc)
		if err != nil || !found || doc.StreamVersions()[versionKey(last.StreamID)] < v {
			return false, err
		}
	}
	return true, nil
}
