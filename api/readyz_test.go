package api

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// levels records the levels of the records logged.
type levels struct {
	mu  sync.Mutex
	got []slog.Level
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, r.Level)
	return nil
}
func (l *levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levels) WithGroup(string) slog.Handler      { return l }

func (l *levels) warnings() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, lv := range l.got {
		if lv >= slog.LevelWarn {
			n++
		}
	}
	return n
}

// TestReadyzProbeGoneIsNoWarning: a readiness probe whose client gives up
// before the answer (a slow check, a probe timeout shorter than it) is
// recorded as a client gone (499), not warned about as a service not
// ready; a check that fails with its client still there is warned about.
func TestReadyzProbeGoneIsNoWarning(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for range 5 {
		log := &levels{}
		s := &Server{HealthOnly: true, Log: slog.New(log), Ready: func(ctx context.Context) error {
			<-ctx.Done() // a check slower than the probe's patience
			return ctx.Err()
		}}
		h := s.Handler()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
			cancel()
		}()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil).WithContext(ctx))
		if rec.Code != StatusClientClosedRequest || log.warnings() != 0 {
			t.Fatalf("a probe gone: %d with %d warnings, want %d and none", rec.Code, log.warnings(), StatusClientClosedRequest)
		}
	}
	log := &levels{}
	s := &Server{HealthOnly: true, Log: slog.New(log), Ready: func(context.Context) error { return errors.New("the store is unreachable") }}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || log.warnings() != 1 {
		t.Fatalf("a failed check: %d with %d warnings, want 503 and one", rec.Code, log.warnings())
	}
}
