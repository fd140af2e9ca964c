package embedded

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
)

// WriteGate lets one write command at a time through to the embedded store,
// from the clients it is installed on (options.Client().SetMonitor).
//
// SQLite has one writer at a time; the others wait in its busy handler,
// which sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries and so leaves the
// lock unused while they sleep. Under concurrent writes that sleeping, not
// the work, bounds the rate (measured: 6 ms mean per update with the CPU
// not saturated). Queued here instead, the next writer goes the moment the
// previous one is answered. Reads are not gated: in WAL mode they do not
// wait for the writer.
//
// The gate holds from the driver's CommandStartedEvent to the matching
// finished event, which the driver publishes for every command it starts;
// a command whose context ends while it waits goes on ungated (the driver
// then fails it on that context) and releases nothing.
type WriteGate struct {
	slot chan struct{}
	held sync.Map // request id -> struct{}: commands holding the gate
}

// NewWriteGate returns an open gate.
func NewWriteGate() *WriteGate { return &WriteGate{slot: make(chan struct{}, 1)} }

// writeCommands are the commands that take SQLite's write lock.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "bulkWrite": true,
	"create": true, "createIndexes": true, "drop": true, "dropIndexes": true, "dropDatabase": true, "renameCollection": true,
}

// Monitor returns the command monitor that operates the gate, calling next
// (if not nil) for every event as well.
func (g *WriteGate) Monitor(next *event.CommandMonitor) *event.CommandMonitor {
	m := &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if writeCommands[e.CommandName] {
				select {
				case g.slot <- struct{}{}:
					g.held.Store(e.RequestID, struct{}{})
				case <-ctx.Done():
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

// Hold takes the gate for a write that does not go through a driver (the
// store's own SQLite connection), until release is called.
func (g *WriteGate) Hold(ctx context.Context) (release func(), err error) {
	select {
	case g.slot <- struct{}{}:
		return func() { <-g.slot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *WriteGate) release(requestID int64) {
	if _, ok := g.held.LoadAndDelete(requestID); ok {
		<-g.slot
	}
}
