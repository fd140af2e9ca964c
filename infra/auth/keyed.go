package auth

import (
	"container/list"
	"time"
)

const (
	// throttleMaxKeys bounds how many keys a limiter remembers. At a few
	// hundred bytes per entry this caps its memory at about 20 MB however
	// many distinct keys an attacker invents.
	throttleMaxKeys = 1 << 16
	// throttleSweepEvery is how many calls pass between full sweeps for
	// expired entries, amortising the O(n) sweep to O(n/N) per call.
	throttleSweepEvery = 1024
)

// keyed is the bounded memory of a limiter: state per key, swept of expired
// entries every throttleSweepEvery calls, and holding at most maxKeys keys
// by evicting the least recently used one. Eviction thus drops keys nobody
// is trying any more: a key under active attack stays remembered unless the
// attacker can add maxKeys fresh keys between two attempts on it.
//
// A keyed is not safe for concurrent use; its owner holds a lock.
type keyed[E any] struct {
	maxKeys int
	// expired reports whether an entry carries no information any more.
	expired func(e *E, now time.Time) bool

	entries map[string]*list.Element // values are *keyedEntry[E]
	lru     *list.List               // front = most recently used
	calls   int
}

type keyedEntry[E any] struct {
	key string
	val E
}

func newKeyed[E any](expired func(*E, time.Time) bool) keyed[E] {
	return keyed[E]{maxKeys: throttleMaxKeys, expired: expired, entries: make(map[string]*list.Element), lru: list.New()}
}

// get returns key's entry (nil if none), marking it recently used.
func (k *keyed[E]) get(key string, now time.Time) *E {
	k.tick(now)
	el, found := k.entries[key]
	if !found {
		return nil
	}
	k.lru.MoveToFront(el)
	e := el.Value.(*keyedEntry[E])
	if k.expired(&e.val, now) {
		var zero E
		e.val = zero
	}
	return &e.val
}

// entry returns key's entry, creating a zero one if there is none.
func (k *keyed[E]) entry(key string, now time.Time) *E {
	if e := k.get(key, now); e != nil {
		return e
	}
	for len(k.entries) >= k.maxKeys {
		k.remove(k.lru.Back())
	}
	e := &keyedEntry[E]{key: key}
	k.entries[key] = k.lru.PushFront(e)
	return &e.val
}

func (k *keyed[E]) delete(key string) {
	if el, found := k.entries[key]; found {
		k.remove(el)
	}
}

// tick counts a call and sweeps expired entries every throttleSweepEvery
// calls.
func (k *keyed[E]) tick(now time.Time) {
	k.calls++
	if k.calls < throttleSweepEvery {
		return
	}
	k.calls = 0
	for el := k.lru.Front(); el != nil; {
		next := el.Next()
		if k.expired(&el.Value.(*keyedEntry[E]).val, now) {
			k.remove(el)
		}
		el = next
	}
}

func (k *keyed[E]) remove(el *list.Element) {
	delete(k.entries, el.Value.(*keyedEntry[E]).key)
	k.lru.Remove(el)
}

func (k *keyed[E]) size() int { return len(k.entries) }
