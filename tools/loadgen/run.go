package loadgen

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	lagPollEvery  = 5 * time.Millisecond // at first; then 1/lagPollShare of the lag so far
	lagPollShare  = 10                   // 10% resolution on long lags
	lagTimeout    = time.Minute
	drainTimeout  = time.Minute
	setupWorkers  = 8
	progressEvery = 5 * time.Second
	cleanupWithin = 30 * time.Second
)

// Run sets up the data it needs, runs the measured phase and, with a
// MongoURI, the baseline, and returns the report. If ctx is cancelled during
// the measured phase, or the baseline fails, Run returns what it measured
// together with the error.
func Run(ctx context.Context, opts Options) (Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	r := newRunner(o)
	defer r.cleanup(ctx)
	if err := r.setup(ctx); err != nil {
		return Report{}, fmt.Errorf("loadgen: setup: %w", err)
	}
	rep := r.measure(ctx)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("loadgen: interrupted after %s: %w", rep.Elapsed.Round(time.Millisecond), err)
	}
	if o.MongoURI == "" {
		return rep, nil
	}
	d := o.BaselineDuration
	if d == 0 {
		d = max(rep.Elapsed/3, 5*time.Second)
	}
	b, err := runBaseline(ctx, o, d)
	if err != nil {
		return rep, fmt.Errorf("loadgen: baseline: %w", err)
	}
	rep.Baseline = b
	rep.Ratios = ratios(rep, b)
	return rep, nil
}

// account is a user the run created, signed in.
type account struct {
	id, email, password string
	token               string
}

// proposal is a submitted project waiting for its supervisor's decision.
type proposal struct {
	id  string
	sup int // index in runner.sups
}

type runner struct {
	o      Options
	api    *apiClient
	runID  string
	admin  string // the coordinator's token
	sups   []account
	client []*client

	mu      sync.Mutex
	created []string   // user ids, for cleanup
	queue   []proposal // FIFO of proposals waiting for a decision

	mix      []string // the operations with a weight, in opOrder
	cum      []int    // their cumulative weights
	writes   atomic.Int64
	probes   chan lagProbe
	lagMu    sync.Mutex
	lag      []time.Duration
	lagOut   int // timeouts
	lagFail  int
	skipped  atomic.Int64
	polls    atomic.Int64 // GETs of lag probes and the drain
	fallback atomic.Int64
	done     atomic.Int64 // operations answered, for progress lines
	failed   atomic.Int64 // errors among them

	start    time.Time      // of the measured phase
	windows  int            // how many (1 without Options.Window)
	samples  []windowSample // taken at the end of each window
	startCPU float64        // the target's CPU seconds as the phase began
}

func newRunner(o Options) *runner {
	hc := o.HTTPClient
	if hc == nil {
		hc = newHTTPClient(o.Clients, o.RequestTimeout)
	}
	r := &runner{o: o, api: &apiClient{base: o.Target, hc: hc}, runID: strings.ToLower(crand.Text()[:8]),
		probes: make(chan lagProbe)}
	sum := 0
	for _, name := range opOrder {
		if w := o.Mix[name]; w > 0 {
			sum += w
			r.mix = append(r.mix, name)
			r.cum = append(r.cum, sum)
		}
	}
	return r
}

// pick chooses an operation by the mix's weights.
func (r *runner) pick(rng *rand.Rand) string {
	n := rng.IntN(r.cum[len(r.cum)-1])
	i, _ := slices.BinarySearch(r.cum, n+1)
	return r.mix[i]
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "bench: "+format+"\n", args...)
}

func (r *runner) push(p proposal) {
	r.mu.Lock()
	r.queue = append(r.queue, p)
	r.mu.Unlock()
}

func (r *runner) pop() (proposal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return proposal{}, false
	}
	p := r.queue[0]
	r.queue = r.queue[1:]
	return p, true
}
