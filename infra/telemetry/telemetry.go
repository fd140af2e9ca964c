// Package telemetry turns on OpenTelemetry tracing when a setting asks for
// it: spans are exported over OTLP/gRPC (to an OpenTelemetry Collector, or
// Cloud Trace through one), and W3C trace context is read from and passed
// on with requests. Off, it costs nothing: the global tracer is a no-op.
package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Setup installs the global tracer provider for mode: "" or "off" (no
// tracing) or "otlp" (the exporter reads the standard OTEL_EXPORTER_OTLP_*
// variables, e.g. OTEL_EXPORTER_OTLP_ENDPOINT). The returned function
// flushes and stops it.
func Setup(ctx context.Context, mode, service, instance string) (func(context.Context) error, error) {
	switch mode {
	case "", "off":
		return func(context.Context) error { return nil }, nil
	case "otlp":
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		return Install(exp, service, instance), nil
	}
	return nil, fmt.Errorf("tracing %q: want off or otlp", mode)
}

// Install makes exp the destination of every span (tests give an in-memory
// exporter) and returns the shutdown function.
func Install(exp sdktrace.SpanExporter, service, instance string) func(context.Context) error {
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), semconv.ServiceInstanceID(instance))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown
}
