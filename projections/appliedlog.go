package projections

import (
	"slices"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/capstone-pms/capstone/events"
)

// AppliedLog remembers how far this process's projectors have applied each
// stream, and wakes whoever waits for a version: a read or a write that must
// see a commit learns it at the moment the commit is projected, without
// polling the store. It knows only what this process projected recently;
// whoever waits still checks the store for the rest (Checker.Applied).
type AppliedLog struct {
	mu      sync.Mutex
	heads   *lru.Cache[string, int64]
	waiters map[string][]*logWaiter
}

type logWaiter struct {
	version int64
	wake    chan<- struct{}
}

// appliedLogSize bounds the streams remembered: the hot set of a busy cohort.
const appliedLogSize = 50000

// NewAppliedLog returns an empty log.
func NewAppliedLog() *AppliedLog {
	heads, _ := lru.New[string, int64](appliedLogSize)
	return &AppliedLog{heads: heads, waiters: map[string][]*logWaiter{}}
}

func logKey(projection, streamID string) string { return projection + "\x00" + streamID }

// Record notes that projection has applied commit c (and so every earlier
// commit of its stream), waking those who wait for it.
func (l *AppliedLog) Record(projection string, c events.Commit) {
	key, v := logKey(projection, c.StreamID), c.LastVersion()
	l.mu.Lock()
	defer l.mu.Unlock()
	if head, ok := l.heads.Peek(key); !ok || head < v {
		l.heads.Add(key, v)
	}
	ws := l.waiters[key]
	kept := ws[:0]
	for _, w := range ws {
		if w.version <= v {
			select {
			case w.wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		delete(l.waiters, key)
	} else {
		l.waiters[key] = kept
	}
}

// Has reports whether projection is known to have applied the stream up to version.
func (l *AppliedLog) Has(projection, streamID string, version int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	head, ok := l.heads.Get(logKey(projection, streamID))
	return ok && head >= version
}

// Notify arranges for wake to receive (without blocking: wake should have
// room for one) once projection applies the stream up to version. Notify
// before checking Has, so that nothing applied in between is missed. The
// returned function gives the wait up.
func (l *AppliedLog) Notify(projection, streamID string, version int64, wake chan<- struct{}) (cancel func()) {
	key := logKey(projection, streamID)
	w := &logWaiter{version: version, wake: wake}
	l.mu.Lock()
	l.waiters[key] = append(l.waiters[key], w)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.waiters[key]
		if i := slices.Index(ws, w); i >= 0 {
			ws = slices.Delete(ws, i, i+1)
		}
		if len(ws) == 0 {
			delete(l.waiters, key)
		} else {
			l.waiters[key] = ws
		}
	}
}
