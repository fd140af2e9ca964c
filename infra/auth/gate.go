package auth

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// Gate bounds the password checks (bcrypt) in flight. Each costs tens of
// milliseconds of a core, and a burst of them would otherwise pin every
// core for as long as the burst lasts, so that nobody signs in. The Gate
// lets slots checks run at once (the number of cores), queues a few more
// for at most maxWait, and refuses the rest at once, so the excess is
// answered in microseconds and the queue never holds more than a second or
// so of work.
//
// Priority callers (returning users, as the sign-in throttle knows them)
// have a queue of their own that is served first: under a burst of strangers'
// guesses the people who signed in before still get in.
//
// A Gate is safe for concurrent use.
type Gate struct {
	slots      int
	maxWaiting int
	maxWait    time.Duration

	mu     sync.Mutex
	free   int
	queues [2]*list.List // of *gateWaiter; [0] is the priority queue
}

type gateWaiter struct {
	ready   chan struct{}
	granted bool // set under mu when a slot is handed over
}

// NewGate returns a Gate of slots slots, queueing at most maxWaiting callers
// of each priority for at most maxWait. It panics on slots < 1 or a negative
// maxWaiting or maxWait (static configuration).
func NewGate(slots, maxWaiting int, maxWait time.Duration) *Gate {
	if slots < 1 || maxWaiting < 0 || maxWait < 0 {
		panic(fmt.Sprintf("auth: invalid gate config: slots=%d maxWaiting=%d maxWait=%v", slots, maxWaiting, maxWait))
	}
	return &Gate{slots: slots, maxWaiting: maxWaiting, maxWait: maxWait, free: slots, queues: [2]*list.List{list.New(), list.New()}}
}

// Enter takes a slot, waiting in the queue of its priority if there is room
// there. ok is false when the queue is full, the wait ran out or ctx ended:
// the caller should answer "busy, retry shortly". With ok, release must be
// called once the check is done.
func (g *Gate) Enter(ctx context.Context, priority bool) (release func(), ok bool) {
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return g.release, true
	}
	q := g.queues[1]
	if priority {
		q = g.queues[0]
	}
	if q.Len() >= g.maxWaiting {
		g.mu.Unlock()
		return nil, false
	}
	w := &gateWaiter{ready: make(chan struct{})}
	el := q.PushBack(w)
	g.mu.Unlock()

	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return g.release, true
	case <-timer.C:
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted { // handed a slot as we gave up: give it on
		g.releaseLocked()
		return nil, false
	}
	q.Remove(el)
	return nil, false
}

func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked()
}

// releaseLocked hands the slot to the first waiter, priority first.
func (g *Gate) releaseLocked() {
	for _, q := range g.queues {
		if front := q.Front(); front != nil {
			w := q.Remove(front).(*gateWaiter)
			w.granted = true
			close(w.ready)
			return
		}
	}
	g.free++
}

// InUse returns the slots taken and the callers waiting (for metrics and
// tests).
func (g *Gate) InUse() (running, waiting int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, q := range g.queues {
		waiting += q.Len()
	}
	return g.slots - g.free, waiting
}
