package mongo

import (
	"fmt"
	"hash/fnv"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/internal/keylock"
	"github.com/capstone-pms/capstone/projections"
)

// HotMode is how a process serves the hot read models (ReadModels.ServeHot).
type HotMode int

const (
	// HotOff reads every document from the store.
	HotOff HotMode = iota
	// HotTrusted serves the hot read models from memory without asking the
	// store: only for the one process that writes every read-model document
	// (the all-in-one service on the embedded store, whose data directory
	// no other process can open), so that memory, which takes each
	// document as it is written, is exactly the store.
	HotTrusted
	// HotValidated serves a document from memory only when the store's
	// revision of it, asked with one lookup by _id of that field alone, is
	// the one held: for API replicas apart from the projectors, whose
	// memory other processes' writes leave behind. Lists go to the store.
	HotValidated
)

// hotLimits are the hot read models and how many documents of each are
// held: the supervisors whole (staff: a few hundred; the list is served
// from memory only while none was ever evicted), the others the most
// recently used (a cohort's students, users and projects grow with it).
var hotLimits = map[string]int{
	projections.CollSupervisors: 4096,
	projections.CollStudents:    8192,
	projections.CollUsers:       8192,
	projections.CollProjects:    8192,
}

// hotBytes bounds the encoded documents held of each hot read model, the
// least recently used going first (each is held about twice: encoded, and
// decoded once for copies). A project may be some 20 KB (a description
// of 10,000 characters, an aim and a rationale of 4,000): the bound, not
// the count, is what keeps memory small when documents are large. A
// cohort's usual documents, under 1 KB, fit by the thousand.
var hotBytes = 6 << 20

// hotDocs holds documents of the hot read models as the store holds them:
// the encoded document and its revision, by physical collection (a
// rebuild's switch leaves the old collection's entries unused, and its
// drop removes them).
//
// Every write of a document through ReadModels.Store replaces it here
// after the store has taken it, under the document's lock, so two writes
// of one document land here in the order the store took them. A document
// read from the store is added only if no write of its stripe (of 64, by a
// hash of the id) happened since the read began (gens), so an older read
// never replaces a newer write, even one evicted meanwhile.
//
// The locks are by document (keylock), not by stripe: a batch of a
// hundred documents (a commit of capacities) held most of 64 stripe locks
// across its write, and an allocation's all of them, and every other
// write of a hot read model in the process waited behind it.
type hotDocs struct {
	mu     sync.Mutex
	used   bool
	colls  map[string]*hotColl
	epochs uint64 // hotColls made, each one's epoch (version)
}

type hotColl struct {
	locks *keylock.Locks // by id, held across a write to the store and here
	docs  *simplelru.LRU[string, *hotDoc]
	limit int
	bytes int        // encoded size of the documents held
	gens  [64]uint64 // writes per stripe
	epoch uint64     // tells this memory of the collection from any before it
	// outgrown: when a load of the whole collection last found it larger
	// than memory holds. Lists are then the store's, and do not each read
	// the first limit documents again only to find it so (reloadOutgrown).
	outgrown time.Time
	// every is the id of every document of the collection (and perhaps of
	// some no longer there: a failed write's), once known (with the
	// documents when the collection is loaded whole, alone when it is
	// larger than memory holds), and kept by every write since: lists walk
	// it (ReadModels.walkHot). everySorted is it in order while no id
	// comes (nil otherwise), never changed once made. loading collects the
	// ids written while a load of every runs.
	every       map[string]struct{}
	everySorted []string
	loading     map[string]struct{}
	// unordered: the collection holds an _id that is not a string, which
	// memory does not order as the store does; its lists are the store's.
	unordered bool
}

// reloadOutgrown is how long after a read model was found larger than
// memory holds a list tries again to load it whole (it may have shrunk).
const reloadOutgrown = time.Minute

type hotDoc struct {
	raw     bson.Raw
	rev     int64
	decoded atomic.Pointer[decoded] // hotcopy.go
}

// decode decodes the document into into (decodeHot).
func (d *hotDoc) decode(into any) error { return decodeHot(d.raw, &d.decoded, into) }

func newHotDocs() *hotDocs { return &hotDocs{colls: map[string]*hotColl{}} }

// use marks the memory as served from (ReadModels.ServeHot): from then on
// every write keeps it current. (Until then, a process that
// never serves from it, a projector replica or a one-off command, keeps
// none.)
func (h *hotDocs) use() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.used = true
}

