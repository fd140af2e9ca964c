// Package queries is the read side: it serves read models built by the
// projections and never reads the event store, except to fold a stream for a
// history or a past state (as of a time or a version).
package queries
