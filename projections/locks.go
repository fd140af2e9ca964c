package projections

import (
	"hash/fnv"
	"sync"
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
	sets map[string]*stripes // by projection name
}

// NewLocks returns locks for instances to share (AllSharing).
func NewLocks() *Locks { return &Locks{sets: map[string]*stripes{}} }

// stripes are the locks of one projection's documents, by a hash of the id.
// Each instance has its own (its constructor makes them) until AllSharing
// gives it those of a Locks.
type stripes [64]sync.Mutex

func (l *Locks) of(name string) *stripes {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sets[name]
	if s == nil {
		s = new(stripes)
		l.sets[name] = s
	}
	return s
}

// stripe is the index of the lock of document id.
func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(stripes{})))
}

// lockSharer is a projection that can take its document locks from Locks.
type lockSharer interface{ shareLocks(l *Locks) }

func (m *Model[D]) shareLocks(l *Locks)     { m.locks = l.of(m.ProjectionName) }
func (m *Multi[D, PD]) shareLocks(l *Locks) { m.locks = l.of(m.ProjectionName) }
