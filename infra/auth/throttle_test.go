package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustAllow(t *testing.T, th *Throttle, key string, now time.Time) {
	t.Helper()
	if ok, ra := th.Check(key, now); !ok || ra != 0 {
		t.Fatalf("Check(%q, +%v) = %v, %v; want allowed", key, now.Sub(t0), ok, ra)
	}
}

func mustBlock(t *testing.T, th *Throttle, key string, now time.Time, wantRetry time.Duration) {
	t.Helper()
	if ok, ra := th.Check(key, now); ok || ra != wantRetry {
		t.Fatalf("Check(%q, +%v) = %v, %v; want blocked for %v", key, now.Sub(t0), ok, ra, wantRetry)
	}
}

func TestThrottleLockoutAndRetryAfter(t *testing.T) {
	th := NewThrottle(3, time.Minute, 30*time.Second, 10*time.Minute)
	k := "email:a@example.edu"
	mustAllow(t, th, k, t0)
	th.Failure(k, t0)
	th.Failure(k, t0.Add(time.Second))
	mustAllow(t, th, k, t0.Add(2*time.Second))
	th.Failure(k, t0.Add(2*time.Second)) // third failure: locked for 30s from here
	mustBlock(t, th, k, t0.Add(2*time.Second), 30*time.Second)
	mustBlock(t, th, k, t0.Add(12*time.Second), 20*time.Second)
	mustBlock(t, th, k, t0.Add(32*time.Second-time.Nanosecond), time.Nanosecond)
	mustAllow(t, th, k, t0.Add(32*time.Second))

	// Other keys are unaffected.
	mustAllow(t, th, "ip:192.0.2.1", t0.Add(2*time.Second))
}

func TestThrottleDoublingUpToMax(t *testing.T) {
	base, maxL := 10*time.Second, 45*time.Second
	th := NewThrottle(2, time.Minute, base, maxL)
	k := "ip:198.51.100.7"
	now := t0
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 45 * time.Second, 45 * time.Second} {
		th.Failure(k, now)
		mustAllow(t, th, k, now)
		th.Failure(k, now)
		if ok, ra := th.Check(k, now); ok || ra != want {
			t.Fatalf("lockout %d: Check = %v, %v; want blocked for %v", i+1, ok, ra, want)
		}
		now = now.Add(want) // wait it out exactly
		mustAllow(t, th, k, now)
	}
}

func TestThrottleFailuresWhileLockedDoNotExtend(t *testing.T) {
	th := NewThrottle(2, time.Minute, 10*time.Second, time.Hour)
	k := "email:b@example.edu"
	th.Failure(k, t0)
	th.Failure(k, t0)
	for i := range 10 {
		th.Failure(k, t0.Add(time.Duration(i)*time.Second))
	}
	mustBlock(t, th, k, t0.Add(5*time.Second), 5*time.Second)
	mustAllow(t, th, k, t0.Add(10*time.Second))
}

func TestThrottleSuccessResets(t *testing.T) {
	th := NewThrottle(2, time.Minute, 10*time.Second, time.Hour)
	k := "email:c@example.edu"
	// Build up one lockout so escalation would apply next time.
	th.Failure(k, t0)
	th.Failure(k, t0)
	mustBlock(t, th, k, t0, 10*time.Second)
	now := t0.Add(10 * time.Second)
	th.Failure(k, now) // one failure pending
	th.Success(k)
	if th.size() != 0 {
		t.Fatalf("Success left %d entries", th.size())
	}
	// A failure right after success does not lock (pending count was reset)...
	th.Failure(k, now)
	mustAllow(t, th, k, now)
	// ...and the next lockout is back to the base duration, not doubled.
	th.Failure(k, now)
	mustBlock(t, th, k, now, 10*time.Second)

	th.Success("never-seen") // no-op, must not panic
}

func TestThrottleWindowExpiry(t *testing.T) {
	th := NewThrottle(3, time.Minute, 10*time.Second, time.Hour)
	k := "email:d@example.edu"
	// Failures spread wider than the window never lock.
	for i := range 10 {
		now := t0.Add(time.Duration(i) * 31 * time.Second)
		th.Failure(k, now)
		mustAllow(t, th, k, now)
	}
	// Two failures, window passes, two more: still allowed (count restarted).
	k2 := "email:e@example.edu"
	th.Failure(k2, t0)
	th.Failure(k2, t0.Add(59*time.Second))
	th.Failure(k2, t0.Add(60*time.Second)) // new window: count 1
	th.Failure(k2, t0.Add(61*time.Second)) // count 2
	mustAllow(t, th, k2, t0.Add(61*time.Second))
	th.Failure(k2, t0.Add(62*time.Second)) // count 3 within the new window
	mustBlock(t, th, k2, t0.Add(62*time.Second), 10*time.Second)
}

