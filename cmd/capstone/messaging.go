package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/infra/bus"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/pubsub"
	"github.com/capstone-pms/capstone/projections"
)

// messaging is the bus of a process: Google Cloud Pub/Sub when a project is
// configured, else the in-process channel of the all-in-one run.
type messaging struct {
	pub message.Publisher
	// subscriber returns the subscriber of a projection group.
	subscriber func(ctx context.Context, group string) (message.Subscriber, error)
	// remote is true for Pub/Sub: a failed message is nacked for redelivery
	// (and dead-lettered after bounded deliveries) instead of dropped.
	remote  bool
	closers []func() error
}

// pubsubSetUpWithin bounds each try to set up or check a Pub/Sub
// subscription (zero: the package's default); a variable, so that a test
// outlasts it in seconds.
var pubsubSetUpWithin time.Duration

// resubscribeAtMost bounds a projector's delay between two tries to
// subscribe to a Pub/Sub out of reach (zero: the bus package's default).
var resubscribeAtMost time.Duration

// projectionGroups are the projections' subscription groups, created up
// front so no message published before a projector starts is missed.
var projectionGroups = projections.Names()

func openMessaging(ctx context.Context, cfg config.Config, log *slog.Logger) (*messaging, error) {
	if cfg.PubSubProject == "" {
		ch := bus.NewLocal()
		return &messaging{pub: ch, subscriber: func(context.Context, string) (message.Subscriber, error) { return ch, nil },
			closers: []func() error{ch.Close}}, nil
	}
	opts := pubsub.SubscriberOptions{}
	// Groups: a publisher creates the topic only with every group's
	// subscription, and again whenever it finds them gone.
	pcfg := pubsub.Config{ProjectID: cfg.PubSubProject, EmulatorHost: cfg.PubSubEmulator, Logger: log,
		CheckOnly: !cfg.PubSubCreate, Groups: projectionGroups, Subscriptions: opts, SetUpWithin: pubsubSetUpWithin}
	// A Pub/Sub out of reach does not keep the process from starting:
	// commits wait in the store for the relay and the catch-up, a publisher
	// creates the subscriptions before its first publish, and a projector
	// subscribes (and creates its own) once Pub/Sub answers, not ready
	// until then. A refusal (not set up, not allowed) stops the start.
	for _, g := range projectionGroups {
		err := pubsub.EnsureSubscription(ctx, pcfg, g, opts)
		if pubsub.Unreachable(err) {
			log.WarnContext(ctx, "Pub/Sub is out of reach: starting without it, and trying again in the background", "err", err)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pub/sub subscription %s: %w", g, err)
		}
	}
	pub, err := pubsub.NewPublisher(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("pub/sub publisher: %w", err)
	}
	m := &messaging{pub: pub, remote: true, closers: []func() error{pub.Close}}
	m.subscriber = func(ctx context.Context, group string) (message.Subscriber, error) {
		sub, err := pubsub.NewSubscriber(ctx, pcfg, group, opts)
		if err == nil {
			m.closers = append(m.closers, sub.Close)
		}
		return sub, err
	}
	return m, nil
}

func (m *messaging) Close() {
	for i := len(m.closers) - 1; i >= 0; i-- {
		_ = m.closers[i]()
	}
}

// instanceName identifies this process in outbox groups and leases.
func instanceName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}
