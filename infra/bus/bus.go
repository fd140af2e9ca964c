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
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/batch"
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
	// once, forever) the commit is acked with an error log: it stays in the
	// event store, and the catch-up from the commit log applies it later
	// (outbox.CatchUp). A projection never gives up on a stored commit.
	NackOnFailure bool
	// WorkerIdle is how long a worker waits for a message before it stops
	// (zero: DefaultWorkerIdle).
	WorkerIdle time.Duration
	// Decodings, when set, is shared with the process's other consumers,
	// which decode each commit once between them (nil: each its own).
	Decodings *Decodings
	// KeepTrying is for a transport that may be out of reach (Pub/Sub):
	// Start then returns without waiting for the subscription, and the
	// consumer subscribes in the background, trying again after each
	// failure (see subscribe), until it has or its context ends;
	// Subscribed says when it has. Deliver works meanwhile, so the catch-up
	// from the store keeps the read model current while the bus is away.
	// Without it a failed Subscribe fails Start.
	KeepTrying bool
	// RetryAtMost bounds the delay between two tries to subscribe (zero:
	// DefaultRetryAtMost); RetryLogEvery, how often a failing one is logged
	// (zero: DefaultRetryLogEvery).
	RetryAtMost, RetryLogEvery time.Duration

	wg         sync.WaitGroup
	subscribed atomic.Bool

	qmu    sync.RWMutex
	queues []*queue        // the workers' queues while running
	run    context.Context // Start's: what the workers handle messages under
}

// queue is one worker's queue. Its worker runs only while it has work: it
// is started by the first message put in the queue and stops once none has
// come for WorkerIdle. A projector has Workers queues (64) for each
// projection: idle, their goroutines held some 3 MiB of stacks in a
// service that had long stopped writing.
type queue struct {
	ch      chan *message.Message
	mu      sync.Mutex // over running, and a stopping worker's last look at ch
	running bool
}

// DefaultWorkerIdle is how long a worker waits for a message before it
// stops. A worker started again costs a goroutine (a microsecond or two,
// against the milliseconds of the store's write it then waits on), while
// one left running holds its stack: the writes a load makes before 64
// clients read (their accounts and first projects) had left some 370
// workers of the six projections idle through the reads' first 10 s.
const DefaultWorkerIdle = 250 * time.Millisecond

// put queues msg for the worker of q, starting it if it is not running
// (the caller keeps the queues open meanwhile: see Start and Deliver). ctx
// bounds only the wait for room in the queue: the worker runs under Start's.
func (c *Consumer) put(ctx context.Context, q *queue, msg *message.Message) bool {
	select {
	case q.ch <- msg:
	case <-ctx.Done():
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running {
		q.running = true
		c.wg.Add(1)
		go c.work(c.run, q)
	}
	return true
}

// queueOf is the queue of a stream's messages: always the same one, so
// that its worker handles them one after the other, in order.
func queueOf(queues []*queue, streamID string) *queue {
	h := fnv.New32a()
	h.Write([]byte(streamID))
	return queues[h.Sum32()%uint32(len(queues))]
}

// work handles q's messages until q is closed, or has had none for
// WorkerIdle. A message put after its last look finds it stopped, and
// starts another (put looks under the same lock, after its send), so each
// stream's messages are still handled one after the other, in order.
func (c *Consumer) work(ctx context.Context, q *queue) {
	defer c.wg.Done()
	wait := c.WorkerIdle
	if wait <= 0 {
		wait = DefaultWorkerIdle
	}
	idle := time.NewTimer(wait)
	defer idle.Stop()
	for {
		select {
		case msg, ok := <-q.ch:
			if !ok {
				return
			}
			// Take what else is queued: a hot stream's commits are then
			// folded with one read-model write.
			c.handleBatch(ctx, batch.Take(msg, q.ch, maxCoalesce))
			idle.Reset(wait)
		case <-idle.C:
			q.mu.Lock()
			if len(q.ch) == 0 {
				q.running = false
				q.mu.Unlock()
				return
			}
			q.mu.Unlock()
			idle.Reset(wait)
		}
	}
}

// metaCatchUp marks a commit handed over by Deliver.
const metaCatchUp = "catch_up"

// Deliver hands a commit to the consumer as if the transport had delivered
// it, to the worker of its stream (so it is applied in turn with what the
// transport delivers of that stream), and waits until it is applied. It is
// how the catch-up from the event store applies what the bus lost.
func (c *Consumer) Deliver(ctx context.Context, commit events.Commit) error {
	return c.DeliverAll(ctx, []events.Commit{commit})[0]
}

// DeliverAll is Deliver of a stream's commits, in order, all queued before
// it waits: the worker folds those it finds queued together, as it does a
// hot stream's deliveries, where one at a time each cost a read-model
// write. It returns each commit's error (nil: applied).
func (c *Consumer) DeliverAll(ctx context.Context, commits []events.Commit) []error {
	errs := make([]error, len(commits))
	msgs := make([]*message.Message, 0, len(commits))
	for i, commit := range commits {
		payload, err := events.MarshalCommit(commit)
		if err != nil {
			errs[i] = err
			continue
		}
		msg := message.NewMessage(watermill.NewUUID(), payload)
		msg.Metadata.Set(MetaStreamID, commit.StreamID)
		msg.Metadata.Set(MetaCommitID, commit.ID())
		msg.Metadata.Set(metaCatchUp, "true")
		msgs = append(msgs, msg)
	}
	c.qmu.RLock()
	running := c.queues != nil
	put := 0
	for _, msg := range msgs {
		if !running || !c.put(ctx, queueOf(c.queues, msg.Metadata.Get(MetaStreamID)), msg) {
			break
		}
		put++
	}
	c.qmu.RUnlock()
	k := 0
	for i, commit := range commits {
		if errs[i] != nil {
			continue
		}
		msg := msgs[k]
		k++
		switch {
		case !running:
			errs[i] = errors.New("the consumer is not running")
		case k > put:
			errs[i] = ctx.Err()
		default:
			select {
			case <-msg.Acked():
			case <-msg.Nacked():
				errs[i] = fmt.Errorf("%s did not apply %s", c.Projection.Name(), commit.ID())
			case <-ctx.Done():
				errs[i] = ctx.Err()
			}
		}
	}
	return errs
}

// Start subscribes and returns once the subscription exists (so nothing
// published afterwards is missed), or at once with KeepTrying; the consumer
// runs until ctx ends.
func (c *Consumer) Start(ctx context.Context) error {
	var msgs <-chan *message.Message
	if !c.KeepTrying {
		var err error
		if msgs, err = c.Sub.Subscribe(ctx, c.Topic); err != nil {
			return fmt.Errorf("subscribe %s for %s: %w", c.Topic, c.Projection.Name(), err)
		}
		c.subscribed.Store(true)
	}
	workers := max(c.Workers, 1)
	queues := make([]*queue, workers)
	for i := range queues {
		queues[i] = &queue{ch: make(chan *message.Message, 64)}
	}
	c.qmu.Lock()
	c.queues, c.run = queues, ctx
	c.qmu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.qmu.Lock()
			c.queues = nil
			for _, q := range queues {
				close(q.ch)
			}
			c.qmu.Unlock()
		}()
		if msgs == nil {
			if msgs = c.subscribe(ctx); msgs == nil {
				return
			}
		}
		for {
			// Stop at ctx's end even if the transport does not close msgs
			// (a subscriber stuck on a Pub/Sub that went away): what it
			// still holds is not acked, so it is delivered again.
			var msg *message.Message
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				msg = m
			}
			if !c.put(ctx, queueOf(queues, msg.Metadata.Get(MetaStreamID)), msg) {
				msg.Nack()
				return
			}
		}
	}()
	return nil
}

