// Package metrics exposes the service's Prometheus metrics: HTTP traffic by
// route, command outcomes and latency, how far behind each projection runs,
// events appended, the relay's backlog, what the catch-up applied, and the
// database commands sent.
//
// Everything lives on a registry of its own rather than the global one, so
// tests (and several servers in one test binary) never collide, and /metrics
// shows exactly what this package registered plus the Go runtime and process
// collectors.
//
// Label values always come from small, closed sets (route templates, stream
// types, outcome codes, projection names), never from ids or raw paths, so
// the number of series stays bounded however many users and projects exist.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/capstone-pms/capstone/events"
)

// Unmatched is the route label of a request no route matched (404, 405), so
// that scanners probing random paths add one series, not one per path.
const Unmatched = "unmatched"

// Metrics holds the service's collectors. Its methods are safe for
// concurrent use; they fit the Observe hooks of commands.Executor and
// bus.Consumer directly.
type Metrics struct {
	// Registry is where every collector is registered; register further
	// component-specific collectors here to have them served by Handler.
	Registry *prometheus.Registry

	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	commands         *prometheus.CounterVec
	commandDuration  *prometheus.HistogramVec
	projectionCommit *prometheus.CounterVec
	projectionLag    *prometheus.HistogramVec
	projectionPos    *prometheus.GaugeVec
	eventsAppended   *prometheus.CounterVec
	relayBacklog     prometheus.Gauge
	caughtUp         *prometheus.CounterVec
	connsRefused     *prometheus.CounterVec
	store            storeMetrics

	now func() time.Time

	mu sync.Mutex
	// positions is the latest RecordedAt applied per projection: deliveries
	// are unordered, so the gauge keeps the maximum rather than the last.
	positions map[string]time.Time
}

// latencyBuckets suit requests and commands: a few ms on the fast path, up
// to the seconds a contended or degraded store can take.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// lagBuckets reach an hour: a projector catching up after an outage or a
// rebuild replays old commits, and that should show as lag, not overflow.
var lagBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// New returns Metrics on a fresh registry that also holds the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_http_requests_total",
			Help: "HTTP requests served, by method, route template and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "capstone_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route template and status code.",
			Buckets: latencyBuckets,
		}, []string{"method", "route", "code"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_commands_total",
			Help: "Commands executed, by aggregate stream type and outcome (ok, an error code, or error).",
		}, []string{"stream_type", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "capstone_command_duration_seconds",
			Help:    "Time to execute a command (load, decide, append, publish), by stream type and outcome.",
			Buckets: latencyBuckets,
		}, []string{"stream_type", "outcome"}),
		projectionCommit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_projection_commits_total",
			Help: "Commits handled by a projection, by outcome (ok or error).",
		}, []string{"projection", "outcome"}),
		projectionLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "capstone_projection_lag_seconds",
			Help:    "Time from a commit being recorded to a projection having applied it.",
			Buckets: lagBuckets,
		}, []string{"projection"}),
		projectionPos: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "capstone_projection_position_timestamp_seconds",
			Help: "Unix time at which the latest commit a projection has applied was recorded; time() minus this is how stale its read model may be.",
		}, []string{"projection"}),
		eventsAppended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_events_appended_total",
			Help: "Events appended to the event store, by stream type.",
		}, []string{"stream_type"}),
		relayBacklog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "capstone_relay_backlog",
			Help: "Stored commits the relay has not yet published.",
		}),
		caughtUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_catchup_commits_total",
			Help: "Commits the catch-up from the commit log applied to a projection: what the bus lost or did not deliver in time, and after a restart what the dead process left.",
		}, []string{"projection"}),
		connsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_http_connections_refused_total",
			Help: "HTTP connections answered 503 at once because too many were open, in all (total) or from one client (per-client).",
		}, []string{"reason"}),
		now:       time.Now,
		positions: map[string]time.Time{},
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.commands, m.commandDuration,
		m.projectionCommit, m.projectionLag, m.projectionPos, m.eventsAppended, m.relayBacklog, m.caughtUp, m.connsRefused,
	)
	m.store = newStoreMetrics(reg)
	return m
}

// ConnectionRefused counts a connection refused for reason ("total" or
// "per-client"); it fits netlimit.Limits.OnRefuse.
func (m *Metrics) ConnectionRefused(reason string) { m.connsRefused.WithLabelValues(reason).Inc() }

