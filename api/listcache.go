package api

import "sync"

// pageCache holds the encoded pages of one list while the read model
// behind it stays at one version (queries.ListVersions): the supervisors
// list, which every student of a cohort opens at once when choices open,
// is then encoded once per change rather than once per request. Only one
// version is held; a page is keyed by its query (cursor and limit).
type pageCache struct {
	mu      sync.Mutex
	version string
	pages   map[string][]byte
}

// maxCachedPages bounds the pages held of one version.
const maxCachedPages = 256

func (c *pageCache) get(version, query string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return nil, false
	}
	b, ok := c.pages[query]
	return b, ok
}

// put holds a page encoded at version or later (the read model only moves
// on, and a version it has left is never asked for again).
func (c *pageCache) put(version, query string, page []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version || c.pages == nil {
		c.version, c.pages = version, map[string][]byte{}
	}
	if len(c.pages) < maxCachedPages {
		c.pages[query] = page
	}
}
