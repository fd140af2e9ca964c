package outbox

import (
	"context"
	"time"
)

// StaleNext makes l's next append try position next, as a writer does that
// was slow while the others wrote past it, or that looked for the end while
// a trim was deleting entries.
func StaleNext(l *CommitLog, next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = next
}

// Live is how many groups o still tracks as its own (see Holds).
func Live(o *Outbox) int {
	o.liveMu.Lock()
	defer o.liveMu.Unlock()
	return len(o.live)
}

// Logged is how many groups o tracks by their position in the commit log
// (see Publishing).
func Logged(o *Outbox) int {
	o.liveMu.Lock()
	defer o.liveMu.Unlock()
	return len(o.logged)
}

// SetGroupWriteTimeout bounds the writes of a group of reservations at d
// until the test ends.
func SetGroupWriteTimeout(d time.Duration) func() {
	before := groupWriteTimeout
	groupWriteTimeout = d
	return func() { groupWriteTimeout = before }
}

// AfterInsert makes f run right after each entry l appends is inserted,
// before the append looks at the trim.
func AfterInsert(l *CommitLog, f func(pos int64)) { l.afterInsert = f }

// MarkTrim moves the trim's mark to position as a trim does before its
// delete pass, which it leaves undone.
func MarkTrim(ctx context.Context, l *CommitLog, position int64) error {
	t, err := l.trim(ctx)
	if err != nil {
		return err
	}
	t.ID, t.Position = trimID, position
	return replace(ctx, l.Coll, trimID, t)
}

// AfterTermRead makes f run right after each Hold of l (in terms) read
// the lease's last term.
func AfterTermRead(l *Lease, f func()) { l.afterRead = f }

// HurryFrom is how many lacking commits make a current catch-up deliver
// Workers at once.
const HurryFrom = hurryFrom

// SweepMore is a catch-up sweep that says whether there is more to do at
// once (its time ran out first, or it read a full batch).
func SweepMore(ctx context.Context, c *CatchUp) (int, bool, error) { return c.sweep(ctx) }

// RelaySweepMore is a relay sweep that says whether its time ran out first.
func RelaySweepMore(ctx context.Context, r *Relay) (bool, error) { return r.sweep(ctx) }

// Senders is how many senders o runs now.
func Senders(o *Outbox) int {
	o.sendersMu.Lock()
	defer o.sendersMu.Unlock()
	return o.senders
}

// SetSenderIdle stops senders after d without a commit until the test ends.
func SetSenderIdle(d time.Duration) func() {
	before := senderIdle
	senderIdle = d
	return func() { senderIdle = before }
}

// MarksClock sets the clock by which m keeps the marks it read.
func MarksClock(m *Marks, now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now, m.turned = now, now()
}
