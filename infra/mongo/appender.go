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
// the embedded store's write rate. There is no goroutine to start or stop:
// the first caller with nothing in flight inserts what is queued, and
// whatever queued meanwhile is inserted by a goroutine that lives while
// there is work. A lone command waits for nothing.
type appender struct {
	coll    *mongo.Collection
	queue   chan *appendReq
	running atomic.Bool // a caller or a goroutine is inserting
}

func newAppender(coll *mongo.Collection) *appender {
	return &appender{coll: coll, queue: make(chan *appendReq, appendQueue)}
}

type appendReq struct {
	doc  any
	err  error
	done chan struct{}
}

// maxAppendBatch bounds the commits in one insert.
const maxAppendBatch = 128

// appendQueue bounds the commits waiting for an insert: far more than the
// connections that could be writing them (a command beyond it waits for
// room, within its context).
const appendQueue = 4096

// appendTimeout bounds one batch's insert: it is not cancelled with the
// context of the command that happened to send it, which serves the others.
const appendTimeout = 30 * time.Second

// append inserts doc, with whatever else is queued. A commit whose id is
// taken gets ErrConcurrentAppend. If ctx ends first, the commit may still
// be stored: the caller hears ctx's error (an uncertain outcome).
func (a *appender) append(ctx context.Context, doc any) error {
	req := &appendReq{doc: doc, done: make(chan struct{})}
	select {
	case a.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	if a.running.CompareAndSwap(false, true) {
		a.run(context.WithoutCancel(ctx))
	}
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run inserts one batch and, if more queued meanwhile, hands the rest to a
// goroutine, so the caller returns with its own answer. A request queued
// while running was set is in the queue before running is cleared, so the
// check after clearing it sees it.
func (a *appender) run(ctx context.Context) {
	select {
	case first := <-a.queue:
		a.insert(ctx, batch.Take(first, a.queue, maxAppendBatch))
	default:
	}
	a.running.Store(false)
	if len(a.queue) > 0 && a.running.CompareAndSwap(false, true) {
		go a.run(ctx)
	}
}

func (a *appender) insert(ctx context.Context, batch []*appendReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, appendTimeout)
	defer cancel()
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
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil {
		for _, r := range batch {
			r.err = err // all stored, or an outcome the whole batch shares
		}
		return
	}
	for _, we := range bwe.WriteErrors {
		if we.Index >= 0 && we.Index < len(batch) {
			batch[we.Index].err = appendError(we)
		}
	}
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
