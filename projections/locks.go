package projections

import (
	"sync"

	"github.com/capstone-pms/capstone/internal/keylock"
)

// Locks serialise the read-modify-write of each document among the
// projection instances that share them. Within one instance, the commits of
// different streams reach different workers and may concern one document.
// A process also runs a second instance of each projection while a rebuild
// catches up, writing the same documents as its live projectors: on the
// all-in-one service, whose writes check no revision (it is the store's
// only writer), only these locks keep one instance from overwriting what
// the other stored. Between processes, revisions do (conditional writes).
type Locks struct {
	mu   sync.Mutex
	sets map[string]*keylock.Locks // by projection name
}

// NewLocks returns locks for instances to share (AllSharing).
func NewLocks() *Locks { return &Locks{sets: map[string]*keylock.Locks{}} }

// A projection's locks are by document id (keylock). They were 64 locks by
// a hash of the id: a commit of capacities, which holds the locks of a
// hundred supervisors' documents while it stores them, then held most of
// the 64 and stalled every other supervisor's document behind it; an
// allocation, which stores every placed student's document together, held
// all of them.

func (l *Locks) of(name string) *keylock.Locks {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sets[name]
	if s == nil {
		s = keylock.New()
		l.sets[name] = s
	}
	return s
}

// lockSharer is a projection that can take its document locks from Locks.
type lockSharer interface{ shareLocks(l *Locks) }

func (m *Model[D]) shareLocks(l *Locks)     { m.locks = l.of(m.ProjectionName) }
func (m *Multi[D, PD]) shareLocks(l *Locks) { m.locks = l.of(m.ProjectionName) }
