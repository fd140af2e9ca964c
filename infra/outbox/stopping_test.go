package outbox_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// lines is a slog.Handler that keeps what it is told, one line a record.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lines) WithGroup(string) slog.Handler            { return l }
func (l *lines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.got = append(l.got, b.String())
	return nil
}

// all is what it was told so far.
func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// TestSweepersStopWithoutWarning: a relay and a catch-up whose process is
// stopping (their context ended, here before or during their first lease
// renewal) return without a warning: a graceful stop is no fault. While
// running, a lease that cannot be renewed is still warned about.
func TestSweepersStopWithoutWarning(t *testing.T) {
	db := newDB(t)
	log := &lines{}
	r := relay(db, &recorder{}, "stopping")
	r.Log = slog.New(log)
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: slog.New(log),
		Lease:    &outbox.Lease{Coll: db.Collection(outbox.LeaseCollection), Name: "catch-up", Holder: "stopping", TTL: time.Hour},
		Interval: 10 * time.Millisecond, MinAge: time.Hour, GiveUp: time.Hour, Batch: 100,
		Targets: []outbox.CatchUpTarget{{Name: "p", Deliver: func(context.Context, events.Commit) error { return nil }}}}
	for _, after := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		if after == 0 {
			cancel()
		} else {
			time.AfterFunc(after, cancel)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); r.Run(ctx) }()
		go func() { defer wg.Done(); cu.Run(ctx) }()
		wg.Wait()
		cancel()
	}
	for _, l := range log.all() {
		if strings.HasPrefix(l, "WARN") || strings.HasPrefix(l, "ERROR") {
			t.Errorf("logged while stopping: %s", l)
		}
	}

	// Running, with the store gone: still a warning.
	broken := relay(db, &recorder{}, "broken")
	broken.Log = slog.New(log)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := db.Client().Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	broken.Run(ctx)
	warned := false
	for _, l := range log.all() {
		warned = warned || strings.HasPrefix(l, "WARN relay lease")
	}
	if !warned {
		t.Errorf("a relay whose lease could not be renewed while running warned nothing: %q", log.all())
	}
}
