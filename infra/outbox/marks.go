package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MarksCollection holds what each projector process applied lately, until
// the catch-up's holder has read it (Marks).
const MarksCollection = "applied_marks"

// Marks tell the catch-up what the other projector processes applied.
// Replicas share the bus's subscriptions, so each applies part of the
// commits; the catch-up, run by one of them at a time, knew only what its
// own process applied (CatchUp.Applied), and loaded and delivered again
// every commit the others applied once its entry was MinAge old: some 40%
// of all commits with two replicas, a store read for each and one for
// each read model, all to change nothing.
//
// Each process notes the heads its projectors reach (Note) and writes
// them down a few times a second, one document each time (Run); the
// catch-up's holder reads those of the other processes at each sweep and
// deletes them (Refresh), and skips what they say is applied (Has) as it
// skips its own. A mark only says what a process applied to the shared
// read models: one written late, lost with its process, or read by a
// process that lost the lease meanwhile leaves the catch-up to deliver
// the commit again, idempotently, as it did before.
type Marks struct {
	coll     *mongo.Collection
	instance string
	log      *slog.Logger
	// names are the projections this process knows, by index; a mark
	// document lists its writer's, and a bit of a mark's mask is one of
	// those.
	names []string
	index map[string]int

	mu sync.Mutex
	// pending are the heads noted since the last write, by stream, one a
	// projection (0: none).
	pending map[string][]int64
	// known are the heads the other processes marked, by stream, in two
	// generations: a mark is kept for markKeep to twice that, long past the
	// sweep that needs it.
	known, older map[string][]int64
	turned       time.Time
	now          func() time.Time
	dropped      atomic.Int64 // marks not written (a failed write, or too many at once)
}

// markKeep is how long a mark read from another process is kept at least.
const markKeep = 30 * time.Second

// MarksEvery is how often a process writes its marks down: well within
// the catch-up's MinAge, so that what the bus delivered on time is marked
// before the catch-up looks at it.
const MarksEvery = 250 * time.Millisecond

// markStreamsAtOnce bounds the streams a process keeps marks of between
// two writes; past it, the marks of more are dropped (the catch-up then
// delivers those commits again).
const markStreamsAtOnce = 20000

// markDocsAtOnce bounds the mark documents one Refresh reads.
const markDocsAtOnce = 500

// marksDoc is one write of a process's marks.
type marksDoc struct {
	ID          string     `bson:"_id"`
	Instance    string     `bson:"instance"`
	Projections []string   `bson:"projections"`
	Marks       []markItem `bson:"marks"`
}

// markItem says that the projections of the mask (bits of the document's
// Projections) have applied the stream up to Head.
type markItem struct {
	Stream string `bson:"s"`
	Head   int64  `bson:"v"`
	Mask   uint64 `bson:"p"`
}

// NewMarks returns the marks of this process (instance), whose projectors
// are projections (at most 64), kept in db.
func NewMarks(db *mongo.Database, instance string, projections []string, log *slog.Logger) *Marks {
	m := &Marks{coll: db.Collection(MarksCollection), instance: instance, log: log, names: projections,
		index: map[string]int{}, pending: map[string][]int64{}, known: map[string][]int64{}, older: map[string][]int64{}, now: time.Now}
	for i, p := range projections[:min(len(projections), 64)] {
		m.index[p] = i
	}
	m.turned = m.now()
	return m
}

// Note records that projection has applied the stream up to head (every
// commit before too), for the next write. Safe for concurrent use.
func (m *Marks) Note(projection, streamID string, head int64) {
	i, ok := m.index[projection]
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	heads, ok := m.pending[streamID]
	if !ok {
		if len(m.pending) >= markStreamsAtOnce {
			m.dropped.Add(1)
			return
		}
		heads = make([]int64, len(m.names))
		m.pending[streamID] = heads
	}
	heads[i] = max(heads[i], head)
}

