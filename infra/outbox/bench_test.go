package outbox_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/infra/bus"
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// BenchmarkRelayKeepsUp puts the relay's publishing rate next to the write
// rate of the command path, in the same run on the same store:
//
//	go test ./infra/outbox -run XXX -bench RelayKeepsUp -benchtime 2000x
//
// "writes" appends commits through the outbox with no publisher (every
// commit is left to the relay, as after a crash or an outage); "relay"
// publishes them to Google's Pub/Sub fake through the real client. The
// relay keeps up when relay ops/s >= writes ops/s. (pstest's own ceiling, a
// few thousand messages a second, bounds the relay figure here.)
func BenchmarkRelayKeepsUp(b *testing.B) {
	em, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer em.Close()
	ctx := context.Background()
	pub, err := pubsub.NewPublisher(ctx, pubsub.Config{ProjectID: "bench", EmulatorHost: em.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	db := newDBB(b)
	ob := outbox.New(db, nil, "writer", 1, quiet)
	x := executor(db, ob)

	var seq atomic.Int64
	b.Run("writes", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := decider.Execute(ctx, x, fmt.Sprint("b", seq.Add(1)), "t", commands.Meta{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("relay", func(b *testing.B) {
		r := relay(db, &bus.Publisher{Pub: pub, Topic: bus.Topic}, "bench")
		r.Workers = 64
		b.StopTimer()
		for groups(nil, db) > 0 { // what the writes benchmark left
			if err := r.Sweep(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < b.N; i++ { // a backlog of b.N commits, as after an outage
			if _, err := decider.Execute(ctx, x, fmt.Sprint("r", seq.Add(1)), "t", commands.Meta{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		for groups(nil, db) > 0 {
			if err := r.Sweep(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "ops/s")
	})
}
