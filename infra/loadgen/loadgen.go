// Package loadgen drives a running Capstone service over HTTP with a
// realistic mix of requests from concurrent clients and reports throughput,
// latency percentiles per operation, errors by status and the projection lag;
// optionally it measures the same store with the raw MongoDB driver, so that
// each report puts the service next to the database work it cannot avoid.
//
// # What a run does
//
// Setup (not measured): sign in as the coordinator given in [Options]; create,
// with e-mails unique to the run, [Options.Supervisors] supervisors with a
// capacity and one student per client, each with a random password; sign
// each in; give each student one draft project of its own and one proposal
// submitted to a supervisor (so decisions have something to decide from the
// start).
//
// Measured phase: each client is one student and loops, picking an operation
// by the weights of [Options.Mix] (see [DefaultMix]): list supervisors, GET its
// own project, list projects, PATCH its own project (with If-Match), create a
// project submitted to a random supervisor, have a supervisor decide the
// oldest waiting proposal (reject mostly, accept with [Options.AcceptRate]; a
// 409 capacity-reached or student-already-placed is an expected outcome, not
// an error, as is a proposal's 409 too-many-open-projects against a service
// whose limit the run reaches), or sign in again. It stops after
// [Options.Duration], or after [Options.Count] operations in all.
//
// Projection lag: one write in [Options.LagEvery] is handed to a poller (there
// are max(2, Clients/8); if none is idle, the sample is skipped and counted),
// which GETs the resource without min_version until the answer's "version"
// reaches the write's, and records the time from the write's response to
// that GET's response. It polls every 5 ms, or every 10% of the lag so far
// once that is longer, so that a backlog of seconds is measured to about 10%
// without the pollers adding a client's worth of GETs each; the resolution
// is one GET plus that interval. A write not seen within a minute is a
// timeout. The pollers' GETs are counted apart (LagStats.Polls), not as
// operations. After the measured phase, the run waits until every client's
// last write shows (LagStats.Drain): the backlog the phase left.
//
// Baseline (with [Options.MongoURI]): as many goroutines as clients run
// InsertOne of a ~300-byte document, then FindOne by _id on a prefilled
// scratch collection "bench_raw" in the service's database, each for
// [Options.BaselineDuration]; the collection is dropped afterwards.
//
// Then, as many goroutines GET /healthz (no database, no authentication)
// for as long: the HTTP floor under every request. "get-project/http+findOne"
// compares a GET with that floor plus findOne (their mean latencies added,
// since client, server and store share the cores): the service's own cost.
//
// Ratios compare the service with the raw driver at the same concurrency, as
// throughputs by Little's law (clients / mean latency): "get-project/findOne"
// is (clients / mean GET-project latency) / (clients / mean findOne latency),
// and "write-commands/insertOne" does the same for PATCH, create+submit and
// decisions together (each one also has its own ratio). 1.0 means as fast as
// the database alone; the service's figures are measured under the whole mix.
//
// Cleanup: the users a run created are deleted at the end (best effort, also
// after a failure), unless [Options.KeepUsers]; their projects remain in the
// history, as everything does.
package loadgen

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The operations of the mix, as named in reports and in [Mix].
const (
	OpListSupervisors = "list-supervisors" // GET /v1/supervisors
	OpGetProject      = "get-project"      // GET /v1/projects/{own}
	OpListProjects    = "list-projects"    // GET /v1/projects?limit=20
	OpEditProject     = "edit-project"     // PATCH /v1/projects/{own} with If-Match
	OpCreateSubmit    = "create-submit"    // POST /v1/projects with supervisor_id
	OpDecide          = "decide"           // POST /v1/projects/{id}/decision as the supervisor
	OpSignIn          = "sign-in"          // POST /v1/auth/sign-in
)

// opOrder is the order of operations in the mix and in reports.
var opOrder = []string{OpListSupervisors, OpGetProject, OpListProjects, OpEditProject, OpCreateSubmit, OpDecide, OpSignIn}

// writeOps are the operations that run a command; together they are
// "write-commands" in the ratios.
var writeOps = []string{OpEditProject, OpCreateSubmit, OpDecide}

