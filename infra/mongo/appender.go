package mongo

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/internal/batch"
)

// appender writes the commits of concurrent commands together, in one
// unordered insert (group commit), and so the documents that concurrent
// projector workers write first (ReadModels): the store then takes one write
// transaction for many commits instead of one each, which is what bounds
// the embedded store's write rate.
type appender struct {
	*group
	coll *mongo.Collection
}

func newAppender(coll *mongo.Collection) *appender {
	a := &appender{coll: coll}
	a.group = newGroup(maxAppendBatch, a.insert)
	return a
}

// maxAppendBatch bounds the commits in one insert.
const maxAppendBatch = 128

// append inserts doc, with whatever else is queued. A commit whose id is
// taken gets ErrConcurrentAppend. If ctx ends first, the commit may still
// be stored: the caller hears ctx's error (an uncertain outcome).
func (a *appender) append(ctx context.Context, doc any) error {
	return a.do(ctx, &groupReq{doc: doc})
}

func (a *appender) insert(ctx context.Context, batch []*groupReq) {
	if len(batch) == 1 {
		_, err := a.coll.InsertOne(ctx, batch[0].doc)
		batch[0].err = appendError(err)
		return
	}
	docs := make([]any, len(batch))
	for i, r := range batch {
		docs[i] = r.doc
	}
	_, err := a.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	settle(batch, err, func(_ *groupReq, we mongo.BulkWriteError) error { return appendError(we) })
}

// settle gives each request of a batch the outcome of its bulk write: err
// to all of them (all stored, or an outcome the whole batch shares),
// unless err lists the writes that failed; then each of those gets what
// failed makes of its error, and the others none.
func settle(batch []*groupReq, err error, failed func(q *groupReq, we mongo.BulkWriteError) error) {
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		for _, q := range batch {
			q.err = err
		}
		return
	}
	for _, we := range bwe.WriteErrors {
		if we.Index >= 0 && we.Index < len(batch) {
			batch[we.Index].err = failed(batch[we.Index], we)
		}
	}
}

// group sends the writes of concurrent callers together, each batch in one
// command. There is no goroutine to start or stop: the first caller with
// nothing in flight writes what is queued, and whatever queued meanwhile is
// written by a goroutine that lives while there is work. A lone caller
// waits for nothing.
type group struct {
	queue   chan *groupReq
	running atomic.Bool // a caller or a goroutine is writing
	most    int
	// write writes a batch and sets each request's err.
	write func(ctx context.Context, batch []*groupReq)
}

type groupReq struct {
	doc  any
	id   string // the document's _id, where write needs it
	err  error
	done chan struct{}
}

func newGroup(most int, write func(ctx context.Context, batch []*groupReq)) *group {
	return &group{queue: make(chan *groupReq, groupQueue), most: most, write: write}
}

// groupQueue bounds the writes waiting for a batch: far more than the
// connections that could be sending them (a write beyond it waits for
// room, within its context).
const groupQueue = 4096

// groupTimeout bounds one batch's write: it is not cancelled with the
// context of the caller that happened to send it, which serves the others.
const groupTimeout = 30 * time.Second

// do queues req and waits for its batch to be written. If ctx ends first,
// the write may still happen: the caller hears ctx's error (an uncertain
// outcome).
func (g *group) do(ctx context.Context, req *groupReq) error {
	req.done = make(chan struct{})
	select {
	case g.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.running.CompareAndSwap(false, true) {
		g.run(context.WithoutCancel(ctx))
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes one batch and, if more queued meanwhile, hands the rest to a
// goroutine, so the caller returns with its own answer.
func (g *group) run(ctx context.Context) {
	if g.writeOne(ctx) {
		go g.drain(ctx)
	}
}

// drain writes batches until none is queued: one goroutine for a run of
// batches, whose stack has grown for the driver's calls by the second,
// rather than one a batch, each growing its own.
func (g *group) drain(ctx context.Context) {
	for g.writeOne(ctx) {
	}
}

// writeOne writes a batch, if any is queued, and clears running; it
// reports whether it set running again for more queued meanwhile, which
// its caller then writes. A request queued while running was set is in
// the queue before running is cleared, so the check after clearing it
// sees it.
func (g *group) writeOne(ctx context.Context) (more bool) {
	select {
	case first := <-g.queue:
		reqs := batch.Take(first, g.queue, g.most)
		wctx, cancel := context.WithTimeout(ctx, groupTimeout)
		g.write(wctx, reqs)
		cancel()
		for _, r := range reqs {
			close(r.done)
		}
	default:
	}
	g.running.Store(false)
	return len(g.queue) > 0 && g.running.CompareAndSwap(false, true)
}

// appendError maps a taken commit id to ErrConcurrentAppend.
func appendError(err error) error {
	if err == nil {
		return nil
	}
	if mongo.IsDuplicateKeyError(err) {
		return commands.ErrConcurrentAppend
	}
	return err
}
