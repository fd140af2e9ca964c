package projections

import "time"

// SetClock makes the log read the time from now.
func (l *AppliedLog) SetClock(now func() time.Time) { l.now = now }

// Len is how many streams the log remembers heads of.
func (l *AppliedLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.heads)
}