// Handler serves the registry in the Prometheus exposition format, for
// /metrics. A collector that fails does not blank the scrape: the rest is
// still served, and the failure is counted in
// promhttp_metric_handler_errors_total.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:      m.Registry,
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// HTTP is a gorilla/mux middleware that counts requests and times them,
// labelled by method, route template (such as "/v1/projects/{id}", so every
// project shares one series) and status code.
//
// It must be installed with router.Use (or through Instrument): mux puts the
// matched route in the request's context only inside the router, so wrapped
// around the router from outside it would see no route and label every
// request "unmatched". Note that router.Use middleware only runs for matched
// routes; Instrument also wraps the router's NotFoundHandler and
// MethodNotAllowedHandler so that 404s and 405s are counted as "unmatched".
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		completed := false
		defer func() {
			code := sw.status
			switch {
			case !completed:
				// The handler panicked: whatever recovers it answers 500 (or
				// drops the connection); the panic goes on unchanged.
				code = http.StatusInternalServerError
			case code == 0:
				code = http.StatusOK
			}
			labels := prometheus.Labels{"method": method(r.Method), "route": routeOf(r), "code": strconv.Itoa(code)}
			m.httpRequests.With(labels).Inc()
			m.httpDuration.With(labels).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
		completed = true
	})
}

// Instrument installs HTTP on router (router.Use) and wraps its
// NotFoundHandler and MethodNotAllowedHandler (mux's defaults when unset), so
// every request that reaches the router is counted once. Call it after those
// handlers are set, and do not also wrap the router with HTTP.
func (m *Metrics) Instrument(router *mux.Router) {
	router.Use(m.HTTP)
	notFound := router.NotFoundHandler
	if notFound == nil {
		notFound = http.NotFoundHandler()
	}
	router.NotFoundHandler = m.HTTP(notFound)
	notAllowed := router.MethodNotAllowedHandler
	if notAllowed == nil {
		notAllowed = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusMethodNotAllowed)
		})
	}
	router.MethodNotAllowedHandler = m.HTTP(notAllowed)
}

// routeOf names the matched route by its path template, falling back to the
// route's name, and Unmatched when no route matched.
func routeOf(r *http.Request) string {
	route := mux.CurrentRoute(r)
	if route == nil {
		return Unmatched
	}
	if tpl, err := route.GetPathTemplate(); err == nil && tpl != "" {
		return tpl
	}
	if name := route.GetName(); name != "" {
		return name
	}
	return "other"
}

// method keeps the label to the standard methods: a client can send any
// token as a method, and each would otherwise be a new series.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// statusWriter remembers the status code a handler sends.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	// 1xx responses are interim (except 101, which ends the exchange).
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through to the underlying writer, for streaming handlers that
// type-assert http.Flusher.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ObserveCommand records one executed command; it has the signature of
// commands.Executor.Observe. outcome is "ok", the command error's code, or
// "error".
func (m *Metrics) ObserveCommand(streamType, outcome string, d time.Duration) {
	m.commands.WithLabelValues(streamType, outcome).Inc()
	m.commandDuration.WithLabelValues(streamType, outcome).Observe(d.Seconds())
}

// ObserveProjection records one commit handled by a projection; it has the
// signature of bus.Consumer.Observe. A commit applied successfully also
// gives the projection's lag (now minus the commit's RecordedAt) and moves
// its position forward; a failed one (which may not even have been decoded)
// only counts as an error.
func (m *Metrics) ObserveProjection(projection string, c events.Commit, err error) {
	if err != nil {
		m.projectionCommit.WithLabelValues(projection, "error").Inc()
		return
	}
	m.projectionCommit.WithLabelValues(projection, "ok").Inc()
	if c.RecordedAt.IsZero() {
		return
	}
	// Clock skew between the writer and this process can make the lag
	// slightly negative; it is still "no lag".
	m.projectionLag.WithLabelValues(projection).Observe(max(m.now().Sub(c.RecordedAt).Seconds(), 0))

	m.mu.Lock()
	defer m.mu.Unlock()
	if c.RecordedAt.After(m.positions[projection]) {
		m.positions[projection] = c.RecordedAt
		m.projectionPos.WithLabelValues(projection).Set(float64(c.RecordedAt.UnixNano()) / 1e9)
	}
}

// EventsAppended counts n events appended to streams of streamType.
func (m *Metrics) EventsAppended(streamType string, n int) {
	if n > 0 {
		m.eventsAppended.WithLabelValues(streamType).Add(float64(n))
	}
}

// SetRelayBacklog reports how many stored commits await publishing; a
// backlog that keeps growing means the bus is down or the relay is stuck.
func (m *Metrics) SetRelayBacklog(n int) {
	m.relayBacklog.Set(float64(n))
}

// CaughtUp counts a commit the catch-up applied to projection; it fits
// outbox.CatchUp.Caught. Counts that grow while the bus is up mean the bus
// loses commits (or delivers them later than the catch-up's MinAge).
func (m *Metrics) CaughtUp(projection string, _ events.Commit) {
	m.caughtUp.WithLabelValues(projection).Inc()
}
