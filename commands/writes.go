package commands

import (
	"context"
	"slices"
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
	// seen are the streams whose commands stored nothing, at the version
	// they were decided on (Seen); none once there were too many.
	seen        []Seen
	seenTooMany bool
	// shown, when set, tells the commits the read models already show,
	// which are let go (ForgetShown); sweepAt is how many commits held
	// make the next sweep, and forgot whether one let any go.
	shown   func(events.Commit) bool
	sweepAt int
	forgot  bool
}

type writesKey struct{}

// TrackWrites returns a context in which every commit stored by the
// executor is recorded in the returned Writes.
func TrackWrites(ctx context.Context) (context.Context, *Writes) {
	w := &Writes{}
	return context.WithValue(ctx, writesKey{}, w), w
}

// ForgetShown makes w let go, as it records more, of the commits shown
// reports the read models show: a request that stores a cohort's import
// (tens of thousands of commits) then holds only those still on their way
// to the read models, and its answer waits for those alone. Held until
// the answer, every commit would be checked again then, long after what
// tells cheaply that it is shown (this process's log of what its
// projectors applied, which remembers only recent work) has forgotten it:
// a read of each row's documents from the store. shown must not read the
// store; it is asked under w's lock. Complete is false once a commit was
// let go.
func (w *Writes) ForgetShown(shown func(events.Commit) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.shown, w.sweepAt = shown, len(w.commits)+sweepEvery
}

// sweepEvery is how many commits are recorded between two sweeps of those
// shown: each sweep asks about every commit held, so they are spaced out,
// yet close enough that what was shown is still remembered (the log holds
// the work of some thousands of commits).
const sweepEvery = 256

// Commits returns the commits recorded so far, in the order they were
// stored (those let go as shown excepted: see ForgetShown).
func (w *Writes) Commits() []events.Commit {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]events.Commit(nil), w.commits...)
}

// Complete reports whether Commits returns every commit recorded, none let
// go as shown: only then do they name all the request stored.
func (w *Writes) Complete() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.forgot
}

func (w *Writes) add(c events.Commit) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.commits = append(w.commits, c)
	if w.shown == nil || len(w.commits) < w.sweepAt {
		return
	}
	held := len(w.commits)
	w.commits = slices.DeleteFunc(w.commits, w.shown)
	w.forgot = w.forgot || len(w.commits) < held
	w.sweepAt = len(w.commits) + sweepEvery
}

// Seen is a stream a command of the request decided on without storing
// anything (a no-op: what it asks is already so), at the version it was
// decided on. Another request may have just stored that version, its
// answer still waiting for the read models: the no-op's answer waits for
// them too, or a read right after it could show the stream as it was
// before what the answer says is done.
type Seen struct {
	StreamType string
	StreamID   string
	Version    int64
}

// Seen returns the streams decided on without a write, each once, at the
// latest version seen; none when there were more than seenAtMost.
func (w *Writes) Seen() []Seen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Seen(nil), w.seen...)
}

func (w *Writes) see(s Seen) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seenTooMany {
		return
	}
	for i := range w.seen {
		if w.seen[i].StreamID == s.StreamID {
			w.seen[i].Version = max(w.seen[i].Version, s.Version)
			return
		}
	}
	if len(w.seen) == seenAtMost {
		w.seen, w.seenTooMany = nil, true
		return
	}
	w.seen = append(w.seen, s)
}

// seenAtMost is how many streams decided on without a write a request
// waits for. One that finds more already as it asks is a file imported
// again unchanged: waiting would read each of its rows back from the store
// once they are past what this process's log of applied work remembers,
// seconds for a cohort, for a change nobody made.
const seenAtMost = 256

// recordSeen notes a stream decided on without a write in the request's
// Writes, if any.
func recordSeen(ctx context.Context, s Seen) {
	if w, ok := ctx.Value(writesKey{}).(*Writes); ok && s.Version > 0 {
		w.see(s)
	}
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
