package loadgen

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// windows builds n windows: p99 i ms, resident memory rss(i) and data(i)
// bytes for 1000·(i+1) events.
func windows(n int, p99 func(i int) float64, rss, data func(i int) int64) []Window {
	ws := make([]Window, n)
	for i := range ws {
		ws[i] = Window{Start: time.Duration(i) * time.Minute, End: time.Duration(i+1) * time.Minute, Total: 1000,
			P50: time.Millisecond, P99: time.Duration(p99(i) * float64(time.Millisecond)), RSS: rss(i),
			Events: 1000 * int64(i+1), DataBytes: data(i)}
	}
	return ws
}

func failed(v SoakVerdict) map[string]bool {
	out := map[string]bool{}
	for _, c := range v.Checks {
		if !c.OK {
			out[c.Name] = true
		}
	}
	return out
}

// TestJudge: a steady run passes, whatever its noise within the limits; a
// p99 that grows, memory that keeps growing, or data that grows faster than
// its events each fail their check, and nothing passes unmeasured.
func TestJudge(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	noise := func(x float64) float64 { return x * (0.8 + 0.4*rng.Float64()) }
	flatP99 := func(int) float64 { return noise(20) }
	cachesFill := func(i int) int64 { return 40<<20 + int64(min(i, 1))*(15<<20) + rng.Int64N(2<<20) } // fills in the first window, then stays
	perEvent := func(i int) int64 { return 2<<20 + 400*1000*int64(i+1) }                              // a fixed start, then 400 B an event

	for range 20 {
		n := 4 + rng.IntN(10) // so that half-way is past the first window
		if v := Judge(windows(n, flatP99, cachesFill, perEvent)); !v.OK {
			t.Fatalf("a steady run of %d windows failed: %+v", n, v)
		}
	}
	// Two windows: half-way is the end of the first, while the caches fill.
	if v := Judge(windows(2, flatP99, cachesFill, perEvent)); v.OK || !failed(v)["memory"] {
		t.Fatalf("memory that grew by 15 MiB over the second half passed: %+v", v)
	}
	for _, tc := range []struct {
		name      string
		p99       func(int) float64
		rss, data func(int) int64
	}{
		{"latency", func(i int) float64 { return 20 + 2*float64(i) }, cachesFill, perEvent},             // 20 -> 38 ms
		{"memory", flatP99, func(i int) int64 { return 50<<20 + int64(i)*(3<<20) }, perEvent},           // +3 MiB a window, for good
		{"data", flatP99, cachesFill, func(i int) int64 { return 2<<20 + 400*1000*int64((i+1)*(i+1)) }}, // quadratic
	} {
		v := Judge(windows(10, tc.p99, tc.rss, tc.data))
		if f := failed(v); v.OK || len(f) != 1 || !f[tc.name] {
			t.Fatalf("%s drifting: %+v", tc.name, v)
		}
	}
	none := windows(10, flatP99, func(int) int64 { return 0 }, func(int) int64 { return 0 })
	if v := Judge(none); v.OK || !failed(v)["memory"] || !failed(v)["data"] || v.Checks[1].Measured {
		t.Fatalf("unmeasured memory and data passed: %+v", v)
	}
	if v := Judge(windows(1, flatP99, cachesFill, perEvent)); v.OK {
		t.Fatalf("one window passed: %+v", v)
	}
}

// TestSoakWindows runs soaks against the fake: the windows cover the run
// and add up to it, each with the target's memory, events, CPU per
// operation (a millisecond a request, here) and the data size sampled at
// its end; a target that slows down, leaks and grows its
// data faster than its events fails each check, and a steady one passes
// those of memory and data.
func TestSoakWindows(t *testing.T) {
	soak := func(f *fakeAPI) Report {
		_, url := startFake(t, f)
		var ended []int
		rep, err := Run(context.Background(), Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword,
			Clients: 4, Duration: 2 * time.Second, Window: 500 * time.Millisecond, Rate: 150, LagEvery: -1,
			Mix: Mix{OpGetProject: 1, OpEditProject: 1, OpListProjects: 1},
			DataBytes: func() int64 {
				n := f.requests.Load()
				return 100*n + f.dataBy*n*n
			},
			WindowEnded: func(n int) { ended = append(ended, n) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Windows) != 4 || len(ended) != 4 || ended[3] != 4 {
			t.Fatalf("%d windows, ended %v; want 4", len(rep.Windows), ended)
		}
		total := 0
		for i, w := range rep.Windows {
			total += w.Total
			if w.Total == 0 || w.RSS == 0 || w.Events == 0 || w.DataBytes == 0 || w.CPUPerOp < 500*time.Microsecond ||
				w.CPUPerOp > 2*time.Millisecond || w.Start != time.Duration(i)*500*time.Millisecond {
				t.Fatalf("window %d: %+v", i+1, w)
			}
		}
		if total != rep.Total {
			t.Fatalf("the windows have %d operations, the run %d", total, rep.Total)
		}
		return rep
	}
	drifting := soak(&fakeAPI{slowBy: 100 * time.Millisecond, leakBy: 1 << 20, dataBy: 50})
	if v := Judge(drifting.Windows); v.OK || len(failed(v)) != 3 {
		t.Fatalf("a drifting target: %+v", v)
	}
	steady := soak(&fakeAPI{})
	if f := failed(Judge(steady.Windows)); f["memory"] || f["data"] {
		t.Fatalf("a steady target failed %v: %+v", f, steady.Windows)
	}
}
