package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/capstone-pms/capstone/events"
)

// router is a small API: two routes, installed the way the doc says.
func router(m *Metrics) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/v1/projects/{id}", func(w http.ResponseWriter, r *http.Request) {
		if mux.Vars(r)["id"] == "missing" {
			http.Error(w, "no such project", http.StatusNotFound)
			return
		}
		_, _ = io.WriteString(w, `{"id":"`+mux.Vars(r)["id"]+`"}`) // implicit 200
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/users", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}).Methods(http.MethodPost)
	r.HandleFunc("/v1/boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	r.NotFoundHandler = m.HTTP(http.NotFoundHandler())
	r.Use(m.HTTP)
	return recoverer(r)
}

// recoverer stands in for the API's own, outside the router.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func do(t *testing.T, h http.Handler, method, path string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code
}

func requests(m *Metrics, method, route, code string) float64 {
	return testutil.ToFloat64(m.httpRequests.WithLabelValues(method, route, code))
}

// histogram reads one histogram series' sample count and sum.
func histogram(t *testing.T, o prometheus.Observer) (uint64, float64) {
	t.Helper()
	var pb dto.Metric
	if err := o.(prometheus.Metric).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetHistogram().GetSampleCount(), pb.GetHistogram().GetSampleSum()
}

func TestHTTPLabelsByRouteTemplate(t *testing.T) {
	m := New()
	h := router(m)

	for _, id := range []string{"p-1", "p-2", "0190b6f2-7a43-7000-8000-000000000001"} {
		if code := do(t, h, http.MethodGet, "/v1/projects/"+id); code != http.StatusOK {
			t.Fatalf("GET project %s: %d", id, code)
		}
	}
	do(t, h, http.MethodGet, "/v1/projects/missing")
	do(t, h, http.MethodPost, "/v1/users")
	do(t, h, http.MethodGet, "/nowhere/1")
	do(t, h, http.MethodGet, "/nowhere/2")
	if code := do(t, h, http.MethodGet, "/v1/boom"); code != http.StatusInternalServerError {
		t.Fatalf("panic route gave %d", code)
	}

	if got := requests(m, "GET", "/v1/projects/{id}", "200"); got != 3 {
		t.Errorf("three ids on one route: count %v, want 3 in one series", got)
	}
	if got := requests(m, "GET", "/v1/projects/{id}", "404"); got != 1 {
		t.Errorf("404 from a matched route: %v", got)
	}
	if got := requests(m, "POST", "/v1/users", "201"); got != 1 {
		t.Errorf("POST /v1/users 201: %v", got)
	}
	if got := requests(m, "GET", Unmatched, "404"); got != 2 {
		t.Errorf("unmatched paths: %v, want 2 in one series", got)
	}
	if got := requests(m, "GET", "/v1/boom", "500"); got != 1 {
		t.Errorf("panicking handler: %v, want counted as 500", got)
	}
	// Exactly these five series exist: no raw path became a label value.
	if n := testutil.CollectAndCount(m.httpRequests); n != 5 {
		t.Errorf("request series = %d, want 5", n)
	}
	if n := testutil.CollectAndCount(m.httpDuration); n != 5 {
		t.Errorf("duration series = %d, want 5", n)
	}
	if n, _ := histogram(t, m.httpDuration.WithLabelValues("GET", "/v1/projects/{id}", "200")); n != 3 {
		t.Errorf("duration samples = %d, want 3", n)
	}
}