// hotRegistry shares one hotDocs between every ReadModels of a database
// handle in the process: a rebuild writes through a ReadModels of its
// own, and its writes must reach what the service serves. It holds the
// handle weakly: a closed service's memory goes with it.
var hotRegistry = struct {
	sync.Mutex
	m map[weak.Pointer[mongo.Database]]*hotDocs
}{m: map[weak.Pointer[mongo.Database]]*hotDocs{}}

func hotFor(db *mongo.Database) *hotDocs {
	key := weak.Make(db)
	hotRegistry.Lock()
	defer hotRegistry.Unlock()
	if h, ok := hotRegistry.m[key]; ok {
		return h
	}
	h := newHotDocs()
	hotRegistry.m[key] = h
	runtime.AddCleanup(db, func(k weak.Pointer[mongo.Database]) {
		hotRegistry.Lock()
		delete(hotRegistry.m, k)
		hotRegistry.Unlock()
	}, key)
	return h
}

func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 64)
}

// coll returns the documents of a physical collection of the hot read
// model logical, nil when logical is not hot.
func (h *hotDocs) coll(logical, physical string) *hotColl {
	limit, ok := hotLimits[logical]
	if !ok {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.used {
		return nil
	}
	c := h.colls[physical]
	if c == nil {
		h.epochs++
		c = &hotColl{locks: keylock.New(), limit: limit, epoch: h.epochs}
		c.docs, _ = simplelru.NewLRU(limit, func(_ string, d *hotDoc) {
			c.bytes -= len(d.raw)
		})
		h.colls[physical] = c
	}
	return c
}

// lock takes the lock of document id of c, held across its write to the
// store and here.
func (h *hotDocs) lock(c *hotColl, id string) keylock.Held { return c.locks.Lock(id) }

// lockAll takes the locks of several documents about to be written at
// once, and returns what releases them. With c nil (a read model memory
// does not hold) it takes none.
func (h *hotDocs) lockAll(c *hotColl, docs []projections.StoredDoc) (unlock func()) {
	if c == nil {
		return func() {}
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return c.locks.LockAll(ids)
}

// get returns the document held, if any.
func (h *hotDocs) get(c *hotColl, id string) (*hotDoc, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.docs.Get(id)
}

// lookup is get, and whether the collection is known not to hold the id
// at all: its every id is known (loaded whole or listed, and kept by every
// write since) and this one is not among them.
func (h *hotDocs) lookup(c *hotColl, id string) (d *hotDoc, held, absent bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d, held = c.docs.Get(id); held {
		return d, true, false
	}
	if c.every == nil || c.unordered {
		return nil, false, false
	}
	_, known := c.every[id]
	return nil, false, !known
}

// peek returns the document held, if any, leaving how recently it was
// used as it was (a list's walk).
func (h *hotDocs) peek(c *hotColl, id string) (*hotDoc, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.docs.Peek(id)
}

// gen is the count of writes to id's stripe, taken before a read of the
// store whose result may be added (fill).
func (h *hotDocs) gen(c *hotColl, id string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.gens[stripe(id)]
}

// fill adds a document read from the store, unless a write of its stripe
// happened since gen was taken.
func (h *hotDocs) fill(c *hotColl, id string, gen uint64, raw bson.Raw) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.gens[stripe(id)] == gen {
		c.add(id, raw)
	}
}

// written records a document the store has just taken (the caller holds
// its lock).
func (h *hotDocs) written(c *hotColl, id string, raw bson.Raw) {
	if c == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.gens[stripe(id)]++
	c.add(id, raw)
}

// add holds a document (the caller holds h.mu), replacing what was held of
// it, and evicts the least recently used while over hotBytes.
func (c *hotColl) add(id string, raw bson.Raw) {
	if old, ok := c.docs.Peek(id); ok {
		c.bytes -= len(old.raw)
	}
	c.known(id)
	c.docs.Add(id, &hotDoc{raw: raw, rev: revOf(raw)})
	c.bytes += len(raw)
	for c.bytes > hotBytes && c.docs.Len() > 1 {
		c.docs.RemoveOldest()
	}
}

// known records that the collection holds a document id (the caller holds
// h.mu): in every, once loaded, and in what a load of every running adds.
func (c *hotColl) known(id string) {
	if c.every != nil {
		if _, ok := c.every[id]; !ok {
			c.every[id] = struct{}{}
			c.everySorted = nil
		}
	}
	if c.loading != nil {
		c.loading[id] = struct{}{}
	}
}

// everyIDs returns the id of every document of the collection in order,
// once loaded (loadEvery). What it returns is never changed.
func (h *hotDocs) everyIDs(c *hotColl) ([]string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.every == nil || c.unordered {
		return nil, false
	}
	if c.everySorted == nil {
		c.everySorted = slices.Sorted(maps.Keys(c.every))
	}
	return c.everySorted, true
}

// sample returns up to n of the documents held, the most recently used.
func (h *hotDocs) sample(c *hotColl, n int) []*hotDoc {
	h.mu.Lock()
	defer h.mu.Unlock()
	docs := c.docs.Values() // least recently used first
	return docs[max(0, len(docs)-n):]
}

// startEvery begins a load of every id; false when one is loaded or
// loading already.
func (h *hotDocs) startEvery(c *hotColl) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.every != nil || c.loading != nil || c.unordered {
		return false
	}
	c.loading = map[string]struct{}{}
	return true
}

