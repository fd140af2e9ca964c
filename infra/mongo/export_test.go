package mongo

import (
	"context"
	"runtime"
)

// SetHotLimit bounds how many documents of a hot read model memory holds,
// for a test of eviction; restore puts the bound back.
func SetHotLimit(collection string, n int) (restore func()) {
	was := hotLimits[collection]
	hotLimits[collection] = n
	return func() { hotLimits[collection] = was }
}

// AfterHotRead runs f between each read of the store and its fill of
// memory (nil: nothing).
func AfterHotRead(f func(id string)) (restore func()) {
	afterHotRead = f
	return func() { afterHotRead = nil }
}

// SetHotBytes bounds the encoded bytes memory holds of each hot read
// model; restore puts the bound back.
func SetHotBytes(n int) (restore func()) {
	was := hotBytes
	hotBytes = n
	return func() { hotBytes = was }
}

// HotHeld is how many documents, and how many encoded bytes, memory holds
// of a read model as r serves it now.
func HotHeld(ctx context.Context, r *ReadModels, logical string) (docs, bytes int) {
	c := r.hotColl(logical, r.coll(ctx, logical))
	if c == nil {
		return 0, 0
	}
	r.hot.mu.Lock()
	defer r.hot.mu.Unlock()
	return c.docs.Len(), c.bytes
}

// DieAfterClaim makes r's writer stop dead right after it claims a
// revision, as a projector killed at that moment does: the claim stays,
// the document is not written.
func DieAfterClaim(r *ReadModels) { r.afterClaim = runtime.Goexit }
