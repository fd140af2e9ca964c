// Package rebuild refills read models from the event store while the live
// ones keep serving: each projection folds every stored commit into a fresh
// collection, then either every process is switched over to it (and what
// was appended meanwhile is applied again: projections are idempotent) or,
// to verify, it is compared with the live one and dropped.
//
// It knows the projections and the commits, not the database: where read
// models live, how a fresh collection is made and how every process learns
// of a switch are the [Store]'s, implemented on MongoDB in infra/mongo.
// [Background] runs one rebuild at a time for the admin API, within the
// service's lifetime.
package rebuild