// finishEvery ends a load of every id begun by startEvery: the ids the
// store listed, and those written meanwhile (written before the listing
// read them or after, they are in the store). With ok false (the listing
// failed) nothing is kept and a later list loads again.
func (h *hotDocs) finishEvery(c *hotColl, listed []string, ok, unordered bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.unordered = c.unordered || unordered
	if ok && !unordered {
		every := c.loading
		for _, id := range listed {
			every[id] = struct{}{}
		}
		c.every = every
	}
	c.loading = nil
}

// forget drops a document whose write failed: the store may or may not
// have taken it, so its id is known (a list that finds it absent drops
// it, gone), and a load reads it from the store.
func (h *hotDocs) forget(c *hotColl, id string) {
	if c == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.gens[stripe(id)]++
	c.docs.Remove(id)
	c.known(id)
}

// fillPage adds the documents of a list read from the store, each unless
// a write of its stripe happened since gens were taken (gensOf, before
// the read).
func (h *hotDocs) fillPage(c *hotColl, gens [64]uint64, page []*hotDoc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range page {
		id, ok := d.raw.Lookup("_id").StringValueOK()
		if ok && c.gens[stripe(id)] == gens[stripe(id)] {
			c.add(id, d.raw)
		}
	}
}

// gensOf snapshots every stripe's count, before a read of the whole collection.
func (h *hotDocs) gensOf(c *hotColl) [64]uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.gens
}

// fillAll adds the whole collection as read from the store, and its ids,
// unless anything was written meanwhile (then the caller reads the store,
// and the next read tries again).
func (h *hotDocs) fillAll(c *hotColl, gens [64]uint64, docs []bson.Raw) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.gens != gens {
		return
	}
	if len(docs) > c.limit {
		c.outgrown = time.Now()
		return
	}
	for _, raw := range docs {
		if _, ok := raw.Lookup("_id").StringValueOK(); !ok { // not ordered as the store orders it
			c.outgrown, c.unordered = time.Now(), true
			return
		}
	}
	every := map[string]struct{}{}
	for _, raw := range docs {
		id, _ := raw.Lookup("_id").StringValueOK()
		c.add(id, raw)
		every[id] = struct{}{}
	}
	if c.every == nil {
		c.every, c.everySorted = every, nil
	}
	if c.docs.Len() < len(docs) { // more bytes than memory holds
		c.outgrown = time.Now()
	}
}

// outgrown reports whether the collection was found larger than memory
// holds within reloadOutgrown, or has more ids than memory holds documents
// (a read model's documents are never deleted: it only grows).
func (h *hotDocs) outgrown(c *hotColl) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(c.every) > c.limit || !c.outgrown.IsZero() && time.Since(c.outgrown) < reloadOutgrown
}

// missing is how many documents of the collection memory does not hold,
// once their ids are known (ok false before): none when it holds it
// whole. Every document held has its id among the known ones.
func (h *hotDocs) missing(c *hotColl) (n int, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return c.missing()
}

func (c *hotColl) missing() (int, bool) {
	if c.every == nil || c.unordered {
		return 0, false
	}
	return len(c.every) - c.docs.Len(), true
}

// gone drops from the known ids one the store does not hold (a failed
// write's), unless a write of it came in meanwhile and memory holds it.
func (h *hotDocs) gone(c *hotColl, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, held := c.docs.Peek(id); !held && c.every != nil {
		delete(c.every, id)
		c.everySorted = nil
	}
}

// version names the state of a collection held whole: every write and
// every forgotten document counts in gens, which only grow, and a
// collection not held whole (an eviction) has none.
func (h *hotDocs) version(c *hotColl) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if missing, ok := c.missing(); !ok || missing > 0 {
		return "", false
	}
	var writes uint64
	for _, g := range c.gens {
		writes += g
	}
	return fmt.Sprintf("%d.%d", c.epoch, writes), true
}

// drop forgets a physical collection (dropped, or no longer live).
func (h *hotDocs) drop(physical string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.colls, physical)
}
