// Package retry is how a writer that lost a race waits before it tries
// again: a little, growing with each attempt, and jittered, so that writers
// contending for one thing take turns instead of colliding again in
// lockstep. The command path uses it after losing an append, a projection
// after losing a read-model write.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff waits a random time below step × min(attempt+1, steps) (attempt
// counts from 0), or until ctx ends.
func Backoff(ctx context.Context, attempt int, step time.Duration, steps int) {
	select {
	case <-ctx.Done():
	case <-time.After(delay(attempt, step, steps)):
	}
}

// bound is what every wait of an attempt stays below.
func bound(attempt int, step time.Duration, steps int) time.Duration {
	return step * time.Duration(min(attempt+1, steps))
}

// delay is a wait of an attempt, uniform in [0, bound).
func delay(attempt int, step time.Duration, steps int) time.Duration {
	return time.Duration(rand.Int64N(int64(bound(attempt, step, steps))))
}
