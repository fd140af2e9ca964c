package commands

import (
	"context"
	"sync"

	"github.com/capstone-pms/capstone/events"
)

// Writes collects the commits stored on behalf of one request, whichever
// use cases and streams stored them, so that the request's answer can name
// them (a bookmark a later read waits for) or wait until the read models
// show them. It is carried by the context: a request's use cases need not
// pass it along, and a command run outside a request records nothing.
type Writes struct {
	mu      sync.Mutex
	commits []events.Commit
}

type writesKey struct{}

// TrackWrites returns a context in which every commit stored by the
// executor is recorded in the returned Writes.
func TrackWrites(ctx context.Context) (context.Context, *Writes) {
	w := &Writes{}
	return context.WithValue(ctx, writesKey{}, w), w
}

// Commits returns the commits recorded so far, in the order they were stored.
func (w *Writes) Commits() []events.Commit {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]events.Commit(nil), w.commits...)
}

func (w *Writes) add(c events.Commit) {
	w.mu.Lock()
	w.commits = append(w.commits, c)
	w.mu.Unlock()
}

// recordWrite notes a stored commit in the request's Writes, if any.
func recordWrite(ctx context.Context, c events.Commit) {
	if w, ok := ctx.Value(writesKey{}).(*Writes); ok {
		w.add(c)
	}
}

// WritesIn returns the Writes that ctx records into, nil outside TrackWrites.
func WritesIn(ctx context.Context) *Writes {
	w, _ := ctx.Value(writesKey{}).(*Writes)
	return w
}