// Mix gives each operation a relative weight; an operation left out (or 0)
// is not run.
type Mix map[string]int

// DefaultMix is the mix used when [Options.Mix] is nil.
func DefaultMix() Mix {
	return Mix{OpListSupervisors: 25, OpGetProject: 25, OpListProjects: 10, OpEditProject: 15,
		OpCreateSubmit: 10, OpDecide: 10, OpSignIn: 5}
}

// Options configures a run. Only Target, Email and Password are required.
type Options struct {
	Target          string        // base URL of the service, e.g. http://127.0.0.1:8080
	Email, Password string        // a coordinator's sign-in
	Clients         int           // concurrent clients, one student each (default 16)
	Duration        time.Duration // length of the measured phase (default 30s); or
	Count           int           // total operations (if > 0, instead of Duration)
	Rate            float64       // operations per second across all clients (0: as fast as they go)
	MongoURI        string        // for the raw baseline; empty = no baseline
	Database        string        // the service's database (default "capstone"); the baseline uses its collection "bench_raw"
	Seed            uint64        // seeds the clients' choices (not the run id, which is random)
	Log             io.Writer     // progress lines; nil = none

	Mix         Mix     // operation weights; nil = DefaultMix()
	Supervisors int     // supervisors to create (default max(2, (Clients+4)/5))
	Capacity    int     // each supervisor's capacity (default ceil(Clients/Supervisors))
	AcceptRate  float64 // share of decisions that accept (default 0.1)
	LagEvery    int     // sample one write in LagEvery for the projection lag (default 5; < 0: none)

	// Window, when > 0, also splits the measured phase into windows of this
	// length (Report.Windows): each with its own figures and, at its end,
	// the target's resident memory and events appended (from its /metrics)
	// and DataBytes. What a soak judges (Judge).
	Window time.Duration
	// DataBytes, if set, is the size of the target's data, sampled at the
	// end of each window.
	DataBytes func() int64
	// WindowEnded, if set, is called at the end of window n (1, 2, ...),
	// before the next starts: e.g. to write a profile of each.
	WindowEnded func(n int)

	RequestTimeout   time.Duration // per HTTP request (default 30s)
	HTTPClient       *http.Client  // nil: one with a connection pool sized for Clients
	BaselineDuration time.Duration // each baseline operation's duration (default max(elapsed/3, 5s))
	BaselineDocs     int           // documents prefilled for findOne (default 10,000)
	KeepUsers        bool          // do not delete the users the run created
}

// OpStats are one operation's figures. Count is every request that got an
// answer or failed in transport; latencies are over every answer, errors
// included. Errors are the answers that were neither a success nor an
// expected refusal, by HTTP status (0: no answer).
type OpStats struct {
	Name           string
	Count, Errors  int
	ErrorsByStatus map[int]int
	Expected       map[string]int // expected refusals by problem code (e.g. decide: capacity-reached); not errors
	PerSec         float64
	P50, P95, P99  time.Duration
	Max, Mean      time.Duration
}

// LagStats are the projection-lag samples: time from a write's response
// until a GET answered with that version.
type LagStats struct {
	Samples       int
	P50, P95, P99 time.Duration
	Max           time.Duration
	Timeouts      int // never seen within a minute (not in the percentiles)
	Failed        int // abandoned because a GET failed (not 200 or 404)
	Skipped       int // sampled writes dropped because every poller was busy
	// Drain is how long after the measured phase the last write of every
	// client took to show in GET: the projections' backlog at the end (the
	// baseline starts only after it). DrainTimedOut: not within a minute.
	Drain         time.Duration
	DrainTimedOut bool
	Polls         int // GETs the probes and the drain sent (not counted as operations)
}

// Baseline is the raw driver on the same store at the same concurrency.
type Baseline struct {
	Clients    int
	Duration   time.Duration // of each operation
	Collection string
	Prefilled  int // documents in the collection for findOne
	DocBytes   int // BSON size of one document
	InsertOne  OpStats
	FindOne    OpStats
	// HTTPFloor is GET /healthz from as many clients: what HTTP alone costs
	// on this machine (client and server, no database), the floor under
	// every request. Zero if not measured.
	HTTPFloor OpStats
	// Warning says why the figures may not be a fair baseline, e.g. a
	// findOne by _id much slower than an insert, as on the embedded store
	// without its _id index fix (which the service applies to its bench_raw).
	Warning string
}

