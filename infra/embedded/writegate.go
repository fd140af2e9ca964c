package embedded

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
	"golang.org/x/sync/semaphore"
)

// WriteGate lets the writes of this process through to the embedded store
// a few at a time, in the order they come, from the clients it is
// installed on (options.Client().SetMonitor).
//
// SQLite has one writer at a time; the others wait in its busy handler,
// which tries again only now and then (see busyWait). Under concurrent
// writes those waits, not the work, bounded the rate (measured: 6 ms mean
// per update with the CPU not saturated). Queued here instead, the next
// write goes the moment the one before is answered. Reads are not gated: in
// WAL mode they do not wait for the writer.
//
// Inserts go insertsAtOnce at a time. FerretDB does part of an insert's
// work before its transaction takes SQLite's lock: it decodes the command
// and turns each document into the JSON it stores. The next insert does
// that while the one before holds the lock, then waits in the busy handler
// for the rest of that transaction (measured on the cohort's imports: 10 to
// 25% less time). Every other write goes alone, with no insert beside it:
// FerretDB's update, delete and findAndModify read the documents they
// change and then write them, in two steps. Alone, two of them on one
// document cannot both write from what they read (two $inc both count),
// and an upsert that found nothing inserts its document with no other
// insert of it in between.
//
// The gate holds from the driver's CommandStartedEvent to the matching
// finished event, which the driver publishes for every command it starts;
// a command whose context ends while it waits goes on ungated (the driver
// then fails it on that context) and releases nothing.
type WriteGate struct {
	sem  *semaphore.Weighted // insertsAtOnce; an insert takes 1, any other write all
	held sync.Map            // request id -> int64: the share of the gate it holds
}

// insertsAtOnce is how many inserts may be in flight together.
const insertsAtOnce = 2

// NewWriteGate returns an open gate.
func NewWriteGate() *WriteGate { return &WriteGate{sem: semaphore.NewWeighted(insertsAtOnce)} }

// writeCommands are the commands that take SQLite's write lock.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "bulkWrite": true,
	"create": true, "createIndexes": true, "drop": true, "dropIndexes": true, "dropDatabase": true, "renameCollection": true,
}

// share is the part of the gate a write command takes.
func share(command string) int64 {
	if command == "insert" {
		return 1
	}
	return insertsAtOnce
}

// Monitor returns the command monitor that operates the gate, calling next
// (if not nil) for every event as well.
func (g *WriteGate) Monitor(next *event.CommandMonitor) *event.CommandMonitor {
	m := &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if writeCommands[e.CommandName] {
				n := share(e.CommandName)
				if g.sem.Acquire(ctx, n) == nil {
					g.held.Store(e.RequestID, n)
				}
			}
			if next != nil && next.Started != nil {
				next.Started(ctx, e)
			}
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			if next != nil && next.Succeeded != nil {
				next.Succeeded(ctx, e)
			}
			g.release(e.RequestID)
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			if next != nil && next.Failed != nil {
				next.Failed(ctx, e)
			}
			g.release(e.RequestID)
		},
	}
	return m
}

// Hold takes the whole gate for a write that does not go through a driver
// (the store's own SQLite connection), until release is called.
func (g *WriteGate) Hold(ctx context.Context) (release func(), err error) {
	if err := g.sem.Acquire(ctx, insertsAtOnce); err != nil {
		return nil, err
	}
	return func() { g.sem.Release(insertsAtOnce) }, nil
}

func (g *WriteGate) release(requestID int64) {
	if n, ok := g.held.LoadAndDelete(requestID); ok {
		g.sem.Release(n.(int64))
	}
}
