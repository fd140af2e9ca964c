package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"
)

// A soak holds a constant offered load (Options.Rate) for a long while and
// asks whether the service stays the same over it: the measured phase is
// split into windows (Options.Window), and Judge compares the last with the
// first (latency), with the middle of the run (memory), and the data's
// size with the events it holds.

// Window is one stretch of the measured phase and what was sampled at its
// end. The memory and events come from the target's /metrics (its process:
// with the service in the load generator's process, both together); 0 when
// it did not answer them.
type Window struct {
	Start, End    time.Duration // since the measured phase began
	Total, Errors int
	PerSec        float64
	P50, P99      time.Duration // over every answer in the window
	WriteP99      time.Duration // over the write commands' answers
	ListP50       time.Duration // over the students' project lists
	RSS           int64         // the target's resident memory, bytes
	Events        int64         // events the target has appended, in all
	DataBytes     int64         // Options.DataBytes, 0 without
	// CPUPerOp is the CPU time the target's process spent in the window
	// per operation answered: what a busy shared machine changes least of
	// the figures, so a p99 that grows while it stays flat is the
	// machine's, not the service's.
	CPUPerOp time.Duration
}

// windowSample is what the sampler took at the end of a window.
type windowSample struct {
	rss, events, data int64
	cpu               float64 // seconds, in all
}

// window is the index of the window t falls in.
func (r *runner) window(t time.Time) int {
	if r.windows <= 1 {
		return 0
	}
	return min(max(int(t.Sub(r.start)/r.o.Window), 0), r.windows-1)
}

