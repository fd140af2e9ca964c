package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fail makes one failed attempt on key at now; the attempt must be let in.
func fail(t *testing.T, l *Lockout, key string, now time.Time) {
	t.Helper()
	if ok, ra := l.Reserve(key, now); !ok {
		t.Fatalf("Reserve(%q, +%v) refused (retry %v), want an attempt", key, now.Sub(t0), ra)
	}
	l.Failed(key, now)
}

func mustAllow(t *testing.T, l *Lockout, key string, now time.Time) {
	t.Helper()
	ok, ra := l.Reserve(key, now)
	if !ok || ra != 0 {
		t.Fatalf("Reserve(%q, +%v) = %v, %v; want allowed", key, now.Sub(t0), ok, ra)
	}
	l.Abandoned(key, now)
}

func mustBlock(t *testing.T, l *Lockout, key string, now time.Time, wantRetry time.Duration) {
	t.Helper()
	if ok, ra := l.Reserve(key, now); ok || ra != wantRetry {
		t.Fatalf("Reserve(%q, +%v) = %v, %v; want blocked for %v", key, now.Sub(t0), ok, ra, wantRetry)
	}
}

func TestLockoutAndRetryAfter(t *testing.T) {
	l := NewLockout(3, time.Minute, 30*time.Second, 10*time.Minute)
	k := "a@example.edu"
	fail(t, l, k, t0)
	fail(t, l, k, t0.Add(time.Second))
	mustAllow(t, l, k, t0.Add(2*time.Second))
	fail(t, l, k, t0.Add(2*time.Second)) // third failure: locked for 30s from here
	mustBlock(t, l, k, t0.Add(2*time.Second), 30*time.Second)
	mustBlock(t, l, k, t0.Add(12*time.Second), 20*time.Second)
	mustBlock(t, l, k, t0.Add(32*time.Second-time.Nanosecond), time.Nanosecond)
	mustAllow(t, l, k, t0.Add(32*time.Second))
	mustAllow(t, l, "192.0.2.1", t0.Add(2*time.Second)) // other keys are unaffected
}

// TestLockoutCountsAttemptsWhenTheyStart: concurrent attempts all reserve
// before any of them is judged, so only maxFailures get in, however many
// race; a success among them forgives the key, failures lock it.
func TestLockoutCountsAttemptsWhenTheyStart(t *testing.T) {
	l := NewLockout(5, time.Minute, 30*time.Second, time.Hour)
	k := "victim@example.edu"
	in := 0
	for range 300 {
		if ok, _ := l.Reserve(k, t0); ok {
			in++
		}
	}
	if in != 5 {
		t.Fatalf("%d of 300 racing attempts got in, want 5", in)
	}
	if ok, ra := l.Reserve(k, t0); ok || ra != pendingRetry {
		t.Fatalf("with 5 in flight: %v %v, want refused for %v", ok, ra, pendingRetry)
	}
	for range 4 {
		l.Failed(k, t0)
	}
	l.Abandoned(k, t0) // the fifth checked nothing: a slot opens again
	fail(t, l, k, t0)  // ... and its failure locks the key
	mustBlock(t, l, k, t0, 30*time.Second)

	// A success settles the pair at once, even with others in flight.
	k2 := "owner@example.edu"
	for range 5 {
		l.Reserve(k2, t0)
	}
	l.Succeeded(k2, t0)
	mustAllow(t, l, k2, t0)
}

func TestLockoutDoublingUpToMax(t *testing.T) {
	base, maxL := 10*time.Second, 45*time.Second
	l := NewLockout(2, time.Minute, base, maxL)
	k := "198.51.100.7"
	now := t0
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 45 * time.Second, 45 * time.Second} {
		fail(t, l, k, now)
		mustAllow(t, l, k, now)
		fail(t, l, k, now)
		if ok, ra := l.Reserve(k, now); ok || ra != want {
			t.Fatalf("lockout %d: Reserve = %v, %v; want blocked for %v", i+1, ok, ra, want)
		}
		now = now.Add(want) // wait it out exactly
		mustAllow(t, l, k, now)
	}
}

