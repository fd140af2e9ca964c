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

// TestSoakWindows runs a soak against the fake: the windows cover the run
// and add up to it, each sampled at its end (the target's memory, events,
// CPU time and the data size). What it checks is what the run itself fixes,
// not how fast a loaded machine answered: the verdict on a drifting target
// is tested on constructed records (TestSummarizeWindows), where a slower
// neighbour cannot move it.
func TestSoakWindows(t *testing.T) {
	f := &fakeAPI{}
	_, url := startFake(t, f)
	var ended []int
	rep, err := Run(context.Background(), Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword,
		Clients: 4, Duration: 2 * time.Second, Window: 500 * time.Millisecond, Rate: 150, LagEvery: -1,
		Mix:         Mix{OpGetProject: 1, OpEditProject: 1, OpListProjects: 1},
		DataBytes:   func() int64 { return 100 * f.requests.Load() },
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
		if w.Total == 0 || w.RSS == 0 || w.Events == 0 || w.DataBytes == 0 || w.CPUPerOp <= 0 ||
			w.Start != time.Duration(i)*500*time.Millisecond || w.End <= w.Start {
			t.Fatalf("window %d: %+v", i+1, w)
		}
		if i > 0 && (w.Events < rep.Windows[i-1].Events || w.DataBytes < rep.Windows[i-1].DataBytes) {
			t.Fatalf("window %d was sampled before window %d: %+v", i+1, i, rep.Windows)
		}
	}
	if total != rep.Total {
		t.Fatalf("the windows have %d operations, the run %d", total, rep.Total)
	}
}

// TestSummarizeWindows gives summarizeWindows the records and samples of a
// soak of ten windows, made up so that every figure is known: each client
// reads in 1, 2, ..., 100 ms and edits in 101, ..., 200 ms, times the
// window's slowness, and the process spends a millisecond of CPU an
// operation. The windows
// show those figures; a steady target passes the verdict, and one that
// slows down, leaks and grows its data faster than its events fails
// exactly those three checks.
func TestSummarizeWindows(t *testing.T) {
	const windows, clients, per = 10, 4, 100 // answers per client, operation and window
	ops := []string{OpGetProject, OpEditProject, OpListProjects}
	type target struct {
		slow      func(n int) float64 // how much slower than the first window
		rss, data func(n int, events int64) int64
	}
	soak := func(tg target) []Window {
		r := &runner{o: Options{Window: time.Minute}, windows: windows, startCPU: 7}
		for range clients {
			c := &client{recs: make([]recorder, windows)}
			for n := range windows {
				c.recs[n] = recorder{}
				for _, op := range ops {
					first := 1.0 // ms
					if op == OpEditProject {
						first = 101 // the writes are the slowest
					}
					for k := range per {
						c.recs[n].op(op).add(time.Duration((first + float64(k)) * tg.slow(n) * float64(time.Millisecond)))
					}
				}
			}
			r.client = append(r.client, c)
		}
		cpu := r.startCPU
		for n := range windows {
			events := int64(1000 * (n + 1))
			cpu += float64(clients*len(ops)*per) / 1000 // a millisecond an operation
			r.samples = append(r.samples, windowSample{rss: tg.rss(n, events), events: events, data: tg.data(n, events), cpu: cpu})
		}
		ws := r.summarizeWindows(windows * time.Minute)
		for n, w := range ws {
			s := tg.slow(n)
			ms := func(x float64) time.Duration { return time.Duration(x * s * float64(time.Millisecond)) }
			if w.Start != time.Duration(n)*time.Minute || w.End != time.Duration(n+1)*time.Minute ||
				w.Total != clients*len(ops)*per || w.Errors != 0 || w.PerSec != float64(w.Total)/60 ||
				w.P50 != ms(75) || w.P99 != ms(197) || w.WriteP99 != ms(199) || w.ListP50 != ms(50) ||
				(w.CPUPerOp-time.Millisecond).Abs() > time.Microsecond ||
				w.RSS != r.samples[n].rss || w.Events != r.samples[n].events || w.DataBytes != r.samples[n].data {
				t.Fatalf("window %d: %+v, from %+v", n+1, w, r.samples[n])
			}
		}
		return ws
	}

	steady := target{
		slow: func(int) float64 { return 1 },
		rss:  func(n int, _ int64) int64 { return 40<<20 + int64(min(n, 1))*(15<<20) }, // caches fill in the first window
		data: func(_ int, events int64) int64 { return 2<<20 + 400*events },            // a fixed start, then 400 B an event
	}
	if v := Judge(soak(steady)); !v.OK {
		t.Fatalf("a steady target failed: %+v", v)
	}
	drifting := target{
		slow: func(n int) float64 { return 1 + 0.2*float64(n) },                         // 2.8x slower in the last window
		rss:  func(n int, _ int64) int64 { return 50<<20 + int64(n)*(3<<20) },           // +3 MiB a window, for good
		data: func(_ int, events int64) int64 { return 2<<20 + 400*events*events/1000 }, // quadratic
	}
	if v := Judge(soak(drifting)); v.OK || len(failed(v)) != 3 {
		t.Fatalf("a drifting target: %+v", v)
	}
}
