package mongo

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