// sampleWindows samples the target at the end of each window.
func (r *runner) sampleWindows(ctx context.Context, start time.Time) {
	end := start.Add(r.o.Duration)
	for n := 1; n <= r.windows; n++ {
		at := start.Add(time.Duration(n) * r.o.Window)
		if at.After(end) {
			at = end
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		var s windowSample
		s.rss, s.events, s.cpu = r.scrapeProcess(ctx)
		if r.o.DataBytes != nil {
			s.data = r.o.DataBytes()
		}
		r.samples = append(r.samples, s)
		r.logf("window %d: %d operations so far, resident %s, %d events, data %s", n, r.done.Load(), fmtBytes(s.rss), s.events, fmtBytes(s.data))
		if r.o.WindowEnded != nil {
			r.o.WindowEnded(n)
		}
	}
}

// scrapeProcess reads the target's resident memory, the events it has
// appended and the CPU time it has used from its /metrics (0 for what it
// does not show).
func (r *runner) scrapeProcess(ctx context.Context) (rss, events int64, cpu float64) {
	rep, err := r.api.do(ctx, http.MethodGet, "/metrics", "", nil, -1)
	if err != nil || rep.status != http.StatusOK {
		return 0, 0, 0
	}
	mem, _ := MetricSum(rep.body, "process_resident_memory_bytes")
	ev, _ := MetricSum(rep.body, "capstone_events_appended_total")
	cpu, _ = MetricSum(rep.body, "process_cpu_seconds_total")
	return int64(mem), int64(ev), cpu
}

// summarizeWindows turns the clients' records, window by window, and the
// samples into Windows.
func (r *runner) summarizeWindows(elapsed time.Duration) []Window {
	out := make([]Window, r.windows)
	for n := range out {
		w := &out[n]
		w.Start, w.End = time.Duration(n)*r.o.Window, min(time.Duration(n+1)*r.o.Window, elapsed)
		var recs []recorder
		for _, c := range r.client {
			recs = append(recs, c.recs[n])
		}
		all := mergeRecorders(recs)
		var every, writes []time.Duration
		for name, rec := range all {
			s := summarize(name, rec, 0)
			w.Total += s.Count
			w.Errors += s.Errors
			every = append(every, rec.lat...)
			if slices.Contains(writeOps, name) {
				writes = append(writes, rec.lat...)
			}
			if name == OpListProjects {
				w.ListP50 = s.P50
			}
		}
		slices.Sort(every)
		slices.Sort(writes)
		w.P50, w.P99, w.WriteP99 = percentile(every, 50), percentile(every, 99), percentile(writes, 99)
		if d := w.End - w.Start; d > 0 {
			w.PerSec = float64(w.Total) / d.Seconds()
		}
		if n < len(r.samples) {
			w.RSS, w.Events, w.DataBytes = r.samples[n].rss, r.samples[n].events, r.samples[n].data
			before := r.startCPU
			if n > 0 {
				before = r.samples[n-1].cpu
			}
			if spent := r.samples[n].cpu - before; w.Total > 0 && r.samples[n].cpu > 0 && spent > 0 {
				w.CPUPerOp = time.Duration(spent / float64(w.Total) * float64(time.Second))
			}
		}
	}
	return out
}

// The soak's verdict, and its thresholds.
const (
	// SoakLatencyGrowth: the last window's p99 is at most this times the first's.
	SoakLatencyGrowth = 1.5
	// SoakMemoryGrowth and SoakMemorySlack: over the second half of the run,
	// resident memory grows by at most this share of what it was half-way,
	// or by SoakMemorySlack, whichever is more. A process whose caches fill
	// early and then stay full passes; one that grows steadily grows as
	// much in the second half as in the first, and fails.
	SoakMemoryGrowth = 0.10
	SoakMemorySlack  = 8 << 20
	// SoakDataGrowth: the data's bytes per event at the end are at most
	// this times what they were after the first window (the data grows no
	// faster than the events it holds; the first window carries the fixed
	// cost of an empty store, so a store that grows with its events only
	// comes out below 1).
	SoakDataGrowth = 1.10
)

// SoakCheck is one criterion of the verdict. Measured is false when the run
// lacked what it needs (e.g. the target's /metrics); such a check does not
// pass.
type SoakCheck struct {
	Name     string
	OK       bool
	Measured bool
	Detail   string
}

// SoakVerdict is Judge's answer: OK when every check passed.
type SoakVerdict struct {
	OK     bool
	Checks []SoakCheck
}

// Judge gives the verdict on a soak's windows (at least two).
func Judge(ws []Window) SoakVerdict {
	v := SoakVerdict{OK: true}
	add := func(c SoakCheck) {
		v.Checks = append(v.Checks, c)
		v.OK = v.OK && c.OK
	}
	if len(ws) < 2 {
		add(SoakCheck{Name: "windows", Detail: fmt.Sprintf("%d window(s): a soak needs at least two to compare", len(ws))})
		return v
	}
	first, mid, last := ws[0], ws[len(ws)/2-1], ws[len(ws)-1]

	lat := SoakCheck{Name: "latency", Measured: first.P99 > 0 && last.P99 > 0}
	if lat.Measured {
		ratio := float64(last.P99) / float64(first.P99)
		lat.OK = ratio <= SoakLatencyGrowth
		lat.Detail = fmt.Sprintf("p99 %s in the last window, %s in the first: %.2fx (at most %.2fx)", fmtDur(last.P99), fmtDur(first.P99), ratio, SoakLatencyGrowth)
	} else {
		lat.Detail = "not measured: a window without answers"
	}
	add(lat)

	mem := SoakCheck{Name: "memory", Measured: mid.RSS > 0 && last.RSS > 0}
	if mem.Measured {
		limit := max(int64(SoakMemoryGrowth*float64(mid.RSS)), SoakMemorySlack)
		grew := last.RSS - mid.RSS
		mem.OK = grew <= limit
		mem.Detail = fmt.Sprintf("resident %s half-way, %s at the end: %+.1f MiB over the second half (at most %.1f MiB)",
			fmtBytes(mid.RSS), fmtBytes(last.RSS), float64(grew)/(1<<20), float64(limit)/(1<<20))
	} else {
		mem.Detail = "not measured: the target's /metrics did not show process_resident_memory_bytes"
	}
	add(mem)

	data := SoakCheck{Name: "data", Measured: first.DataBytes > 0 && first.Events > 0 && last.DataBytes > 0 && last.Events > 0}
	if data.Measured {
		before, after := float64(first.DataBytes)/float64(first.Events), float64(last.DataBytes)/float64(last.Events)
		data.OK = after <= SoakDataGrowth*before
		data.Detail = fmt.Sprintf("%.0f bytes per event at the end (%s for %d events), %.0f after the first window (%s for %d): %.2fx (at most %.2fx)",
			after, fmtBytes(last.DataBytes), last.Events, before, fmtBytes(first.DataBytes), first.Events, after/before, SoakDataGrowth)
	} else {
		data.Detail = "not measured: no data size (a --target needs --data-dir) or no events from the target's /metrics"
	}
	add(data)
	return v
}

// WriteSoak writes the windows and the verdict for people.
func WriteSoak(w io.Writer, ws []Window, v SoakVerdict) error {
	ew := &errWriter{w: w}
	ew.printf("\nsoak: %d windows\n", len(ws))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "window\tops/s\terrors\tp50\tp99\twrite p99\tlist p50\tcpu/op\tresident\tevents\tdata\tbytes/event\t\n")
	for i, x := range ws {
		per := "-"
		if x.Events > 0 && x.DataBytes > 0 {
			per = fmt.Sprintf("%.0f", float64(x.DataBytes)/float64(x.Events))
		}
		fmt.Fprintf(tw, "%d (%s-%s)\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", i+1, x.Start.Round(time.Second), x.End.Round(time.Second),
			fmtRate(x.PerSec), x.Errors, fmtDur(x.P50), fmtDur(x.P99), fmtDur(x.WriteP99), fmtDur(x.ListP50), fmtDur(x.CPUPerOp), fmtBytes(x.RSS),
			x.Events, fmtBytes(x.DataBytes), per)
	}
	tw.Flush()
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		ew.printf("%s %-8s %s\n", mark, c.Name, c.Detail)
	}
	if v.OK {
		ew.printf("verdict: PASS\n")
	} else {
		ew.printf("verdict: FAIL\n")
	}
	return ew.err
}

// fmtBytes prints a size in MiB ("-" for none).
func fmtBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
}
