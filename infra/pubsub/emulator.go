package pubsub

import (
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2/pstest"
)

// Emulator serves Google's in-memory Pub/Sub fake (pstest) over gRPC, for
// `capstone pubsub-emulator` and for tests of the real Pub/Sub path: point a
// Config's EmulatorHost (or PUBSUB_EMULATOR_HOST) at Addr. It keeps every
// message in memory and loses everything on Close. It is a fake for
// correctness, not for performance figures (it delivers at most about 900
// messages/s, and about 10 per second per ordering key). Known differences
// from Pub/Sub: it checks none of the limits on ack deadlines and
// dead-letter delivery attempts, ignores retry policies (a nacked message is
// redelivered at once), adds no dead-letter attributes, counts delivery
// attempts per message across all subscriptions rather than per
// subscription, and has no IAM.
type Emulator struct {
	srv       *pstest.Server
	closeOnce sync.Once
}

// StartEmulator listens on addr (host:port; port 0 picks a free one) and
// serves the fake until Close.
func StartEmulator(addr string) (e *Emulator, err error) {
	// pstest panics when it cannot listen.
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, fmt.Errorf("pubsub emulator on %s: %v", addr, r)
		}
	}()
	return &Emulator{srv: pstest.NewServerWithAddress(addr)}, nil
}

// Addr is the host:port the emulator listens on.
func (e *Emulator) Addr() string { return e.srv.Addr }

// Server is the fake itself, for tests that inspect what was published
// (Messages gives each message's attributes, ordering key and delivery
// count).
func (e *Emulator) Server() *pstest.Server { return e.srv }

// Close stops serving and drops every topic, subscription and message. It is
// safe to call more than once.
func (e *Emulator) Close() error {
	var err error
	e.closeOnce.Do(func() { err = e.srv.Close() })
	return err
}