func TestThrottleEscalationForgottenAfterQuietPeriod(t *testing.T) {
	base, maxL := 10*time.Second, time.Minute
	th := NewThrottle(1, time.Minute, base, maxL)
	k := "ip:203.0.113.9"
	th.Failure(k, t0)
	mustBlock(t, th, k, t0, base)
	// Quiet for lockout + maxLockout: the entry has expired, so the next
	// lockout starts again at base instead of doubling.
	now := t0.Add(base + maxL)
	th.Failure(k, now)
	mustBlock(t, th, k, now, base)
	// Shortly after, escalation is remembered and the duration doubles.
	now = now.Add(base)
	th.Failure(k, now)
	mustBlock(t, th, k, now, 2*base)
}

func TestThrottlePruningBound(t *testing.T) {
	th := NewThrottle(5, time.Minute, time.Minute, time.Hour)
	th.maxKeys = 1000

	// Spray far more random keys than the cap: the map never exceeds it.
	for i := range 20 * th.maxKeys {
		th.Failure(fmt.Sprintf("email:%d@spray.example", i), t0)
		if n := th.size(); n > th.maxKeys {
			t.Fatalf("after %d keys the throttle holds %d > %d", i+1, n, th.maxKeys)
		}
	}
	if th.lru.Len() != th.size() {
		t.Fatalf("lru has %d elements, map %d", th.lru.Len(), th.size())
	}

	// A key under active attack survives an ongoing spray because every
	// attempt on it (Check, as the caller does before trying a password)
	// marks it as recently used; the spray adds 3*maxKeys new keys in total.
	victim := "email:victim@example.edu"
	for range 5 {
		th.Failure(victim, t0)
	}
	for round := range 6 {
		for i := range th.maxKeys / 2 {
			th.Failure(fmt.Sprintf("email:%d-%d@spray2.example", round, i), t0)
		}
		mustBlock(t, th, victim, t0, time.Minute)
	}

	// Once everything has expired, the periodic sweep empties the map even
	// if no new key is ever added.
	// (The victim's escalation is remembered until lockout end + maxLockout.)
	later := t0.Add(time.Minute + time.Hour)
	for range throttleSweepEvery {
		th.Check("ip:192.0.2.1", later)
	}
	if n := th.size(); n != 0 {
		t.Fatalf("after expiry and a sweep the throttle holds %d entries, want 0", n)
	}
}

func TestThrottleSweepKeepsLiveEntries(t *testing.T) {
	th := NewThrottle(2, time.Minute, time.Minute, time.Hour)
	th.Failure("locked", t0) // locked until +1m, escalation remembered until +61m
	th.Failure("locked", t0)
	th.Failure("pending", t0.Add(30*time.Minute)) // one failure, window open until +31m
	th.Failure("old", t0.Add(-2*time.Hour))       // window closed long ago
	later := t0.Add(30*time.Minute + time.Second)
	for range throttleSweepEvery {
		th.Check("x", later)
	}
	if th.size() != 2 {
		t.Fatalf("size = %d, want 2 (old entry swept, live ones kept)", th.size())
	}
	// The kept entries still behave: "pending" locks on its second failure.
	th.Failure("pending", later)
	mustBlock(t, th, "pending", later, time.Minute)
}

func TestThrottleNewPanicsOnBadConfig(t *testing.T) {
	tests := []struct {
		name                     string
		n                        int
		window, base, maxLockout time.Duration
	}{
		{"zero failures", 0, time.Minute, time.Second, time.Minute},
		{"zero window", 3, 0, time.Second, time.Minute},
		{"zero base", 3, time.Minute, 0, time.Minute},
		{"max below base", 3, time.Minute, time.Minute, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("NewThrottle did not panic")
				}
			}()
			NewThrottle(tc.n, tc.window, tc.base, tc.maxLockout)
		})
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th := NewThrottle(1000, time.Minute, time.Minute, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := fmt.Sprintf("k%d", i%10)
				th.Check(k, t0)
				th.Failure(k, t0)
				if i%97 == 0 {
					th.Success(fmt.Sprintf("k%d", g))
				}
			}
		}()
	}
	wg.Wait()
	if th.lru.Len() != th.size() {
		t.Fatalf("lru has %d elements, map %d", th.lru.Len(), th.size())
	}
}
