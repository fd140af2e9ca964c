// Package bus carries stored commits from the command side to the projections
// through Watermill's publisher and subscriber interfaces: in one process the
// in-process Local bus, and Google Cloud Pub/Sub when configured.
//
// A message is one commit, JSON-encoded, with the stream id as metadata (and
// as the ordering key where the transport supports it).
package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// Topic is the one topic every commit is published on.
const Topic = "capstone-commits"

// Metadata keys of a message.
const (
	MetaStreamID = "stream_id"
	MetaCommitID = "commit_id"
)

// Publisher publishes commits on a Watermill publisher.
type Publisher struct {
	Pub   message.Publisher
	Topic string
}

var _ commands.Publisher = (*Publisher)(nil)

// Publish sends one commit.
func (p *Publisher) Publish(ctx context.Context, c events.Commit) error {
	payload, err := events.MarshalCommit(c)
	if err != nil {
		return err
	}
	msg := message.NewMessage(watermill.NewUUID(), payload)
	msg.Metadata.Set(MetaStreamID, c.StreamID)
	msg.Metadata.Set(MetaCommitID, c.ID())
	msg.SetContext(ctx)
	return p.Pub.Publish(p.Topic, msg)
}

// Consumer feeds one projection from a subscription. Commits of one stream go
// to the same worker, in the order they arrive; different streams are
// handled in parallel.
type Consumer struct {
	Sub         message.Subscriber
	Topic       string
	Registry    *events.Registry
	Projection  projections.Projection
	Log         *slog.Logger
	Workers     int
	MaxAttempts int
	// Observe, when set, is told each handled commit's outcome (metrics).
	Observe func(projection string, c events.Commit, err error)
	// NackOnFailure hands a commit that keeps failing back to the transport,
	// which redelivers it later and dead-letters it after bounded deliveries
	// (Pub/Sub). Without it (the in-process bus, which would redeliver at
	// once, forever) the commit is dropped with an error log: it stays in
	// the event store, and the stream's next commit fills the gap.
	NackOnFailure bool

	wg sync.WaitGroup
}

// Start subscribes and returns once the subscription exists (so nothing
// published afterwards is missed); the consumer runs until ctx ends.
func (c *Consumer) Start(ctx context.Context) error {
	msgs, err := c.Sub.Subscribe(ctx, c.Topic)
	if err != nil {
		return fmt.Errorf("subscribe %s for %s: %w", c.Topic, c.Projection.Name(), err)
	}
	workers := max(c.Workers, 1)
	queues := make([]chan *message.Message, workers)
	for i := range queues {
		queues[i] = make(chan *message.Message, 64)
		c.wg.Add(1)
		go func(q <-chan *message.Message) {
			defer c.wg.Done()
			for msg := range q {
				c.handle(ctx, msg)
			}
		}(queues[i])
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		for msg := range msgs {
			h := fnv.New32a()
			h.Write([]byte(msg.Metadata.Get(MetaStreamID)))
			select {
			case queues[h.Sum32()%uint32(workers)] <- msg:
			case <-ctx.Done():
				msg.Nack()
				return
			}
		}
	}()
	return nil
}

// Wait blocks until the consumer has stopped after its context ended.
func (c *Consumer) Wait() { c.wg.Wait() }

func (c *Consumer) handle(ctx context.Context, msg *message.Message) {
	commit, err := events.UnmarshalCommit(msg.Payload, c.Registry)
	if err == nil {
		err = c.apply(ctx, commit)
	}
	if c.Observe != nil {
		c.Observe(c.Projection.Name(), commit, err)
	}
	if err != nil && ctx.Err() != nil {
		msg.Nack() // shutting down: let another consumer have it
		return
	}
	if err != nil {
		c.Log.ErrorContext(ctx, "projection gave up on a commit", "projection", c.Projection.Name(),
			"commit", msg.Metadata.Get(MetaCommitID), "err", err)
		if c.NackOnFailure {
			msg.Nack()
			return
		}
	}
	msg.Ack()
}

// apply retries transient failures with a growing delay.
func (c *Consumer) apply(ctx context.Context, commit events.Commit) error {
	attempts := max(c.MaxAttempts, 1)
	delay := 20 * time.Millisecond
	var err error
	for i := 0; i < attempts; i++ {
		if err = c.Projection.Handle(ctx, commit); err == nil {
			return nil
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
	return err
}
