package projections

import (
	"slices"
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
	sets map[string]*docLocks // by projection name
}

// NewLocks returns locks for instances to share (AllSharing).
func NewLocks() *Locks { return &Locks{sets: map[string]*docLocks{}} }

// docLocks are the locks of one projection's documents, by id. Each instance
// has its own (its constructor makes them) until AllSharing gives it those
// of a Locks. A document's lock exists while someone holds it or waits for
// it. They were 64 locks by a hash of the id: a commit of capacities, which
// holds the locks of a hundred supervisors' documents while it stores
// them, then held most of the 64 and stalled every other supervisor's
// document behind it; an allocation, which stores every placed student's
// document together, held all of them.
type docLocks struct {
	mu   sync.Mutex
	byID map[string]*docLock
}

type docLock struct {
	sync.Mutex
	users int // holding or waiting; under docLocks.mu
}

func newDocLocks() *docLocks { return &docLocks{byID: map[string]*docLock{}} }

// lock takes the lock of document id; unlock it with unlock(id, the result).
func (l *docLocks) lock(id string) *docLock {
	l.mu.Lock()
	d := l.byID[id]
	if d == nil {
		d = new(docLock)
		l.byID[id] = d
	}
	d.users++
	l.mu.Unlock()
	d.Lock()
	return d
}

func (l *docLocks) unlock(id string, d *docLock) {
	d.Unlock()
	l.mu.Lock()
	if d.users--; d.users == 0 {
		delete(l.byID, id)
	}
	l.mu.Unlock()
}

// lockAll takes the locks of every document of ids, one after the other in
// the order of their ids (whoever takes several takes them in that order, so
// none waits for another that waits for it), and returns their release.
func (l *docLocks) lockAll(ids []string) (unlock func()) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	held := make([]*docLock, len(sorted))
	for i, id := range sorted {
		held[i] = l.lock(id)
	}
	return func() {
		for i, id := range sorted {
			l.unlock(id, held[i])
		}
	}
}

func (l *Locks) of(name string) *docLocks {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sets[name]
	if s == nil {
		s = newDocLocks()
		l.sets[name] = s
	}
	return s
}

// lockSharer is a projection that can take its document locks from Locks.
type lockSharer interface{ shareLocks(l *Locks) }

func (m *Model[D]) shareLocks(l *Locks)     { m.locks = l.of(m.ProjectionName) }
func (m *Multi[D, PD]) shareLocks(l *Locks) { m.locks = l.of(m.ProjectionName) }
