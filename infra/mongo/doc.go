// Package mongo implements the ports of commands, projections and queries on
// MongoDB (Atlas, a replica set, or the embedded FerretDB store) through the
// official Go driver.
//
// Every hot path is a lookup by _id, the only filter the embedded store
// serves from an index: a commit's _id is its stream and first version, so a
// stream is read by walking commit ids, and appending is one insert whose
// duplicate-key error is the optimistic-concurrency check (all or nothing,
// without transactions).
package mongo
