package commands

import (
	"context"
	"encoding/json"
	"sync"
)

// deferredKey is the context key of a batch's deferred snapshots.
type deferredKey struct{}

// deferred are the streams that came due for a snapshot during a batch of
// commands (DeferSnapshots), with the executor and shape of each.
type deferred struct {
	mu  sync.Mutex
	due map[string]dueSnapshot
}

type dueSnapshot struct {
	x                  *Executor
	streamType, schema string
}

// DeferSnapshots returns a context under which commands save no snapshot
// as they append, and save, which saves once the latest state of each
// stream that came due for one meanwhile. For a batch of commands that
// appends to one stream again and again (an import: a supervisors file's
// capacities are a 100-event commit on the cohort each, and each saved
// the whole board), one snapshot a stream instead of one a commit.
// Snapshots are a cache: one a batch leaves unsaved (its process died)
// costs a later load the commits after the last one saved.
func DeferSnapshots(ctx context.Context) (context.Context, func(context.Context)) {
	d := &deferred{due: map[string]dueSnapshot{}}
	return context.WithValue(ctx, deferredKey{}, d), d.save
}

// deferSnapshot records a stream due for a snapshot, if ctx defers them.
func deferSnapshot(ctx context.Context, x *Executor, streamID, streamType, schema string) bool {
	d, ok := ctx.Value(deferredKey{}).(*deferred)
	if !ok {
		return false
	}
	d.mu.Lock()
	d.due[streamID] = dueSnapshot{x: x, streamType: streamType, schema: schema}
	d.mu.Unlock()
	return true
}

// save saves the snapshot of each stream due for one: its state as this
// process's executor last cached it (none if it left the cache since, or
// one was saved at that version already).
func (d *deferred) save(ctx context.Context) {
	d.mu.Lock()
	due := d.due
	d.due = map[string]dueSnapshot{}
	d.mu.Unlock()
	for streamID, s := range due {
		x := s.x
		if x.states == nil || x.Snapshots == nil {
			continue
		}
		e, ok := x.states.Peek(streamID)
		if !ok || e.schema != s.schema || e.version <= e.snapshotted {
			continue
		}
		raw, err := json.Marshal(e.state)
		if err != nil {
			x.Log.ErrorContext(ctx, "encode snapshot", "stream", streamID, "err", err)
			continue
		}
		if err := x.Snapshots.SaveSnapshot(ctx, Snapshot{StreamID: streamID, StreamType: s.streamType,
			Schema: s.schema, Version: e.version, State: raw}); err != nil {
			x.Log.WarnContext(ctx, "save snapshot", "stream", streamID, "err", err)
			continue
		}
		x.remember(streamID, s.schema, e.state, e.version, e.version)
	}
}
