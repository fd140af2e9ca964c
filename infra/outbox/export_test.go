package outbox

import "time"

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

// SetGroupWriteTimeout bounds the writes of a group of reservations at d
// until the test ends.
func SetGroupWriteTimeout(d time.Duration) func() {
	before := groupWriteTimeout
	groupWriteTimeout = d
	return func() { groupWriteTimeout = before }
}