// Attempts that were in flight when the key locked do not extend the lockout.
func TestLockoutFailuresWhileLockedDoNotExtend(t *testing.T) {
	l := NewLockout(2, time.Minute, 10*time.Second, time.Hour)
	k := "b@example.edu"
	l.Reserve(k, t0)
	l.Reserve(k, t0)
	l.Failed(k, t0)
	l.Failed(k, t0) // locked until +10s
	for i := range 10 {
		l.Failed(k, t0.Add(time.Duration(i)*time.Second))
	}
	mustBlock(t, l, k, t0.Add(5*time.Second), 5*time.Second)
	mustAllow(t, l, k, t0.Add(10*time.Second))
}

func TestLockoutSuccessResets(t *testing.T) {
	l := NewLockout(2, time.Minute, 10*time.Second, time.Hour)
	k := "c@example.edu"
	fail(t, l, k, t0)
	fail(t, l, k, t0)
	mustBlock(t, l, k, t0, 10*time.Second)
	now := t0.Add(10 * time.Second)
	fail(t, l, k, now)
	l.Reserve(k, now)
	l.Succeeded(k, now)
	if l.size() != 0 {
		t.Fatalf("Succeeded left %d entries", l.size())
	}
	fail(t, l, k, now)
	mustAllow(t, l, k, now)
	fail(t, l, k, now) // the next lockout is back to the base duration, not doubled
	mustBlock(t, l, k, now, 10*time.Second)
	l.Succeeded("never-seen", now) // no-op, must not panic
	l.Abandoned("never-seen", now)
}

func TestLockoutWindowExpiry(t *testing.T) {
	l := NewLockout(3, time.Minute, 10*time.Second, time.Hour)
	k := "d@example.edu"
	for i := range 10 { // failures spread wider than the window never lock
		now := t0.Add(time.Duration(i) * 31 * time.Second)
		fail(t, l, k, now)
		mustAllow(t, l, k, now)
	}
	k2 := "e@example.edu"
	fail(t, l, k2, t0)
	fail(t, l, k2, t0.Add(59*time.Second))
	fail(t, l, k2, t0.Add(60*time.Second)) // new window: count 1
	fail(t, l, k2, t0.Add(61*time.Second)) // count 2
	mustAllow(t, l, k2, t0.Add(61*time.Second))
	fail(t, l, k2, t0.Add(62*time.Second)) // count 3 within the new window
	mustBlock(t, l, k2, t0.Add(62*time.Second), 10*time.Second)
}

func TestLockoutEscalationForgottenAfterQuietPeriod(t *testing.T) {
	base, maxL := 10*time.Second, time.Minute
	l := NewLockout(1, time.Minute, base, maxL)
	k := "203.0.113.9"
	fail(t, l, k, t0)
	mustBlock(t, l, k, t0, base)
	now := t0.Add(base + maxL) // quiet for lockout + maxLockout: starts again at base
	fail(t, l, k, now)
	mustBlock(t, l, k, now, base)
	now = now.Add(base) // shortly after, escalation is remembered
	fail(t, l, k, now)
	mustBlock(t, l, k, now, 2*base)
}

func TestLockoutMemoryBound(t *testing.T) {
	l := NewLockout(5, time.Minute, time.Minute, time.Hour)
	l.keys.maxKeys = 1000
	for i := range 20 * l.keys.maxKeys { // spray far more keys than the cap
		fail(t, l, fmt.Sprintf("%d@spray.example", i), t0)
		if n := l.size(); n > l.keys.maxKeys {
			t.Fatalf("after %d keys the lockout holds %d > %d", i+1, n, l.keys.maxKeys)
		}
	}
	if l.keys.lru.Len() != l.size() {
		t.Fatalf("lru has %d elements, map %d", l.keys.lru.Len(), l.size())
	}
	// A key under active attack survives an ongoing spray: every attempt on
	// it marks it as recently used.
	victim := "victim@example.edu"
	for range 5 {
		fail(t, l, victim, t0)
	}
	for round := range 6 {
		for i := range l.keys.maxKeys / 2 {
			fail(t, l, fmt.Sprintf("%d-%d@spray2.example", round, i), t0)
		}
		mustBlock(t, l, victim, t0, time.Minute)
	}
	// Once everything has expired, the periodic sweep empties the map.
	later := t0.Add(time.Minute + time.Hour)
	for range throttleSweepEvery {
		l.Abandoned("192.0.2.1", later)
	}
	if n := l.size(); n != 0 {
		t.Fatalf("after expiry and a sweep the lockout holds %d entries, want 0", n)
	}
}

