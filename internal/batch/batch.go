// Package batch takes work that queued up together, so that one write
// serves many: the commits of concurrent commands in one insert (the event
// store's appender), their outbox reservations in one document (the
// outbox), and a stream's commits queued at a projector in one read-model
// write (the bus consumer). It never waits for more to arrive: a lone item
// is handled at once, and under load the batches grow by themselves.
package batch

// Take returns first and whatever else is waiting in queue right now, up to
// max items in all (at least first). It stops early at a closed queue.
func Take[T any](first T, queue <-chan T, max int) []T {
	batch := []T{first}
	for len(batch) < max {
		select {
		case item, ok := <-queue:
			if !ok {
				return batch
			}
			batch = append(batch, item)
		default:
			return batch
		}
	}
	return batch
}
