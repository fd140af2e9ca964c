// Package commands is the write model. Each aggregate is a decider (pure Decide
// and Evolve functions in its own subpackage); Execute is the one command path
// they all go through: load the stream, fold it, decide, append the new events
// with the version that was read (optimistic concurrency), then hand the
// commit to the publisher.
//
// The package owns the ports it needs (EventStore, SnapshotStore, Publisher,
// Credentials); infra implements them. Rules that span aggregates, such as a
// unique e-mail, are use cases in this package built from single-stream
// appends, so they hold under concurrent requests to several API processes
// without multi-document transactions.
package commands
