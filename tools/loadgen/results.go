package loadgen

import (
	"time"
)

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
