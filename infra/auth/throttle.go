package auth

import (
	"container/list"
	"fmt"
	"sync"
	"time"
)

const (
	// throttleMaxKeys bounds how many keys a Throttle remembers. At a few
	// hundred bytes per entry this caps its memory at about 20 MB however
	// many distinct keys an attacker invents.
	throttleMaxKeys = 1 << 16
	// throttleSweepEvery is how many calls pass between full sweeps for
	// expired entries, amortising the O(n) sweep to O(n/N) per call.
	throttleSweepEvery = 1024
)

// Throttle slows down password guessing by locking a key (e.g.
// "email:<addr>" or "ip:<addr>") after too many failed sign-ins. It is
// in-memory and per process: it does not survive restarts and is not shared
// between replicas, which is acceptable for a speed bump whose job is to make
// online guessing impractically slow, not to be an exact global counter.
//
// Rules: maxFailures failures within window lock the key for baseLockout;
// each further lockout doubles the duration, capped at maxLockout. A success
// forgets the key entirely. An entry is also forgotten once its window has
// passed and it has been unlocked for maxLockout without new failures, so
// escalation does not last forever.
//
// Memory is bounded: expired entries are swept every 1024 calls, and at most
// 65536 keys are kept, evicting the least recently used key (by Check or
// Failure) when full. Eviction thus drops keys nobody is trying any more: a
// key under active attack stays locked unless the attacker can add 65536
// fresh keys between two attempts on it, and each of those attempts is itself
// throttled by its "ip:" key.
//
// A Throttle is safe for concurrent use.
type Throttle struct {
	maxFailures int
	window      time.Duration
	baseLockout time.Duration
	maxLockout  time.Duration
	maxKeys     int

	mu      sync.Mutex
	entries map[string]*list.Element // values are *throttleEntry
	lru     *list.List               // front = most recently used
	calls   int
}

type throttleEntry struct {
	key         string
	failures    int       // failures in the current window
	windowStart time.Time // first failure of the current window
	lockouts    int       // lockouts so far, drives the doubling
	lockedUntil time.Time // zero if never locked
}

// NewThrottle returns a Throttle with the given policy. It panics if
// maxFailures < 1, window or baseLockout is not positive, or maxLockout <
// baseLockout: these are programming errors in static configuration, like a
// non-positive interval passed to time.NewTicker.
func NewThrottle(maxFailures int, window time.Duration, baseLockout time.Duration, maxLockout time.Duration) *Throttle {
	if maxFailures < 1 || window <= 0 || baseLockout <= 0 || maxLockout < baseLockout {
		panic(fmt.Sprintf("auth: invalid throttle config: maxFailures=%d window=%v baseLockout=%v maxLockout=%v",
			maxFailures, window, baseLockout, maxLockout))
	}
	return &Throttle{
		maxFailures: maxFailures,
		window:      window,
		baseLockout: baseLockout,
		maxLockout:  maxLockout,
		maxKeys:     throttleMaxKeys,
		entries:     make(map[string]*list.Element),
		lru:         list.New(),
	}
}

// Check reports whether key may attempt a sign-in at now. If not, retryAfter
// is how long until it may, for the Retry-After header (round it up to whole
// seconds there). Check records no failure, so it is cheap to call for both
// the e-mail and the IP key before doing any password work; it does mark the
// key as recently used, which protects it from eviction.
func (t *Throttle) Check(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tick(now)
	el, found := t.entries[key]
	if !found {
		return true, 0
	}
	t.lru.MoveToFront(el) // a key still being tried is not a key to evict
	e := el.Value.(*throttleEntry)
	if now.Before(e.lockedUntil) {
		return false, e.lockedUntil.Sub(now)
	}
	return true, 0
}

// Failure records a failed sign-in for key at now, locking the key when it
// reaches maxFailures within window. Failures while the key is locked are
// ignored (callers should not have let the attempt through), so an attacker
// cannot extend a victim's lockout beyond what the escalation rules allow.
func (t *Throttle) Failure(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tick(now)

	var e *throttleEntry
	if el, found := t.entries[key]; found {
		e = el.Value.(*throttleEntry)
		if t.expired(e, now) {
			*e = throttleEntry{key: key}
		}
		t.lru.MoveToFront(el)
	} else {
		t.makeRoom()
		e = &throttleEntry{key: key}
		t.entries[key] = t.lru.PushFront(e)
	}

	if now.Before(e.lockedUntil) {
		return
	}
	if e.failures == 0 || now.Sub(e.windowStart) >= t.window {
		e.failures = 0
		e.windowStart = now
	}
	e.failures++
	if e.failures >= t.maxFailures {
		e.lockouts++
		e.lockedUntil = now.Add(t.lockout(e.lockouts))
		e.failures = 0
	}
}

// Success forgets key: a correct password proves the caller is not guessing,
// so earlier failures and the lockout escalation no longer apply. Resetting
// an "ip:" key this way lets anyone who owns one account clear their IP's
// record between guesses at other accounts; callers may prefer to reset only
// the "email:" key and let the IP record expire on its own.
func (t *Throttle) Success(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, found := t.entries[key]; found {
		t.remove(el)
	}
}

// lockout returns the duration of the n-th lockout (n >= 1): baseLockout
// doubled n-1 times, capped at maxLockout, computed without overflow.
func (t *Throttle) lockout(n int) time.Duration {
	d := t.baseLockout
	for i := 1; i < n && d < t.maxLockout; i++ {
		d *= 2
	}
	return min(d, t.maxLockout)
}

// expired reports whether e carries no information any more: not locked,
// its failure window over, and unlocked for maxLockout (escalation memory).
func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	if e.failures > 0 && now.Sub(e.windowStart) < t.window {
		return false
	}
	if e.lockouts > 0 && now.Before(e.lockedUntil.Add(t.maxLockout)) {
		return false
	}
	return true
}

// tick counts a call and sweeps expired entries every throttleSweepEvery
// calls. Callers hold t.mu.
func (t *Throttle) tick(now time.Time) {
	t.calls++
	if t.calls < throttleSweepEvery {
		return
	}
	t.calls = 0
	for el := t.lru.Front(); el != nil; {
		next := el.Next()
		if t.expired(el.Value.(*throttleEntry), now) {
			t.remove(el)
		}
		el = next
	}
}

// makeRoom ensures there is space for one more entry by evicting the least
// recently used keys (usually long expired) in O(1) each. Callers hold t.mu.
func (t *Throttle) makeRoom() {
	for len(t.entries) >= t.maxKeys {
		t.remove(t.lru.Back())
	}
}

func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.lru.Remove(el)
}

// size returns the number of tracked keys (for tests).
func (t *Throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
