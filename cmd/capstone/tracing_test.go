package main

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/capstone-pms/capstone/infra/telemetry"
)

// TestTracing: with tracing on, a request gets a server span named by its
// route, continuing the caller's trace, and the request's log lines carry
// the trace id.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	shutdown := telemetry.Install(exp, "capstone", "test")
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	s := startService(t)
	admin := s.admin()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := s.do("GET", "/v1/users/01a224e5-0000-7000-8000-000000000000", admin, nil,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	s.expect(r, 404)
	// Flush (a shutdown would also empty the in-memory exporter).
	if err := otel.GetTracerProvider().(*sdktrace.TracerProvider).ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(context.Background()) })
	var found bool
	for _, sp := range exp.GetSpans() {
		if sp.Name == "GET /v1/users/{id}" && sp.SpanContext.TraceID().String() == traceID {
			found = true
		}
	}
	if !found {
		t.Fatalf("no span for the request in trace %s: %d spans", traceID, len(exp.GetSpans()))
	}
	s.stop()
	if !strings.Contains(s.logs.String(), `"trace_id":"`+traceID+`"`) {
		t.Fatalf("no log line carries the trace id")
	}
}