// Report is the outcome of a run.
type Report struct {
	Target          string
	RunID           string
	Clients         int
	Supervisors     int
	Elapsed         time.Duration // of the measured phase
	Ops             []OpStats
	Total, Errors   int
	TotalPerSec     float64
	Lag             LagStats
	DecideFallbacks int // decisions with no proposal waiting, run as create-submit instead
	Baseline        *Baseline
	Ratios          map[string]float64 // service / raw, e.g. "get-project/findOne", "write-commands/insertOne"
	// Store is the database commands the service sent for the measured
	// phase, if its /metrics has them; the lag pollers' GETs are included.
	Store []StoreCount
	// StoreTimes are the mean round trips of those commands, by name.
	StoreTimes []StoreTime
	// Windows are the measured phase's windows, with Options.Window.
	Windows []Window
}

// Op returns the figures of the named operation (zero if it did not run).
func (r Report) Op(name string) OpStats {
	for _, o := range r.Ops {
		if o.Name == name {
			return o
		}
	}
	return OpStats{Name: name}
}

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

func (o Options) withDefaults() (Options, error) {
	u, err := url.Parse(o.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("loadgen: target %q is not an http(s) URL", o.Target)
	}
	o.Target = strings.TrimRight(o.Target, "/")
	if o.Email == "" || o.Password == "" {
		return o, errors.New("loadgen: a coordinator's e-mail and password are required")
	}
	switch {
	case o.Clients < 0, o.Count < 0, o.Duration < 0, o.Supervisors < 0, o.Capacity < 0, o.BaselineDocs < 0,
		o.AcceptRate < 0, o.AcceptRate > 1, o.RequestTimeout < 0, o.BaselineDuration < 0, o.Window < 0:
		return o, errors.New("loadgen: negative clients, count, durations, sizes, or an accept rate outside [0, 1]")
	case o.Window > 0 && (o.Count > 0 || o.Duration == 0):
		return o, errors.New("loadgen: windows need a duration, not a count")
	}
	if o.Clients == 0 {
		o.Clients = 16
	}
	if o.Count == 0 && o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Database == "" {
		o.Database = "capstone"
	}
	if o.Supervisors == 0 {
		o.Supervisors = max(2, (o.Clients+4)/5)
	}
	if o.Capacity == 0 {
		o.Capacity = (o.Clients + o.Supervisors - 1) / o.Supervisors
	}
	if o.AcceptRate == 0 {
		o.AcceptRate = 0.1
	}
	if o.LagEvery == 0 {
		o.LagEvery = 5
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.BaselineDocs == 0 {
		o.BaselineDocs = 10_000
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Mix == nil {
		o.Mix = DefaultMix()
	}
	total := 0
	for name, w := range o.Mix {
		if !slices.Contains(opOrder, name) {
			return o, fmt.Errorf("loadgen: unknown operation %q in the mix (known: %s)", name, strings.Join(opOrder, ", "))
		}
		if w < 0 {
			return o, fmt.Errorf("loadgen: negative weight for %s", name)
		}
		total += w
	}
	if total == 0 {
		return o, errors.New("loadgen: the mix has no operation with a weight")
	}
	return o, nil
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

// lagProbe is a sampled write: the resource, the version it produced and
// when its response arrived.
type lagProbe struct {
	token, id string
	version   int64
	at        time.Time
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

// ---- setup ----

type signInAnswer struct {
	Token string `json:"token"`
	User  struct {
		ID    string   `json:"id"`
		Roles []string `json:"roles"`
	} `json:"user"`
}

func (r *runner) signIn(ctx context.Context, email, password string) (signInAnswer, error) {
	var a signInAnswer
	err := r.api.call(ctx, http.MethodPost, "/v1/auth/sign-in", "", map[string]string{"email": email, "password": password}, http.StatusOK, &a)
	if err == nil && a.Token == "" {
		err = errors.New("sign-in answered no token")
	}
	return a, err
}

// createUser creates a user with a random password and signs them in.
func (r *runner) createUser(ctx context.Context, email, name, role string) (account, error) {
	a := account{email: email, password: crand.Text()}
	var w written
	body := map[string]any{"email": email, "name": name, "roles": []string{role}, "password": a.password}
	if err := r.api.call(ctx, http.MethodPost, "/v1/users", r.admin, body, http.StatusCreated, &w); err != nil {
		return a, err
	}
	a.id = w.ID
	r.mu.Lock()
	r.created = append(r.created, w.ID)
	r.mu.Unlock()
	s, err := r.signIn(ctx, email, a.password)
	a.token = s.Token
	return a, err
}

func (r *runner) setup(ctx context.Context) error {
	start := time.Now()
	admin, err := r.signIn(ctx, r.o.Email, r.o.Password)
	if err != nil {
		return fmt.Errorf("sign in as the coordinator %s: %w", r.o.Email, err)
	}
	if !slices.Contains(admin.User.Roles, "coordinator") {
		return fmt.Errorf("%s is not a coordinator (roles %v)", r.o.Email, admin.User.Roles)
	}
	r.admin = admin.Token
	r.logf("run %s: creating %d supervisors (capacity %d) and %d students on %s", r.runID, r.o.Supervisors, r.o.Capacity, r.o.Clients, r.o.Target)

	r.sups = make([]account, r.o.Supervisors)
	err = parallel(ctx, len(r.sups), func(ctx context.Context, i int) error {
		a, err := r.createUser(ctx, fmt.Sprintf("bench-%s-sup%d@bench.example", r.runID, i), fmt.Sprintf("Bench Supervisor %d", i), "supervisor")
		if err != nil {
			return err
		}
		profile := map[string]any{"areas": []string{"Benchmarking"}, "info": "created by capstone bench, run " + r.runID,
			"project_ideas": []any{}, "capacity": r.o.Capacity}
		if err := r.api.call(ctx, http.MethodPut, "/v1/supervisors/"+a.id+"/profile", r.admin, profile, http.StatusOK, nil); err != nil {
			return err
		}
		r.sups[i] = a
		return nil
	})
	if err != nil {
		return err
	}

	r.client = make([]*client, r.o.Clients)
	err = parallel(ctx, r.o.Clients, func(ctx context.Context, i int) error {
		a, err := r.createUser(ctx, fmt.Sprintf("bench-%s-stu%d@bench.example", r.runID, i), fmt.Sprintf("Bench Student %d", i), "student")
		if err != nil {
			return err
		}
		c := &client{r: r, idx: i, acct: a, rng: rand.New(rand.NewPCG(r.o.Seed, uint64(i)+1))}
		var own written
		if err := r.api.call(ctx, http.MethodPost, "/v1/projects", a.token, c.projectBody(-1), http.StatusCreated, &own); err != nil {
			return err
		}
		c.project, c.version = own.ID, own.Version
		sup := i % len(r.sups)
		var p written
		if err := r.api.call(ctx, http.MethodPost, "/v1/projects", a.token, c.projectBody(sup), http.StatusCreated, &p); err != nil {
			return err
		}
		r.push(proposal{id: p.ID, sup: sup})
		r.client[i] = c
		// So that the first reads of the own project do not find it missing.
		return r.waitVisible(ctx, a.token, own.ID, own.Version)
	})
	if err != nil {
		return err
	}
	r.logf("setup done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitVisible waits until GET shows the project at version or later.
func (r *runner) waitVisible(ctx context.Context, token, id string, version int64) error {
	path := fmt.Sprintf("/v1/projects/%s?min_version=%d", id, version)
	deadline := time.Now().Add(lagTimeout)
	for {
		var w written
		err := r.api.call(ctx, http.MethodGet, path, token, nil, http.StatusOK, &w)
		if err == nil && w.Version >= version {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("project %s not readable at version %d: %v", id, version, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parallel runs f(ctx, 0..n-1) on setupWorkers goroutines and returns the
// first error (which cancels the rest).
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(n, setupWorkers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// cleanup deletes the users the run created, best effort.
func (r *runner) cleanup(ctx context.Context) {
	if r.o.KeepUsers || r.admin == "" {
		return
	}
	r.mu.Lock()
	ids := slices.Clone(r.created)
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWithin)
	defer cancel()
	var failed atomic.Int64
	_ = parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		if err := r.api.call(ctx, http.MethodDelete, "/v1/users/"+ids[i], r.admin, nil, http.StatusNoContent, nil); err != nil {
			if failed.Add(1) == 1 {
				r.logf("cleanup: %v", err)
			}
		}
		return nil
	})
	r.logf("cleanup: deleted %d of the %d users of run %s", len(ids)-int(failed.Load()), len(ids), r.runID)
}

// ---- the decision queue ----

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

// ---- the measured phase ----

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

// lagPollers is how many lag probes may run at once: a poller polling
// back to back costs about what a client does, so they are kept to an
// eighth of the clients (at least 2).
func lagPollers(clients int) int { return max(2, clients/8) }

// wrote notes a successful write: the client's last, and perhaps a lag sample.
func (c *client) wrote(token, id string, version int64, at time.Time) {
	if id != "" && version > 0 {
		c.last = lagProbe{token: token, id: id, version: version, at: at}
	}
	c.r.wrote(token, id, version, at)
}

// wrote samples a write for the projection lag.
func (r *runner) wrote(token, id string, version int64, at time.Time) {
	if r.o.LagEvery <= 0 || id == "" || r.writes.Add(1)%int64(r.o.LagEvery) != 0 {
		return
	}
	select {
	case r.probes <- lagProbe{token: token, id: id, version: version, at: at}:
	default:
		r.skipped.Add(1)
	}
}

// poll resolves lag probes until the channel is closed.
func (r *runner) poll(ctx context.Context) {
	for p := range r.probes {
		lag, outcome := r.probe(ctx, p, lagTimeout)
		r.lagMu.Lock()
		switch outcome {
		case probeSeen:
			r.lag = append(r.lag, lag)
		case probeTimeout:
			r.lagOut++
		case probeFailed:
			r.lagFail++
		}
		r.lagMu.Unlock()
	}
}

const (
	probeSeen = iota
	probeTimeout
	probeFailed
	probeCancelled
)

// probe polls until GET shows p's version and returns the time since p.at.
func (r *runner) probe(ctx context.Context, p lagProbe, timeout time.Duration) (time.Duration, int) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		rp, err := r.api.do(ctx, http.MethodGet, "/v1/projects/"+p.id, p.token, nil, -1)
		r.polls.Add(1)
		switch {
		case ctx.Err() != nil:
			return 0, probeCancelled
		case err != nil:
			return 0, probeFailed
		case rp.status == http.StatusOK:
			var w written
			if json.Unmarshal(rp.body, &w) != nil {
				return 0, probeFailed
			}
			if w.Version >= p.version {
				return time.Since(p.at), probeSeen
			}
		case rp.status != http.StatusNotFound: // 404: a creation not projected yet
			return 0, probeFailed
		}
		if time.Since(p.at) > timeout {
			return 0, probeTimeout
		}
		t.Reset(max(lagPollEvery, time.Since(p.at)/lagPollShare))
		select {
		case <-ctx.Done():
			return 0, probeCancelled
		case <-t.C:
		}
	}
}

// ---- a client ----

// client is one student looping over the mix.
type client struct {
	r       *runner
	idx     int
	acct    account
	rng     *rand.Rand
	recs    []recorder // one per window of the measured phase
	project string     // its own draft
	version int64      // of project, as last written
	edits   int
	last    lagProbe // its last successful write, for the drain
}

var (
	filler     = strings.Repeat("A study of how an event-sourced service behaves under load. ", 4)
	shortBlurb = "Measure, compare, explain."
)

// projectBody is a project's fields; with sup >= 0, submitted to that supervisor.
func (c *client) projectBody(sup int) map[string]string {
	b := map[string]string{"title": fmt.Sprintf("Bench project %d", c.idx), "description": filler,
		"aim": shortBlurb, "rationale": shortBlurb}
	if sup >= 0 {
		b["title"] = fmt.Sprintf("Bench proposal %d-%d", c.idx, c.rng.IntN(1_000_000))
		b["supervisor_id"] = c.r.sups[sup].id
	}
	return b
}

// record files one answer under op and reports whether it was a success
// (status ok). A 409 with one of the expected codes is an expected refusal;
// anything else is an error. A request cut short by ctx is not recorded.
func (c *client) record(ctx context.Context, op string, rp reply, err error, ok int, expected ...string) bool {
	rec := c.recs[c.r.window(time.Now())].op(op)
	switch {
	case err != nil && ctx.Err() != nil:
		return false
	case err != nil:
		if rp.status != 0 { // the body could not be read
			rec.add(rp.lat)
		}
		rec.fail(rp.status)
		c.r.failed.Add(1)
	case rp.status == ok:
		rec.add(rp.lat)
		c.r.done.Add(1)
		return true
	case rp.status == http.StatusConflict && slices.Contains(expected, rp.code):
		rec.add(rp.lat)
		rec.expect(rp.code)
	default:
		rec.add(rp.lat)
		rec.fail(rp.status)
		c.r.failed.Add(1)
	}
	c.r.done.Add(1)
	return false
}

func (c *client) run(ctx context.Context, op string) {
	api, tok := c.r.api, c.acct.token
	switch op {
	case OpListSupervisors:
		rp, err := api.do(ctx, http.MethodGet, "/v1/supervisors", tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpGetProject:
		rp, err := api.do(ctx, http.MethodGet, "/v1/projects/"+c.project, tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpListProjects:
		rp, err := api.do(ctx, http.MethodGet, "/v1/projects?limit=20", tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpEditProject:
		c.edit(ctx)
	case OpCreateSubmit:
		c.createSubmit(ctx)
	case OpDecide:
		c.decide(ctx)
	case OpSignIn:
		body := map[string]string{"email": c.acct.email, "password": c.acct.password}
		rp, err := api.do(ctx, http.MethodPost, "/v1/auth/sign-in", "", body, -1)
		if c.record(ctx, op, rp, err, http.StatusOK) {
			var a signInAnswer
			if json.Unmarshal(rp.body, &a) == nil && a.Token != "" {
				c.acct.token = a.Token
			}
		}
	}
}

func (c *client) edit(ctx context.Context) {
	c.edits++
	body := map[string]string{"title": fmt.Sprintf("Bench project %d, revision %d", c.idx, c.edits)}
	rp, err := c.r.api.do(ctx, http.MethodPatch, "/v1/projects/"+c.project, c.acct.token, body, c.version)
	at := time.Now()
	if c.record(ctx, OpEditProject, rp, err, http.StatusOK) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil && w.Version > 0 {
			c.version = w.Version
			c.wrote(c.acct.token, c.project, w.Version, at)
			return
		}
	}
	if ctx.Err() == nil && (err != nil || rp.status == http.StatusOK || rp.status == http.StatusPreconditionFailed) {
		c.refresh(ctx) // the version is unknown now: read it (not measured)
	}
}

// refresh reads the own project's version after a write whose outcome is
// unknown; if the read model lags, the next PATCH may get a 412 and refresh
// again.
func (c *client) refresh(ctx context.Context) {
	rp, err := c.r.api.do(ctx, http.MethodGet, "/v1/projects/"+c.project, c.acct.token, nil, -1)
	var w written
	if err == nil && rp.status == http.StatusOK && json.Unmarshal(rp.body, &w) == nil && w.Version > c.version {
		c.version = w.Version
	}
}

func (c *client) createSubmit(ctx context.Context) {
	sup := c.rng.IntN(len(c.r.sups))
	rp, err := c.r.api.do(ctx, http.MethodPost, "/v1/projects", c.acct.token, c.projectBody(sup), -1)
	at := time.Now()
	if c.record(ctx, OpCreateSubmit, rp, err, http.StatusCreated, codeTooManyOpenProjects) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil && w.ID != "" {
			c.r.push(proposal{id: w.ID, sup: sup})
			c.wrote(c.acct.token, w.ID, w.Version, at)
		}
	}
}

// Expected refusals of a decision to accept, and of a proposal by a
// student who has as many open projects as the service allows.
const (
	codeCapacityReached     = "capacity-reached"
	codeAlreadyPlaced       = "student-already-placed"
	codeTooManyOpenProjects = "too-many-open-projects"
)

func (c *client) decide(ctx context.Context) {
	p, ok := c.r.pop()
	if !ok {
		c.r.fallback.Add(1)
		c.createSubmit(ctx)
		return
	}
	decision := "reject"
	if c.rng.Float64() < c.r.o.AcceptRate {
		decision = "accept"
	}
	sup := c.r.sups[p.sup]
	body := map[string]string{"decision": decision, "comment": "Decided by capstone bench."}
	rp, err := c.r.api.do(ctx, http.MethodPost, "/v1/projects/"+p.id+"/decision", sup.token, body, -1)
	at := time.Now()
	if c.record(ctx, OpDecide, rp, err, http.StatusOK, codeCapacityReached, codeAlreadyPlaced) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil {
			c.wrote(sup.token, p.id, w.Version, at)
		}
	}
}

// ratioKeys are the ratios a report with a baseline has, in table order.
func ratioKeys() []string {
	keys := []string{OpGetProject + "/" + RawFindOne, OpGetProject + "/" + RawHTTPFindOne, "write-commands/" + RawInsertOne}
	for _, name := range writeOps {
		keys = append(keys, name+"/"+RawInsertOne)
	}
	return keys
}

// ratioMeans returns the mean latencies of the service's side and the raw
// side of a ratio key; ok is false without a baseline or samples.
func (r Report) ratioMeans(key string) (svc, raw time.Duration, ok bool) {
	if r.Baseline == nil {
		return 0, 0, false
	}
	name, rawName, _ := strings.Cut(key, "/")
	switch rawName {
	case RawFindOne:
		raw = r.Baseline.FindOne.Mean
	case RawInsertOne:
		raw = r.Baseline.InsertOne.Mean
	case RawHTTPFindOne:
		// HTTP and the store share the cores: their costs add up.
		if r.Baseline.HTTPFloor.Mean > 0 {
			raw = r.Baseline.HTTPFloor.Mean + r.Baseline.FindOne.Mean
		}
	}
	if name == "write-commands" {
		var sum float64
		var n int
		for _, w := range writeOps {
			s := r.Op(w)
			answered := s.Count - s.ErrorsByStatus[0] // the mean is over answers
			sum += float64(s.Mean) * float64(answered)
			n += answered
		}
		if n > 0 {
			svc = time.Duration(sum / float64(n))
		}
	} else {
		svc = r.Op(name).Mean
	}
	return svc, raw, svc > 0 && raw > 0
}

// ratios computes service / raw for the operations the baseline matches, as
// throughputs at equal concurrency by Little's law (clients / mean latency),
// which is the inverse ratio of the mean latencies.
func ratios(rep Report, b *Baseline) map[string]float64 {
	rep.Baseline = b
	out := map[string]float64{}
	for _, key := range ratioKeys() {
		if svc, raw, ok := rep.ratioMeans(key); ok {
			out[key] = float64(raw) / float64(svc)
		}
	}
	return out
}

// ParseMix reads a mix written as "op=weight,op=weight" (e.g.
// "get-project=1" to measure reads alone, or "edit-project=3,get-project=1");
// "default" or "" is [DefaultMix]. Names and weights are checked as in [Run].
func ParseMix(s string) (Mix, error) {
	if s == "" || s == "default" {
		return DefaultMix(), nil
	}
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			w = "1"
		}
		if !slices.Contains(opOrder, name) {
			return nil, fmt.Errorf("unknown operation %q in the mix (known: %s)", name, strings.Join(opOrder, ", "))
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("weight %q of %s is not a whole number >= 0", w, name)
		}
		m[name] += n
	}
	return m, nil
}
