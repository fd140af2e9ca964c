package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

func (r *runner) measure(ctx context.Context) Report {
	var pollers sync.WaitGroup
	if r.o.LagEvery > 0 {
		for range lagPollers(r.o.Clients) {
			pollers.Go(func() { r.poll(ctx) })
		}
	}
	storeBefore, haveStore := r.scrapeStore(ctx)
	stopProgress := make(chan struct{})
	var progress sync.WaitGroup
	r.windows = 1
	if r.o.Window > 0 {
		r.windows = int((r.o.Duration + r.o.Window - 1) / r.o.Window)
	}
	for _, c := range r.client {
		c.recs = make([]recorder, r.windows)
		for i := range c.recs {
			c.recs[i] = recorder{}
		}
	}
	start := time.Now()
	r.start = start
	var sampler sync.WaitGroup
	if r.o.Window > 0 {
		_, _, r.startCPU = r.scrapeProcess(ctx)
		sampler.Go(func() { r.sampleWindows(ctx, start) })
	}
	progress.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				n, s := r.done.Load(), time.Since(start).Seconds()
				r.logf("%5.0fs %8d operations %7.0f/s %6d errors", s, n, float64(n)/s, r.failed.Load())
			}
		}
	})
	if r.o.Count > 0 {
		r.logf("measuring: %d clients, %d operations", r.o.Clients, r.o.Count)
	} else {
		r.logf("measuring: %d clients for %s", r.o.Clients, r.o.Duration)
	}

	stopAt := start.Add(r.o.Duration)
	var issued atomic.Int64
	var wg sync.WaitGroup
	var pace <-chan time.Time // with a Rate, clients take turns from one ticker
	if r.o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / r.o.Rate))
		defer t.Stop()
		pace = t.C
	}
	for _, c := range r.client {
		wg.Go(func() {
			for ctx.Err() == nil {
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					case <-time.After(time.Until(stopAt)):
						if r.o.Count == 0 {
							return
						}
					}
				}
				if r.o.Count > 0 {
					if issued.Add(1) > int64(r.o.Count) {
						return
					}
				} else if !time.Now().Before(stopAt) {
					return
				}
				c.run(ctx, r.pick(c.rng))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	progress.Wait()
	sampler.Wait()
	close(r.probes) // no writer is left

	var recs []recorder
	for _, c := range r.client {
		recs = append(recs, c.recs...)
	}
	all := mergeRecorders(recs)
	rep := Report{Target: r.o.Target, RunID: r.runID, Clients: r.o.Clients, Supervisors: len(r.sups), Elapsed: elapsed,
		DecideFallbacks: int(r.fallback.Load())}
	for _, name := range opOrder {
		if r.o.Mix[name] == 0 && all[name] == nil {
			continue
		}
		s := summarize(name, all[name], elapsed)
		rep.Ops = append(rep.Ops, s)
		rep.Total += s.Count
		rep.Errors += s.Errors
	}
	if elapsed > 0 {
		rep.TotalPerSec = float64(rep.Total) / elapsed.Seconds()
	}
	r.logf("measured %d operations in %s (%.0f/s), %d errors", rep.Total, elapsed.Round(time.Millisecond), rep.TotalPerSec, rep.Errors)
	if r.o.Window > 0 {
		rep.Windows = r.summarizeWindows(elapsed)
	}

	drain, drained := r.drain(ctx, start.Add(elapsed))
	pollers.Wait()
	r.lagMu.Lock()
	rep.Lag = lagStats(r.lag, r.lagOut, int(r.skipped.Load()))
	rep.Lag.Failed = r.lagFail
	r.lagMu.Unlock()
	rep.Lag.Drain, rep.Lag.DrainTimedOut, rep.Lag.Polls = drain, !drained, int(r.polls.Load())
	if haveStore {
		if after, ok := r.scrapeStore(ctx); ok {
			rep.Store = storeDelta(storeBefore.counts, after.counts, rep.Total)
			rep.StoreTimes = storeTimes(storeBefore.times, after.times)
		}
	}
	return rep
}

// drain waits until the last write of every client shows in GET (so that
// the projections have caught up before anything else is measured) and
// returns how long that took after end, the end of the measured phase;
// drained is false if some write did not show within drainTimeout.
func (r *runner) drain(ctx context.Context, end time.Time) (time.Duration, bool) {
	var pending []lagProbe
	for _, c := range r.client {
		if c.last.id != "" {
			pending = append(pending, c.last)
		}
	}
	var late atomic.Int64
	_ = parallel(ctx, len(pending), func(ctx context.Context, i int) error {
		p := pending[i]
		timeout := time.Since(p.at) + drainTimeout
		if _, outcome := r.probe(ctx, p, timeout); outcome != probeSeen {
			late.Add(1)
		}
		return nil
	})
	d := time.Since(end)
	if late.Load() > 0 || ctx.Err() != nil {
		r.logf("projections: %d of %d last writes not readable after %s", late.Load(), len(pending), d.Round(time.Millisecond))
		return d, false
	}
	r.logf("projections caught up %s after the measured phase", d.Round(time.Millisecond))
	return d, true
}
