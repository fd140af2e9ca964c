package retry

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestDelay: for random steps and attempts, the bound is step × min(attempt
// + 1, steps), so it grows with the attempts and stops growing at steps;
// every delay is below it, and the delays are spread over it (jittered),
// not one value.
func TestDelay(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		step, steps, attempt := time.Duration(1+rng.IntN(5_000_000)), 1+rng.IntN(60), rng.IntN(100)
		b := bound(attempt, step, steps)
		if want := step * time.Duration(min(attempt+1, steps)); b != want {
			t.Fatalf("bound(%d, %s, %d) = %s, want %s", attempt, step, steps, b, want)
		}
		if next := bound(attempt+1, step, steps); next < b || (attempt+1 < steps && next == b) {
			t.Fatalf("bound(%d) = %s after bound(%d) = %s with %d steps", attempt+1, next, attempt, b, steps)
		}
		lo, hi := b, time.Duration(0)
		for range 200 {
			d := delay(attempt, step, steps)
			if d < 0 || d >= b {
				t.Fatalf("delay(%d, %s, %d) = %s, outside [0, %s)", attempt, step, steps, d, b)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if hi-lo < b/2 {
			t.Fatalf("200 delays below %s all within [%s, %s]: not jittered", b, lo, hi)
		}
	}
}

// TestBackoffEndsWithContext: a wait ends when its context does.
func TestBackoffEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	Backoff(ctx, 1000, time.Hour, 1000)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("a cancelled wait of up to 1000 hours took %s", d)
	}
}
