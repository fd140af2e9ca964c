package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

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
