package commands

// StateCacheSize is stateCacheSize, for the tests that fill the cache.
const StateCacheSize = stateCacheSize
