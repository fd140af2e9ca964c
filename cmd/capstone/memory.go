package main

import (
	"context"
	"runtime"
	"strings"
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

// serveGCPercent is the collector's target of `capstone serve` unless
// GOGC sets one: a collection each time the heap has grown by half of what
// the last one found live, not by all of it. The service holds a live heap
// of some 30 MiB once a cohort is loaded (the hot read models, the caches
// of recent writes), and the room GOGC=100 leaves above it was the largest
// part of its resident memory while 64 clients read: 136 to 140 MiB at its
// peak, against 120 to 125 MiB at 50, for some 5% fewer reads a second.
// A file's import collects at serveBulkGCPercent instead.
const serveGCPercent = 50

// serveBulkGCPercent is the collector's target of `capstone serve` while a
// file is imported (memlimit.Busy), unless GOGC sets one. An import
// allocates fast and keeps little, and its rows are bound by the CPU (2
// cores): at 50 the collector took a quarter of it (a CPU profile of a
// students file: 15% in assists, 11% in its own workers). At 200 the soft
// limit (memlimit.Follow) is what binds at the peak, so the process grows
// no larger: a 5,000-student cohort's supervisors, students and
// preferences ran at 905, 1,332 and 1,508 rows/s, 794, 1,359 and 1,453,
// and 927, 1,186 and 1,251, against 690, 1,011 and 1,279, 720, 1,044 and
// 1,572, and 609, 988 and 1,089 at 50 (interleaved, a busy machine), for
// a peak RSS of 130 to 132 MiB against 128 to 133. (GOGC=400 and off for
// the whole process ran no faster than 200.)
const serveBulkGCPercent = 200

// followMemory keeps a `capstone serve` process's soft memory limit
// following its live heap until ctx ends, unless GOMEMLIMIT sets one (as
// the Kubernetes manifests do, from the container's memory limit), and
// sets its collector's targets unless GOGC does, and keeps no heap profile
// unless GODEBUG asks for one (profilesMemory). It is called by main, not
// by run: the tests run many services in one process, whose memory is not
// theirs to tune.
func followMemory(ctx context.Context, args []string, env func(string) string) {
	if len(args) == 0 || args[0] != "serve" {
		return
	}
	if env("GOGC") == "" {
		memlimit.TuneGC(serveGCPercent, serveBulkGCPercent)
	}
	if !profilesMemory(env("GODEBUG")) {
		runtime.MemProfileRate = 0
	}
	if env("GOMEMLIMIT") == "" {
		go memlimit.Follow(ctx, serveMemoryFloor, serveMemoryEvery)
	}
}

// profilesMemory reports whether GODEBUG asks for the runtime's heap
// profile. Unless it does, `capstone serve` keeps none: nothing in it reads
// the profile (it serves no profiling endpoint), yet the runtime samples an
// allocation in every 512 KiB and keeps a record for each allocating call
// stack it saw, in a table of 1.4 MiB: some 2 MiB in a service that had
// served 64 clients (go_memstats_buck_hash_sys_bytes).
func profilesMemory(godebug string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if strings.HasPrefix(strings.TrimSpace(kv), "memprofilerate=") {
			return true
		}
	}
	return false
}