func TestInstrumentCountsNotFoundAndMethodNotAllowed(t *testing.T) {
	m := New()
	r := mux.NewRouter()
	r.HandleFunc("/v1/projects/{id}", func(w http.ResponseWriter, r *http.Request) {}).Methods(http.MethodGet)
	m.Instrument(r)

	if code := do(t, r, http.MethodGet, "/v1/projects/x"); code != http.StatusOK {
		t.Fatalf("GET: %d", code)
	}
	if code := do(t, r, http.MethodDelete, "/v1/projects/x"); code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", code)
	}
	if code := do(t, r, http.MethodGet, "/etc/passwd"); code != http.StatusNotFound {
		t.Fatalf("GET unknown: %d", code)
	}
	if code := do(t, r, "BREW", "/coffee"); code != http.StatusNotFound {
		t.Fatalf("BREW: %d", code)
	}
	if got := requests(m, "GET", "/v1/projects/{id}", "200"); got != 1 {
		t.Errorf("matched: %v", got)
	}
	if got := requests(m, "DELETE", Unmatched, "405"); got != 1 {
		t.Errorf("405: %v", got)
	}
	if got := requests(m, "GET", Unmatched, "404"); got != 1 {
		t.Errorf("404: %v", got)
	}
	if got := requests(m, "other", Unmatched, "404"); got != 1 {
		t.Errorf("a made-up method is labelled other: %v", got)
	}
	if n := testutil.CollectAndCount(m.httpRequests); n != 4 {
		t.Errorf("series = %d, want 4 (each request counted once)", n)
	}
}

func TestHandlerExposesMetrics(t *testing.T) {
	m := New()
	do(t, router(m), http.MethodGet, "/v1/projects/a")
	m.ObserveCommand("project", "ok", 3*time.Millisecond)
	m.ObserveProjection("projects", events.Commit{RecordedAt: time.Now()}, nil)
	m.EventsAppended("project", 2)
	m.SetRelayBacklog(0)
	m.CaughtUp("projects", events.Commit{})

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	body := rec.Body.String()
	for _, name := range []string{
		"capstone_http_requests_total", "capstone_http_request_duration_seconds_bucket",
		"capstone_commands_total", "capstone_command_duration_seconds",
		"capstone_projection_commits_total", "capstone_projection_lag_seconds",
		"capstone_projection_position_timestamp_seconds",
		"capstone_events_appended_total", "capstone_relay_backlog",
		`capstone_catchup_commits_total{projection="projects"} 1`,
		"go_goroutines", "process_",
		`route="/v1/projects/{id}"`,
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestObserveCommand(t *testing.T) {
	m := New()
	m.ObserveCommand("project", "ok", 10*time.Millisecond)
	m.ObserveCommand("project", "ok", 30*time.Millisecond)
	m.ObserveCommand("project", "capacity-exceeded", time.Millisecond)
	m.ObserveCommand("user", "error", time.Second)

	if got := testutil.ToFloat64(m.commands.WithLabelValues("project", "ok")); got != 2 {
		t.Errorf("project/ok = %v", got)
	}
	if got := testutil.ToFloat64(m.commands.WithLabelValues("project", "capacity-exceeded")); got != 1 {
		t.Errorf("project/capacity-exceeded = %v", got)
	}
	if got := testutil.ToFloat64(m.commands.WithLabelValues("user", "error")); got != 1 {
		t.Errorf("user/error = %v", got)
	}
	if n := testutil.CollectAndCount(m.commands, "capstone_commands_total"); n != 3 {
		t.Errorf("series = %d, want 3", n)
	}
	n, sum := histogram(t, m.commandDuration.WithLabelValues("project", "ok"))
	if n != 2 || sum < 0.0399 || sum > 0.0401 {
		t.Errorf("project/ok duration: count %d sum %v, want 2 and 0.04", n, sum)
	}
}

func TestObserveProjection(t *testing.T) {
	m := New()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }

	newer := events.Commit{StreamID: "p-1", RecordedAt: now.Add(-2 * time.Second)}
	older := events.Commit{StreamID: "p-2", RecordedAt: now.Add(-10 * time.Second)}
	m.ObserveProjection("projects", newer, nil)
	m.ObserveProjection("projects", older, nil) // delivered late: lag counts, position stays
	m.ObserveProjection("projects", events.Commit{}, errors.New("undecodable"))
	m.ObserveProjection("users", older, nil)

	if got := testutil.ToFloat64(m.projectionCommit.WithLabelValues("projects", "ok")); got != 2 {
		t.Errorf("projects/ok = %v", got)
	}
	if got := testutil.ToFloat64(m.projectionCommit.WithLabelValues("projects", "error")); got != 1 {
		t.Errorf("projects/error = %v", got)
	}
	if n, sum := histogram(t, m.projectionLag.WithLabelValues("projects")); n != 2 || sum != 12 {
		t.Errorf("projects lag: count %d sum %v, want 2 and 12 (the failure adds none)", n, sum)
	}
	if got, want := testutil.ToFloat64(m.projectionPos.WithLabelValues("projects")), float64(newer.RecordedAt.Unix()); got != want {
		t.Errorf("projects position = %v, want %v (the newest applied)", got, want)
	}
	if got, want := testutil.ToFloat64(m.projectionPos.WithLabelValues("users")), float64(older.RecordedAt.Unix()); got != want {
		t.Errorf("users position = %v, want %v", got, want)
	}

	// A writer's clock slightly ahead is no lag, not negative lag.
	m.ObserveProjection("skewed", events.Commit{RecordedAt: now.Add(time.Second)}, nil)
	if _, sum := histogram(t, m.projectionLag.WithLabelValues("skewed")); sum != 0 {
		t.Errorf("skewed lag sum = %v, want 0", sum)
	}
}

func TestEventsAppendedAndRelayBacklog(t *testing.T) {
	m := New()
	m.EventsAppended("project", 3)
	m.EventsAppended("project", 2)
	m.EventsAppended("user", 0)
	if got := testutil.ToFloat64(m.eventsAppended.WithLabelValues("project")); got != 5 {
		t.Errorf("project events = %v", got)
	}
	if n := testutil.CollectAndCount(m.eventsAppended); n != 1 {
		t.Errorf("series = %d: appending nothing should create none", n)
	}
	m.SetRelayBacklog(7)
	m.SetRelayBacklog(4)
	if got := testutil.ToFloat64(m.relayBacklog); got != 4 {
		t.Errorf("backlog = %v", got)
	}
}

// TestOwnRegistry: two instances in one process do not collide, and nothing
// is registered globally.
func TestOwnRegistry(t *testing.T) {
	a, b := New(), New()
	a.SetRelayBacklog(1)
	if got := testutil.ToFloat64(b.relayBacklog); got != 0 {
		t.Fatalf("instances share state: %v", got)
	}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "capstone_") {
			t.Fatalf("%s registered on the global registry", mf.GetName())
		}
	}
}