// Run writes the marks noted every interval until ctx ends.
func (m *Marks) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := m.Write(ctx); err != nil && ctx.Err() == nil {
			m.log.Debug("the marks of what this process applied are not written", "err", err)
		}
	}
}

// Write stores the marks noted since the last write, as one document.
// Marks that fail to be written are dropped, not kept for the next try:
// they are only a shortcut for the catch-up.
func (m *Marks) Write(ctx context.Context) error {
	m.mu.Lock()
	pending := m.pending
	if len(pending) > 0 {
		m.pending = make(map[string][]int64, len(pending))
	}
	m.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	doc := marksDoc{ID: m.instance + "/" + bson.NewObjectID().Hex(), Instance: m.instance, Projections: m.names,
		Marks: make([]markItem, 0, len(pending))}
	for stream, heads := range pending {
		// A stream's projections mostly reach one head: one item for
		// each head, with the projections at it.
		for i, h := range heads {
			if h == 0 {
				continue
			}
			mask := uint64(0)
			for j := i; j < len(heads); j++ {
				if heads[j] == h {
					mask |= 1 << j
					if j > i {
						heads[j] = 0
					}
				}
			}
			doc.Marks = append(doc.Marks, markItem{Stream: stream, Head: h, Mask: mask})
		}
	}
	if _, err := m.coll.InsertOne(ctx, doc); err != nil {
		m.dropped.Add(int64(len(pending)))
		return fmt.Errorf("write %d marks: %w", len(doc.Marks), err)
	}
	return nil
}

// Refresh reads the marks the other processes wrote since the last
// Refresh (of any process) and deletes them, keeping what they say for
// Has; this process's own marks are deleted unread (its CatchUp.Applied
// knows them). It is the catch-up's, called at the start of a sweep by
// the holder of its lease.
func (m *Marks) Refresh(ctx context.Context) error {
	cur, err := m.coll.Find(ctx, bson.D{}, options.Find().SetLimit(markDocsAtOnce))
	if err != nil {
		return fmt.Errorf("read the marks: %w", err)
	}
	var docs []marksDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("read the marks: %w", err)
	}
	if len(docs) == 0 {
		return nil
	}
	ids := make([]string, len(docs))
	m.mu.Lock()
	if now := m.now(); now.Sub(m.turned) >= markKeep {
		m.older, m.known, m.turned = m.known, map[string][]int64{}, now
	}
	for k, d := range docs {
		ids[k] = d.ID
		if d.Instance != m.instance {
			m.merge(d)
		}
	}
	m.mu.Unlock()
	if _, err := m.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		return fmt.Errorf("delete the marks read: %w", err)
	}
	return nil
}

// merge keeps the heads of a document's marks in known; m.mu is held.
func (m *Marks) merge(d marksDoc) {
	ours := make([]int, len(d.Projections)) // our index of each of the document's projections, -1 for none
	for j, p := range d.Projections {
		if i, ok := m.index[p]; ok {
			ours[j] = i
		} else {
			ours[j] = -1
		}
	}
	for _, mk := range d.Marks {
		heads, ok := m.known[mk.Stream]
		for j := range min(len(ours), 64) {
			if mk.Mask&(1<<j) == 0 || ours[j] < 0 {
				continue
			}
			if !ok {
				heads = make([]int64, len(m.names))
				m.known[mk.Stream], ok = heads, true
			}
			heads[ours[j]] = max(heads[ours[j]], mk.Head)
		}
	}
}

// Has reports whether another process marked projection as having applied
// the stream up to version. Nil Marks know of nothing.
func (m *Marks) Has(projection, streamID string, version int64) bool {
	if m == nil {
		return false
	}
	i, ok := m.index[projection]
	if !ok {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if heads, ok := m.known[streamID]; ok && heads[i] > 0 && heads[i] >= version {
		return true
	}
	heads, ok := m.older[streamID]
	return ok && heads[i] > 0 && heads[i] >= version
}

// Dropped is how many marks were not written (a failed write, or more
// streams at once than a write holds).
func (m *Marks) Dropped() int64 { return m.dropped.Load() }
