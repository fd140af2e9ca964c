package auth

import (
	"fmt"
	"sync"
	"time"
)

// pendingRetry is the Retry-After of an attempt refused because the
// attempts in flight already reach the limit: they settle within a password
// check or two, after which the caller learns whether the key is locked.
const pendingRetry = time.Second

// Lockout slows down password guessing by locking a key after too many
// failed attempts. It is in-memory and per process: it does not survive
// restarts and is not shared between replicas, which is acceptable for a
// speed bump whose job is to make online guessing impractically slow, not to
// be an exact global counter.
//
// An attempt is counted when it starts (Reserve), not when its password
// check ends: attempts in flight count as failures until they settle, so
// concurrent guesses cannot all pass the check before any of them is
// counted. Reserve refuses once the failures and the attempts in flight
// reach maxFailures; maxFailures failures within window lock the key for
// baseLockout, each further lockout doubling it up to maxLockout. A success
// forgets the key entirely. An entry is also forgotten once its window has
// passed and it has been unlocked for maxLockout without new failures, so
// escalation does not last forever.
//
// Every successful Reserve must be followed by exactly one of Failed,
// Succeeded or Abandoned. A Lockout is safe for concurrent use.
type Lockout struct {
	maxFailures int
	window      time.Duration
	baseLockout time.Duration
	maxLockout  time.Duration

	mu   sync.Mutex
	keys keyed[lockEntry]
}

type lockEntry struct {
	failures    int       // failures in the current window
	pending     int       // attempts reserved and not yet settled
	windowStart time.Time // first failure of the current window
	lockouts    int       // lockouts so far, drives the doubling
	lockedUntil time.Time // zero if never locked
}

// NewLockout returns a Lockout with the given policy. It panics if
// maxFailures < 1, window or baseLockout is not positive, or maxLockout <
// baseLockout: these are programming errors in static configuration, like a
// non-positive interval passed to time.NewTicker.
func NewLockout(maxFailures int, window, baseLockout, maxLockout time.Duration) *Lockout {
	if maxFailures < 1 || window <= 0 || baseLockout <= 0 || maxLockout < baseLockout {
		panic(fmt.Sprintf("auth: invalid lockout config: maxFailures=%d window=%v baseLockout=%v maxLockout=%v",
			maxFailures, window, baseLockout, maxLockout))
	}
	l := &Lockout{maxFailures: maxFailures, window: window, baseLockout: baseLockout, maxLockout: maxLockout}
	l.keys = newKeyed(l.expired)
	return l
}

// Reserve counts an attempt on key at now, before any password work, or
// refuses it with how long to wait (for Retry-After; round it up to whole
// seconds there). The check and the count are one step.
func (l *Lockout) Reserve(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys.entry(key, now)
	if now.Before(e.lockedUntil) {
		return false, e.lockedUntil.Sub(now)
	}
	if e.failures > 0 && now.Sub(e.windowStart) >= l.window {
		e.failures = 0
	}
	if e.failures+e.pending >= l.maxFailures {
		return false, pendingRetry
	}
	e.pending++
	return true, 0
}

// Failed settles a reserved attempt as a failure, locking the key when the
// failures reach maxFailures within window. A failure while the key is
// already locked does not extend the lockout beyond what the escalation
// rules allow.
func (l *Lockout) Failed(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys.entry(key, now)
	e.pending = max(0, e.pending-1)
	if now.Before(e.lockedUntil) {
		return
	}
	if e.failures == 0 || now.Sub(e.windowStart) >= l.window {
		e.failures = 0
		e.windowStart = now
	}
	e.failures++
	if e.failures >= l.maxFailures {
		e.lockouts++
		e.lockedUntil = now.Add(l.lockout(e.lockouts))
		e.failures = 0
	}
}

// Succeeded settles a reserved attempt as a success and forgets key: a
// correct password proves the caller is not guessing, so earlier failures
// and the lockout escalation no longer apply.
func (l *Lockout) Succeeded(key string, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys.delete(key)
}

