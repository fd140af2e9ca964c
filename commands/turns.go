package commands

import (
	"context"
	"sync"
)

// turns makes the commands of one stream in a process take turns: each is
// decided on the state the one before it left, instead of racing it to the
// append and deciding again after losing (which, with Retries bounded,
// refused some of a burst of edits of one project: 10 of 20 at once).
// Commands of different streams never wait for each other. Writers in other
// processes still race, and lose as before.
type turns struct {
	mu sync.Mutex
	m  map[string]*turn
}

type turn struct {
	held    chan struct{} // holds a token while a command of the stream runs
	waiting int           // commands holding or waiting for it (under turns.mu)
}

func newTurns() *turns { return &turns{m: map[string]*turn{}} }

// take waits for the stream's turn, or for ctx's end; release gives the
// turn to the next command.
func (t *turns) take(ctx context.Context, stream string) (release func(), err error) {
	t.mu.Lock()
	e := t.m[stream]
	if e == nil {
		e = &turn{held: make(chan struct{}, 1)}
		t.m[stream] = e
	}
	e.waiting++
	t.mu.Unlock()
	done := func() {
		t.mu.Lock()
		if e.waiting--; e.waiting == 0 {
			delete(t.m, stream)
		}
		t.mu.Unlock()
	}
	select {
	case e.held <- struct{}{}:
		return func() { <-e.held; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

// Turn waits for the turn of key, or for ctx's end: for a use case that
// writes several streams one after the other and must not interleave with
// another on the same thing (a supervisor's decisions on one project take a
// slot on the cohort, then mark the project). Keys are apart from the
// streams' own turns, so holding one never stops a stream's command. An
// executor whose commands race (a dry run's) returns at once.
func (x *Executor) Turn(ctx context.Context, key string) (release func(), err error) {
	if x.turns == nil {
		return func() {}, nil
	}
	return x.turns.take(ctx, "turn\x00"+key)
}
