package bus

import (
	"context"
	"errors"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Local is the in-process bus of the all-in-one run. Every subscription gets
// every message, and Publish returns once every subscriber has acked it, so
// the outbox forgets a commit only after it is projected. Unlike Watermill's
// gochannel in that mode, publishers do not queue behind each other: many
// commits are in flight at once, and a subscriber's queue gives backpressure.
type Local struct {
	mu     sync.RWMutex
	subs   map[string][]*localSub
	closed bool
}

type localSub struct {
	ch  chan *message.Message
	ctx context.Context
}

var (
	_ message.Publisher  = (*Local)(nil)
	_ message.Subscriber = (*Local)(nil)
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("bus closed")

// NewLocal returns an in-process bus.
func NewLocal() *Local { return &Local{subs: map[string][]*localSub{}} }

// Subscribe returns the messages of topic until ctx ends.
func (l *Local) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	s := &localSub{ch: make(chan *message.Message, 256), ctx: ctx}
	l.subs[topic] = append(l.subs[topic], s)
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		defer l.mu.Unlock()
		list := l.subs[topic]
		for i, x := range list {
			if x == s {
				l.subs[topic] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		close(s.ch)
	}()
	return s.ch, nil
}

// Publish delivers each message to every subscriber of topic and waits for
// their acks; a nacked copy is delivered again. A copy goes straight into
// the queue of each subscriber that has room, and only one whose queue is
// full gets a goroutine to wait for room, so that it holds up no other:
// with a goroutine for every delivery, an import's hundreds of commits in
// flight, each handed to every projection, kept thousands of goroutines
// alive, whose stacks every collection scanned.
func (l *Local) Publish(topic string, msgs ...*message.Message) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	subs := append([]*localSub(nil), l.subs[topic]...)
	l.mu.RUnlock()
	queued := make([]*message.Message, len(subs)) // the copy in each queue, if it had room
	for _, msg := range msgs {
		var wg sync.WaitGroup
		for i, s := range subs {
			m := msg.Copy()
			queued[i] = nil
			if sent, gone := l.send(s, m, false); sent {
				queued[i] = m
			} else if !gone {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if sent, _ := l.send(s, m, true); sent {
						l.acked(s, msg, m)
					}
				}()
			}
		}
		for i, s := range subs {
			if queued[i] != nil {
				l.acked(s, msg, queued[i])
			}
		}
		wg.Wait()
	}
	return nil
}

// acked waits until the subscriber acks m, the copy of msg it was handed,
// handing it another copy after each nack.
func (l *Local) acked(s *localSub, msg, m *message.Message) {
	for {
		select {
		case <-m.Acked():
			return
		case <-m.Nacked():
		case <-s.ctx.Done():
			return
		}
		m = msg.Copy()
		if sent, _ := l.send(s, m, true); !sent {
			return
		}
	}
}

// send hands m to the subscriber: at once if its queue has room, else,
// with wait, once it has. gone tells that the subscriber has gone.
func (l *Local) send(s *localSub, m *message.Message, wait bool) (sent, gone bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if s.ctx.Err() != nil {
		return false, true
	}
	select {
	case s.ch <- m:
		return true, false
	default:
		if !wait {
			return false, false
		}
	}
	select {
	case s.ch <- m:
		return true, false
	case <-s.ctx.Done():
		return false, true
	}
}

// Close stops accepting messages.
func (l *Local) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}