// Abandoned settles a reserved attempt that checked no password (the
// request failed for another reason): it counts for nothing.
func (l *Lockout) Abandoned(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys.get(key, now); e != nil {
		e.pending = max(0, e.pending-1)
	}
}

// lockout returns the duration of the n-th lockout (n >= 1): baseLockout
// doubled n-1 times, capped at maxLockout, computed without overflow.
func (l *Lockout) lockout(n int) time.Duration {
	d := l.baseLockout
	for i := 1; i < n && d < l.maxLockout; i++ {
		d *= 2
	}
	return min(d, l.maxLockout)
}

// expired reports whether e carries no information any more: nothing in
// flight, not locked, its failure window over, and unlocked for maxLockout
// (escalation memory).
func (l *Lockout) expired(e *lockEntry, now time.Time) bool {
	if e.pending > 0 {
		return false
	}
	if e.failures > 0 && now.Sub(e.windowStart) < l.window {
		return false
	}
	if e.lockouts > 0 && now.Before(e.lockedUntil.Add(l.maxLockout)) {
		return false
	}
	return true
}

// size returns the number of tracked keys (for tests).
func (l *Lockout) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.size()
}

// Slowdown delays rather than locks: once a key has limit failures (with
// the attempts in flight) within window, it is let through at most once per
// interval, however many ask. Nobody is ever shut out for longer than
// interval, so it suits keys a third party can drive up: an account anybody
// may guess at, or an address many people share. Like Lockout, it counts an
// attempt when it starts, and every successful Reserve must be followed by
// one of Failed, Succeeded or Abandoned. It is safe for concurrent use.
type Slowdown struct {
	limit    int
	window   time.Duration
	interval time.Duration

	mu   sync.Mutex
	keys keyed[slowEntry]
}

type slowEntry struct {
	failures    int
	pending     int
	windowStart time.Time
	next        time.Time // when the next attempt past the limit may go
}

// NewSlowdown returns a Slowdown with the given policy; it panics on a
// non-positive limit, window or interval (static configuration).
func NewSlowdown(limit int, window, interval time.Duration) *Slowdown {
	if limit < 1 || window <= 0 || interval <= 0 {
		panic(fmt.Sprintf("auth: invalid slowdown config: limit=%d window=%v interval=%v", limit, window, interval))
	}
	s := &Slowdown{limit: limit, window: window, interval: interval}
	s.keys = newKeyed(s.expired)
	return s
}

// Reserve counts an attempt on key, or refuses it with how long to wait.
func (s *Slowdown) Reserve(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	return s.reserve(key, now, false)
}

// reserve is Reserve; an exempt attempt is counted but never delayed.
func (s *Slowdown) reserve(key string, now time.Time, exempt bool) (ok bool, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys.entry(key, now)
	if e.failures > 0 && now.Sub(e.windowStart) >= s.window {
		e.failures = 0
	}
	if !exempt && e.failures+e.pending >= s.limit {
		if now.Before(e.next) {
			return false, e.next.Sub(now)
		}
		e.next = now.Add(s.interval)
	}
	e.pending++
	return true, 0
}

// Failed settles a reserved attempt as a failure.
func (s *Slowdown) Failed(key string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys.entry(key, now)
	e.pending = max(0, e.pending-1)
	if e.failures == 0 || now.Sub(e.windowStart) >= s.window {
		e.failures = 0
		e.windowStart = now
	}
	e.failures++
}

// Succeeded settles a reserved attempt as a success. Earlier failures stay
// counted: one right password on a key others are guessing at says nothing
// about them.
func (s *Slowdown) Succeeded(key string, now time.Time) { s.Abandoned(key, now) }

// Abandoned settles a reserved attempt that checked no password.
func (s *Slowdown) Abandoned(key string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.keys.get(key, now); e != nil {
		e.pending = max(0, e.pending-1)
	}
}

func (s *Slowdown) expired(e *slowEntry, now time.Time) bool {
	return e.pending == 0 && (e.failures == 0 || now.Sub(e.windowStart) >= s.window) && !now.Before(e.next)
}
