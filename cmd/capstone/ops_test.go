package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/infra/config"
)

// TestMetrics: /metrics shows HTTP latency by route template, command
// outcomes, events appended and projection lag after some traffic.
func TestMetrics(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "metric@uni.example", "Metric", []string{"student"}, "")
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200)
	s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": "metric@uni.example", "name": "M", "roles": []string{"student"}}), 409)
	s.expect(s.do("PATCH", "/v1/users/"+id, admin, map[string]any{"name": "N"}, "If-Match", `"99"`), 412)
	body := s.expect(s.do("GET", "/metrics", "", nil), 200).Raw
	for _, want := range []string{
		`capstone_http_requests_total{code="200",method="GET",route="/v1/users/{id}"}`,
		`capstone_http_requests_total{code="409",method="POST",route="/v1/users"}`,
		`capstone_commands_total{outcome="ok",stream_type="user"}`,
		`capstone_commands_total{outcome="precondition-failed",stream_type="user"}`,
		`capstone_events_appended_total{stream_type="user"}`,
		`capstone_projection_lag_seconds_count{projection="users"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, id) {
		t.Error("a user id leaked into a metric label")
	}
}

// TestProjectorOnlyProcess: a worker process serves health and metrics, not the API.
func TestProjectorOnlyProcess(t *testing.T) {
	env := map[string]string{"CAPSTONE_COMPONENTS": "projector", "CAPSTONE_LOG_LEVEL": "error"}
	cfg, err := config.ParseServe([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := StartApp(ctx, cfg, newLogger(io.Discard, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, app: app, base: "http://" + app.Addr()}
	t.Cleanup(s.stop)
	s.expect(s.do("GET", "/healthz", "", nil), 200)
	s.expect(s.do("GET", "/readyz", "", nil), 200)
	s.expect(s.do("GET", "/metrics", "", nil), 200)
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "a@b.c", "password": "x"}), 404, "route-not-found")
}

// TestGracefulShutdown: a request in flight when the service is told to stop
// is answered in full before the process lets go (SIGTERM drains requests).
func TestGracefulShutdown(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "drain@uni.example", "Drain", []string{"student"}, "")
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200)
	done := make(chan response, 1)
	go func() {
		// A write whose body arrives slowly: it is in flight when the
		// service is told to stop, and must still be stored and answered.
		body, w := io.Pipe()
		go func() {
			_, _ = w.Write([]byte(`{"name":`))
			time.Sleep(1500 * time.Millisecond)
			_, _ = w.Write([]byte(`"Drained"}`))
			_ = w.Close()
		}()
		done <- s.do("PATCH", "/v1/users/"+id, admin, body)
	}()
	time.Sleep(300 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { s.stop(); close(stopped) }()
	select {
	case r := <-done:
		if r.Status != 200 || r.str("id") != id || r.str("name") != "Drained" {
			t.Fatalf("the request in flight got %d %s", r.Status, r.Raw)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request in flight never got an answer")
	}
	<-stopped
}
