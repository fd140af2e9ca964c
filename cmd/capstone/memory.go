package main

import (
	"context"
	"time"

	"github.com/capstone-pms/capstone/internal/memlimit"
)

// serveMemoryFloor is the soft memory limit of `capstone serve` while its
// live heap is under two thirds of it (memlimit.Follow). What the Go
// runtime does not count comes on top: the binary's code and data mapped
// from its file (about 35 MiB resident) and the embedded store's SQLite
// memory (10 to 20 MiB), so the whole process stays under 150 MiB through
// a 5,000-student cohort's allocation (141 to 146 MiB measured; 151 to
// 153 with a floor of 100 MiB; 214 to 231 with no limit).
const serveMemoryFloor = 90 << 20

// serveMemoryEvery is how often the limit follows the live heap, which
// moves only at the end of a collection.
const serveMemoryEvery = 250 * time.Millisecond

// followMemory keeps a `capstone serve` process's soft memory limit
// following its live heap until ctx ends, unless GOMEMLIMIT sets one (as
// the Kubernetes manifests do, from the container's memory limit). It is
// started by main, not by run: the tests run many services in one process,
// whose limit is not theirs to set.
func followMemory(ctx context.Context, args []string, env func(string) string) {
	if len(args) == 0 || args[0] != "serve" || env("GOMEMLIMIT") != "" {
		return
	}
	go memlimit.Follow(ctx, serveMemoryFloor, serveMemoryEvery)
}
