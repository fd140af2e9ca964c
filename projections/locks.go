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
type Locks struct{ sets sync.Map } // projection name -> *stripes

// NewLocks returns locks for instances to share (AllSharing).
func NewLocks() *Locks { return &Locks{} }

// stripes are the locks of one projection's documents, by a hash of the id.
type stripes [64]sync.Mutex

func (l *Locks) of(name string) *stripes {
	if s, ok := l.sets.Load(name); ok {
		return s.(*stripes)
	}
	s, _ := l.sets.LoadOrStore(name, new(stripes))
	return s.(*stripes)
}

// stripe is the index of the lock of document id.
func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(stripes{})))
}

// ownLocks is an instance's Locks when it was given none: its own.
type ownLocks struct {
	once  sync.Once
	locks *Locks
}

func (o *ownLocks) or(given *Locks) *Locks {
	if given != nil {
		return given
	}
	o.once.Do(func() { o.locks = NewLocks() })
	return o.locks
}
