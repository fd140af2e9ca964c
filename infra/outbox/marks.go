package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MarksCollection holds the commits each projector process applied lately,
// until the catch-up's holder has read them (Marks).
const MarksCollection = "applied_marks"

// Marks tell the catch-up what the projector processes applied.
// Replicas share the bus's subscriptions, so each applies part of the
// commits; the catch-up, run by one of them at a time, knew only what its
// own process applied (CatchUp.Applied), and loaded and delivered again
// every commit the others applied once its entry was MinAge old: some 27%
// of all commits with two replicas, a store read for each and one for each
// read model, all to change nothing.
//
// Each process notes the commits its projectors apply (Note) and writes
// them down a few times a second, one document each time (Run); the
// catch-up's holder reads them at each sweep and deletes them (Refresh),
// and skips what they say is applied (Has) as it skips what its own
// process's applied log knows. A mark is of one commit, not of a stream's
// head: a projection that fills no gaps (the students' and supervisors'
// documents, for most streams) applies a commit whatever the process that
// applied the one before, and the catch-up asks of each commit. A mark
// only says what a process applied to the shared read models: one written
// late, lost with its process, or read by a process that lost the lease
// meanwhile leaves the catch-up to deliver the commit again, idempotently,
// as it did before.
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
	// pending are the commits applied since the last write, each with the
	// projections that applied it (a bit each, by index in names).
	pending map[markKey]uint64
	// known are the commits the processes marked, in two generations: a mark is kept for markKeep to twice that, long past the
	// sweep that needs it.
	known, older map[markKey]uint64
	turned       time.Time
	now          func() time.Time
}

// markKey is a commit, by its stream and first version (as its id says).
type markKey struct {
	stream string
	first  int64
}

// markKeep is how long a mark read is kept at least.
const markKeep = 30 * time.Second

// MarksEvery is how often a process writes its marks down: well within
// the catch-up's MinAge, so that what the bus delivered on time is marked
// before the catch-up looks at it.
const MarksEvery = 250 * time.Millisecond

// markCommitsAtOnce bounds the commits a process keeps marks of between
// two writes; past it, the marks of more are dropped (the catch-up then
// delivers those commits again).
const markCommitsAtOnce = 20000

// markDocsAtOnce bounds the mark documents one Refresh reads.
const markDocsAtOnce = 500

// marksDoc is one write of a process's marks.
type marksDoc struct {
	ID          string     `bson:"_id"` // the writer's instance, then a unique suffix
	Projections []string   `bson:"projections"`
	Marks       []markItem `bson:"marks"`
}

// markItem says that the projections of the mask (bits of the document's
// Projections) have applied the commit of the stream from First on.
type markItem struct {
	Stream string `bson:"s"`
	First  int64  `bson:"v"`
	Mask   uint64 `bson:"p"`
}

// NewMarks returns the marks of this process (instance), whose projectors
// are projections (the first 64 of them), kept in db.
func NewMarks(db *mongo.Database, instance string, projections []string, log *slog.Logger) *Marks {
	m := &Marks{coll: db.Collection(MarksCollection), instance: instance, log: log, names: projections,
		index: map[string]int{}, pending: map[markKey]uint64{}, known: map[markKey]uint64{}, older: map[markKey]uint64{}, now: time.Now}
	for i, p := range projections[:min(len(projections), 64)] {
		m.index[p] = i
	}
	m.turned = m.now()
	return m
}

// Note records that projection has applied the stream's commit from
// version first on, for the next write. Safe for concurrent use.
func (m *Marks) Note(projection, streamID string, first int64) {
	i, ok := m.index[projection]
	if !ok {
		return
	}
	k := markKey{streamID, first}
	m.mu.Lock()
	defer m.mu.Unlock()
	mask, ok := m.pending[k]
	if !ok && len(m.pending) >= markCommitsAtOnce {
		return
	}
	m.pending[k] = mask | 1<<i
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
		m.pending = make(map[markKey]uint64, len(pending))
	}
	m.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	doc := marksDoc{ID: m.instance + "/" + bson.NewObjectID().Hex(), Projections: m.names,
		Marks: make([]markItem, 0, len(pending))}
	for k, mask := range pending {
		doc.Marks = append(doc.Marks, markItem{Stream: k.stream, First: k.first, Mask: mask})
	}
	if _, err := m.coll.InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("write %d marks: %w", len(doc.Marks), err)
	}
	return nil
}

// Refresh reads the marks every process wrote since the last Refresh (of
// any process) and deletes them, keeping what they say for Has. This
// process's own are kept too: its applied log knows a stream only up to
// the head its projectors reached without a gap, and a projection that
// fills no gaps applies a stream's later commit when another process
// applied the one before. It is the catch-up's, called at the start of a
// sweep by the holder of its lease.
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
		m.older, m.known, m.turned = m.known, map[markKey]uint64{}, now
	}
	for k, d := range docs {
		ids[k] = d.ID
		m.merge(d)
	}
	m.mu.Unlock()
	if _, err := m.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
		return fmt.Errorf("delete the marks read: %w", err)
	}
	return nil
}

// merge keeps a document's marks in known, in this process's projections'
// bits; m.mu is held.
func (m *Marks) merge(d marksDoc) {
	ours := make([]uint64, min(len(d.Projections), 64)) // our bit of each of the document's projections, 0 for none
	for j := range ours {
		if i, ok := m.index[d.Projections[j]]; ok {
			ours[j] = 1 << i
		}
	}
	for _, mk := range d.Marks {
		var mask uint64
		for j, bit := range ours {
			if mk.Mask&(1<<j) != 0 {
				mask |= bit
			}
		}
		if mask != 0 {
			k := markKey{mk.Stream, mk.First}
			m.known[k] |= mask
		}
	}
}

// Has reports whether a process (this one too) marked projection as having
// applied the stream's commit from version first on. Nil Marks know of
// nothing.
func (m *Marks) Has(projection, streamID string, first int64) bool {
	if m == nil {
		return false
	}
	i, ok := m.index[projection]
	if !ok {
		return false
	}
	k := markKey{streamID, first}
	m.mu.Lock()
	defer m.mu.Unlock()
	return (m.known[k]|m.older[k])&(1<<i) != 0
}