func TestLockoutSweepKeepsLiveEntries(t *testing.T) {
	l := NewLockout(2, time.Minute, time.Minute, time.Hour)
	fail(t, l, "locked", t0) // locked until +1m, escalation remembered until +61m
	fail(t, l, "locked", t0)
	fail(t, l, "failing", t0.Add(30*time.Minute)) // one failure, window open until +31m
	l.Reserve("in flight", t0.Add(-3*time.Hour))  // never settled: kept
	fail(t, l, "old", t0.Add(-2*time.Hour))       // window closed long ago
	later := t0.Add(30*time.Minute + time.Second)
	for range throttleSweepEvery {
		l.Abandoned("x", later)
	}
	if l.size() != 3 {
		t.Fatalf("size = %d, want 3 (old entry swept, live ones kept)", l.size())
	}
	fail(t, l, "failing", later) // the kept entries still behave
	mustBlock(t, l, "failing", later, time.Minute)
}

func TestNewPanicsOnBadConfig(t *testing.T) {
	for name, f := range map[string]func(){
		"zero failures":  func() { NewLockout(0, time.Minute, time.Second, time.Minute) },
		"zero window":    func() { NewLockout(3, 0, time.Second, time.Minute) },
		"zero base":      func() { NewLockout(3, time.Minute, 0, time.Minute) },
		"max below base": func() { NewLockout(3, time.Minute, time.Minute, time.Second) },
		"zero limit":     func() { NewSlowdown(0, time.Minute, time.Second) },
		"zero interval":  func() { NewSlowdown(3, time.Minute, 0) },
		"zero slots":     func() { NewGate(0, 1, time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestLockoutConcurrent(t *testing.T) {
	l := NewLockout(1000, time.Minute, time.Minute, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprintf("k%d", i%10)
				if ok, _ := l.Reserve(k, t0); ok {
					switch i % 97 {
					case 0:
						l.Succeeded(fmt.Sprintf("k%d", g), t0)
						l.Abandoned(k, t0)
					default:
						l.Failed(k, t0)
					}
				}
			}
		}()
	}
	wg.Wait()
	if l.keys.lru.Len() != l.size() {
		t.Fatalf("lru has %d elements, map %d", l.keys.lru.Len(), l.size())
	}
}

// TestSlowdownDelaysNeverLocks: past the limit one attempt per interval
// gets in however many ask, and nobody waits longer than the interval.
func TestSlowdownDelaysNeverLocks(t *testing.T) {
	s := NewSlowdown(3, time.Minute, 2*time.Second)
	k := "10.0.0.1"
	for range 3 {
		if ok, _ := s.Reserve(k, t0); !ok {
			t.Fatal("refused below the limit")
		}
		s.Failed(k, t0)
	}
	now := t0
	for step := range 20 {
		in := 0
		for range 50 { // 50 ask at once
			ok, ra := s.Reserve(k, now)
			if ok {
				in++
				s.Failed(k, now)
			} else if ra <= 0 || ra > 2*time.Second {
				t.Fatalf("step %d: retry after %v, want within the interval", step, ra)
			}
		}
		if in != 1 {
			t.Fatalf("step %d: %d of 50 got in, want 1 per interval", step, in)
		}
		now = now.Add(2 * time.Second)
	}
	// Exempt attempts are counted but never delayed.
	for range 10 {
		if ok, _ := s.reserve(k, now, true); !ok {
			t.Fatal("an exempt attempt was delayed")
		}
		s.Succeeded(k, now)
	}
	// The window passes: back to normal.
	later := now.Add(time.Minute)
	for range 3 {
		if ok, _ := s.Reserve(k, later); !ok {
			t.Fatal("refused after the window")
		}
		s.Abandoned(k, later)
	}
}
