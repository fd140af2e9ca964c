// Package keylock is mutexes by key: a lock for each document, made while
// someone holds or waits for it, where a fixed set of locks by a hash of
// the key would make unrelated documents wait for each other.
//
// Several locks at once (LockAll) are taken in the order of their keys, so
// that two callers that each take several never wait for each other.
// Whoever takes several must take them all with one LockAll, never one
// LockAll or Lock while holding another.
package keylock

import (
	"slices"
	"sync"
)

// Locks are mutexes by key. The zero value is not usable: see New.
type Locks struct {
	mu    sync.Mutex
	byKey map[string]*entry
}

type entry struct {
	sync.Mutex
	users int // holding or waiting, under Locks.mu
}

// New returns locks, none held.
func New() *Locks { return &Locks{byKey: map[string]*entry{}} }

// Held is a lock taken by Lock.
type Held struct {
	l   *Locks
	key string
	e   *entry
}

// Lock takes the lock of key, waiting while another holds it.
func (l *Locks) Lock(key string) Held {
	l.mu.Lock()
	e := l.byKey[key]
	if e == nil {
		e = new(entry)
		l.byKey[key] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return Held{l, key, e}
}

// Unlock releases the lock.
func (h Held) Unlock() {
	h.e.Unlock()
	h.l.mu.Lock()
	if h.e.users--; h.e.users == 0 {
		delete(h.l.byKey, h.key)
	}
	h.l.mu.Unlock()
}

// LockAll takes the locks of every key of keys (each once, however often
// it is given), in the order of the keys, and returns their release.
func (l *Locks) LockAll(keys []string) (unlock func()) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	held := make([]Held, len(sorted))
	for i, k := range sorted {
		held[i] = l.Lock(k)
	}
	return func() {
		for _, h := range held {
			h.Unlock()
		}
	}
}

// Len is how many locks exist: held, or waited for.
func (l *Locks) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}
