// Package quote shows a value a client sent inside a message about it (a
// refusal, a log line), bounded: a refusal that echoed a name of any length
// whole would answer a 10,000-character request with as much again.
package quote

import "strconv"

// MaxRunes is how much of a value Bounded shows.
const MaxRunes = 100

// Bounded quotes s in Go syntax (so a control character cannot break the
// line it is shown on), cut after MaxRunes runes with an ellipsis.
func Bounded(s string) string { return Cut(s, MaxRunes) }

// Cut is Bounded cut after max runes: a short message (a row of a CSV
// report) shows less.
func Cut(s string, max int) string {
	n := 0
	for i := range s {
		if n == max {
			return strconv.Quote(s[:i] + "…")
		}
		n++
	}
	return strconv.Quote(s)
}
