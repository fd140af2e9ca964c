package outbox_test

import (
	"bytes"
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

// TestSweepersStopWithoutWarning: a relay and a catch-up whose process is
// stopping (their context ended, here before or during their first lease
// renewal) return without a warning: a graceful stop is no fault. While
// running, a lease that cannot be renewed is still warned about.
func TestSweepersStopWithoutWarning(t *testing.T) {
	db := newDB(t)
	// Read once the sweepers have returned: nothing writes to it then.
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	r := relay(db, &recorder{}, "stopping")
	r.Log = log
	cu := &outbox.CatchUp{Log: outbox.NewCommitLog(db), Commits: imongo.NewEventStore(db, reg), Logger: log,
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
	if strings.Contains(logged.String(), "level=WARN") || strings.Contains(logged.String(), "level=ERROR") {
		t.Errorf("logged while stopping:\n%s", logged.String())
	}

	// Running, with the store gone: still a warning.
	broken := relay(db, &recorder{}, "broken")
	broken.Log = log
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := db.Client().Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	broken.Run(ctx)
	if !strings.Contains(logged.String(), `level=WARN msg="relay lease"`) {
		t.Errorf("a relay whose lease could not be renewed while running warned nothing:\n%s", logged.String())
	}
}
