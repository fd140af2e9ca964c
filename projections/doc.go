// Package projections builds the read models from commits delivered by the bus.
//
// Delivery is at-least-once and, across streams, unordered: a projection keeps
// in each read-model document the version of the stream it has folded, skips
// a commit it has already applied, and fills a gap (a commit that arrives
// before the one it follows) by reading the missing commits from the event
// store. So any interleaving, duplication or reordering of deliveries ends in
// the same documents as a rebuild from the store.
package projections