// Wait blocks until the consumer has stopped after its context ended.
func (c *Consumer) Wait() { c.wg.Wait() }

// maxCoalesce bounds the messages a worker takes at once.
const maxCoalesce = 64

// handleBatch handles messages taken from a worker's queue together: the
// commits of a stream that has several are handed to a StreamProjection at
// once and acked together; everything else, and a group that fails, is
// handled message by message, as if it had come alone.
func (c *Consumer) handleBatch(ctx context.Context, msgs []*message.Message) {
	sp, ok := c.Projection.(projections.StreamProjection)
	if !ok || len(msgs) == 1 {
		for _, m := range msgs {
			c.handle(ctx, m)
		}
		return
	}
	type decoded struct {
		msg    *message.Message
		commit events.Commit
		err    error
	}
	var order []string
	groups := map[string][]decoded{}
	for _, m := range msgs {
		cm, err := c.Decodings.decode(m, c.Registry)
		id := cm.StreamID
		if err != nil {
			id = "\x00" + m.UUID // undecodable: alone, to be reported by handleDecoded
		}
		if _, seen := groups[id]; !seen {
			order = append(order, id)
		}
		groups[id] = append(groups[id], decoded{m, cm, err})
	}
	for _, id := range order {
		g := groups[id]
		if len(g) > 1 {
			commits := make([]events.Commit, len(g))
			for i, d := range g {
				commits[i] = d.commit
			}
			// One try: on failure each commit gets the usual retries alone.
			if err := sp.HandleStream(ctx, commits); err == nil {
				for _, d := range g {
					if c.Observe != nil {
						c.Observe(c.Projection.Name(), d.commit, nil)
					}
					d.msg.Ack()
				}
				continue
			}
		}
		for _, d := range g {
			c.handleDecoded(ctx, d.msg, d.commit, d.err)
		}
	}
}

func (c *Consumer) handle(ctx context.Context, msg *message.Message) {
	commit, err := c.Decodings.decode(msg, c.Registry)
	c.handleDecoded(ctx, msg, commit, err)
}

// handleDecoded applies one commit (unless it could not be decoded), then
// acks it, or nacks it for redelivery.
func (c *Consumer) handleDecoded(ctx context.Context, msg *message.Message, commit events.Commit, err error) {
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
		c.Log.ErrorContext(ctx, "projection failed on a commit; the catch-up from the event store retries it", "projection", c.Projection.Name(),
			"commit", msg.Metadata.Get(MetaCommitID), "err", err)
		if c.NackOnFailure || msg.Metadata.Get(metaCatchUp) != "" {
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