func TestStoreMonitor(t *testing.T) {
	m := New()
	mon := m.StoreMonitor()
	ctx := context.Background()
	cmd := func(doc bson.D) bson.Raw {
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	mon.Started(ctx, &event.CommandStartedEvent{CommandName: "find", Command: cmd(bson.D{{Key: "find", Value: "projects"}, {Key: "filter", Value: bson.D{}}})})
	mon.Started(ctx, &event.CommandStartedEvent{CommandName: "find", Command: cmd(bson.D{{Key: "find", Value: "projects"}})})
	mon.Started(ctx, &event.CommandStartedEvent{CommandName: "insert", Command: cmd(bson.D{{Key: "insert", Value: "events"}})})
	mon.Started(ctx, &event.CommandStartedEvent{CommandName: "hello", Command: cmd(bson.D{{Key: "hello", Value: 1}})})
	mon.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "find", Duration: 2 * time.Millisecond}})
	mon.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "insert", Duration: time.Millisecond}})

	for _, tc := range []struct {
		command, collection string
		want                float64
	}{{"find", "projects", 2}, {"insert", "events", 1}, {"hello", "", 0}} {
		if got := testutil.ToFloat64(m.store.commands.WithLabelValues(tc.command, tc.collection)); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.command, tc.collection, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.store.failed.WithLabelValues("insert")); got != 1 {
		t.Errorf("failed inserts: %v, want 1", got)
	}
	if n, sum := histogram(t, m.store.duration.WithLabelValues("find")); n != 1 || sum != 0.002 {
		t.Errorf("find duration: %d observations summing %v, want 1 and 0.002", n, sum)
	}
}
