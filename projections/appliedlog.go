package projections

import (
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/capstone-pms/capstone/events"
)

// AppliedLog remembers how far this process's projectors have applied each
// stream, and wakes whoever waits for a version: a read or a write that must
// see a commit learns it at the moment the commit is projected, without
// polling the store. It knows only what this process projected recently;
// whoever waits still checks the store for the rest (Checker.Applied).
//
// A stream's head is the version up to which every commit is known applied,
// never just the last commit handled: a projection that does not fill gaps
// (see GapFiller) may handle a stream's later commit while an earlier one
// is lost, and the catch-up, which skips what the log says is applied,
// would never bring the earlier one.
//
// What it remembers is recent: a stream none of whose heads moved for
// appliedLogHorizon is forgotten (whoever asks then checks the store), so
// under a steady load it holds what was applied in the last minute, not
// every stream ever seen.
type AppliedLog struct {
	mu   sync.Mutex
	size int
	// heads are the streams' heads, every projection's of a stream in one
	// entry: every commit is handed to every projection, so a stream
	// recorded by one is recorded by all of them, and an entry each took
	// six times the room.
	heads map[logKey]logHead
	// moves are the streams' moves in the order they were made, from
	// moves[first] on: every stream's last move is among them, and the
	// moves made stale by a later one (or by forgetting) are passed over as
	// they come, or dropped together once they outnumber the streams
	// (compact). A map and a list of moves hold a stream's heads in some
	// 100 to 190 bytes, where an entry per projection and stream took 82
	// to 122 bytes each, six of them a stream.
	moves []logMove
	first int
	moved uint64 // moves made, the last one's number
	// headsPeak is the most streams held at once since heads was made
	// (see compact).
	headsPeak int
	waiters   map[logKey][]*logWaiter
	// waitersPeak is the most streams waited for at once since waiters
	// was made (see dropWaiters).
	waitersPeak int
	// projections are what the log knows of each projection: where its
	// heads are in a stream's entry, in the order the projections were
	// first given or recorded, and whether it fills gaps.
	projections map[string]logProjection
	now         func() time.Time
}

// logProjection is a projection as the log knows it.
type logProjection struct {
	slot   int
	filler GapFiller // nil: it fills no gaps
}

// logSlots is how many projections the log keeps heads of; the commits a
// projection past them applies are not remembered (whoever asks checks
// the store).
const logSlots = 8

// logMove is a head's move: its key, when it was made, and its number
// (two moves may share a clock's reading).
type logMove struct {
	key logKey
	at  int64
	n   uint64
}

// logHead is a stream's heads, one per projection (0: none; a version past
// 2^32 is not remembered), and the
// number of its last move, made at a time its logMove keeps (Unix
// nanoseconds: a wall clock set back keeps heads longer, one set forward
// forgets them sooner, and either only sends whoever asks to the store).
type logHead struct {
	versions [logSlots]uint32
	move     uint64
}

// GapFiller is a projection that applies a commit of a stream of the given
// type only with every earlier commit of that stream (it reads what it
// lacks from the store first): having applied one, it has applied them all.
// A Model is one for every stream; a Multi only for its broadcast streams
// (a student's overview folds a project's creation and nothing after it, so
// handling a project's edit says nothing of its creation).
type GapFiller interface {
	FillsGaps(streamType string) bool
}

// FillsGaps is true for a Model: it reads a gap in its stream from the
// store before it applies a commit, and a commit of another type has
// nothing to apply.
func (m *Model[D]) FillsGaps(string) bool { return true }

// FillsGaps is true for a Multi's broadcast streams only, which it follows
// with a checkpoint of its own; any other commit changes only the
// documents its events target.
func (m *Multi[D, PD]) FillsGaps(streamType string) bool {
	return slices.Contains(m.Broadcast, streamType)
}

type logWaiter struct {
	version int64
	wake    chan<- struct{}
}

// AppliedLogSize bounds the streams remembered (each with a head per
// projection): the hot set of a busy cohort, a few seconds of a cohort's
// import.
const AppliedLogSize = 16384

// appliedLogHorizon is how long a stream's heads are remembered after one
// last moved.
// Those who ask are a read or a write waiting for a commit just written
// (seconds at most) and the catch-up, which trails the bus by a second or
// two: a minute is ample for both. Each new stream adds heads, so without
// it the log grew with the data until it was full.
const appliedLogHorizon = time.Minute

// NewAppliedLog returns an empty log of what the projections given apply,
// remembering the heads of AppliedLogSize streams.
func NewAppliedLog(ps ...Projection) *AppliedLog { return NewAppliedLogOf(AppliedLogSize, ps...) }

// NewAppliedLogOf is NewAppliedLog remembering the heads of size streams.
func NewAppliedLogOf(size int, ps ...Projection) *AppliedLog {
	l := &AppliedLog{size: max(size, 1), heads: map[logKey]logHead{}, waiters: map[logKey][]*logWaiter{},
		projections: map[string]logProjection{}, now: time.Now}
	for _, p := range ps {
		if lp, ok := l.projection(p.Name()); ok {
			lp.filler, _ = p.(GapFiller)
			l.projections[p.Name()] = lp
		}
	}
	return l
}

// logKey names a stream (a head's) or a projection's stream (a waiter's)
// in the log by 128 bits of two seeded hashes rather than by its strings:
// a full log holds thousands of streams, and a key of its own string for
// each (the projection's name and the stream's id, some 60 bytes) was a
// third of the service's live heap after a cohort's import. Two share a
// key with a chance of about 2^-97 in a full log, far below any failure of
// the machine it runs on.
type logKey struct{ lo, hi uint64 }

var logSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// streamKey is a stream's key among the heads.
func streamKey(streamID string) logKey { return keyOf("", streamID) }

// waitKey is a projection's stream's key among the waiters.
func waitKey(projection, streamID string) logKey { return keyOf(projection, streamID) }

func keyOf(projection, streamID string) logKey {
	var h maphash.Hash
	sum := func(seed maphash.Seed) uint64 {
		h.SetSeed(seed)
		h.WriteString(projection)
		h.WriteByte(0)
		h.WriteString(streamID)
		return h.Sum64()
	}
	return logKey{sum(logSeeds[0]), sum(logSeeds[1])}
}

// Record notes that projection has applied commit c, waking those who wait
// for it. The stream's head moves to c only if every earlier commit is
// applied too: the head was just before c, or the projection fills gaps.
// Otherwise c is not remembered (whoever asks checks the store instead).
func (l *AppliedLog) Record(projection string, c events.Commit) {
	key, v := streamKey(c.StreamID), c.LastVersion()
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UnixNano()
	l.forgetBefore(now - int64(appliedLogHorizon))
	p, ok := l.projection(projection)
	if !ok {
		return
	}
	head := l.heads[key]
	applied := int64(head.versions[p.slot])
	if applied >= v || v > math.MaxUint32 {
		return
	}
	if c.FirstVersion > applied+1 && (p.filler == nil || !p.filler.FillsGaps(c.StreamType)) {
		return
	}
	head.versions[p.slot] = uint32(v)
	l.move(key, head, now)
	wk := waitKey(projection, c.StreamID)
	ws := l.waiters[wk]
	kept := ws[:0]
	for _, w := range ws {
		if w.version <= v {
			select {
			case w.wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		} else {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		l.dropWaiters(wk)
	} else {
		l.waiters[wk] = kept
	}
}

// projection is what the log knows of projection, given the next slot
// the first time it is asked for; ok is false once every slot is taken.
func (l *AppliedLog) projection(name string) (logProjection, bool) {
	if p, ok := l.projections[name]; ok {
		return p, true
	}
	if len(l.projections) == logSlots {
		return logProjection{}, false
	}
	p := logProjection{slot: len(l.projections)}
	l.projections[name] = p
	return p, true
}

// waitersShrinkAt is how many streams waited for at once make the waiters'
// map worth replacing once nobody waits: a Go map keeps the room it grew to.
const waitersShrinkAt = 1024

// dropWaiters forgets the waiters of key. A map never gives back the room
// it grew to, and an allocation's answer waits for every placed student's
// documents at once (some 15,000 streams and projections for a cohort of
// 5,000, about 7 MiB of room): once nobody waits after such a peak, the map
// is replaced by an empty one.
func (l *AppliedLog) dropWaiters(key logKey) {
	delete(l.waiters, key)
	if len(l.waiters) == 0 && l.waitersPeak >= waitersShrinkAt {
		l.waiters, l.waitersPeak = map[logKey][]*logWaiter{}, 0
	}
}

// move sets key's heads to head, as its latest move, made at time at,
// forgetting the stream moved longest ago if the log then holds more than
// its size.
func (l *AppliedLog) move(key logKey, head logHead, at int64) {
	l.moved++
	head.move = l.moved
	l.heads[key] = head
	l.moves = append(l.moves, logMove{key: key, at: at, n: l.moved})
	l.headsPeak = max(l.headsPeak, len(l.heads))
	if len(l.heads) > l.size {
		l.forgetOldest()
	}
	if stale := len(l.moves) - l.first - len(l.heads); stale > len(l.heads)+movesCompactAt {
		l.compact()
	}
}

// movesCompactAt is how many stale moves beyond one per stream make the
// list of moves worth compacting.
const movesCompactAt = 1024

// current reports whether m is its stream's last move.
func (l *AppliedLog) current(m logMove) bool {
	h, ok := l.heads[m.key]
	return ok && h.move == m.n
}

// forgetOldest forgets the stream whose last move is the oldest.
func (l *AppliedLog) forgetOldest() {
	for ; l.first < len(l.moves); l.first++ {
		if m := l.moves[l.first]; l.current(m) {
			delete(l.heads, m.key)
			l.first++
			break
		}
	}
	l.compactIfPassed()
}

// forgetBefore forgets the streams last moved before t. Moves are listed in
// the order they were made, so it stops at the first one to keep.
func (l *AppliedLog) forgetBefore(t int64) {
	for ; l.first < len(l.moves) && l.moves[l.first].at < t; l.first++ {
		if m := l.moves[l.first]; l.current(m) {
			delete(l.heads, m.key)
		}
	}
	l.compactIfPassed()
}

// compactIfPassed compacts the moves once most of the list has been passed.
func (l *AppliedLog) compactIfPassed() {
	if l.first > movesCompactAt && l.first > len(l.moves)/2 {
		l.compact()
	}
}

// compact keeps only the current moves, in their order, in a list of
// their size; and once the streams are under a quarter of their peak, it
// moves them to a map of their size too: a map keeps the room it grew to,
// some 3 MiB after a cohort's import, for as long as it lives.
func (l *AppliedLog) compact() {
	kept := make([]logMove, 0, len(l.heads))
	for _, m := range l.moves[l.first:] {
		if l.current(m) {
			kept = append(kept, m)
		}
	}
	l.moves, l.first = kept, 0
	if l.headsPeak >= movesCompactAt && len(l.heads) < l.headsPeak/4 {
		l.heads, l.headsPeak = maps.Clone(l.heads), len(l.heads)
	}
}

// Has reports whether projection is known to have applied the stream up to
// version. A head past the horizon that no record has made the log forget
// yet is still true: forgetting is for the log's size, and a read waiting
// for many commits asks at every commit applied, where reading the clock
// too would cost more than the answer.
func (l *AppliedLog) Has(projection, streamID string, version int64) bool {
	key := streamKey(streamID)
	l.mu.Lock()
	defer l.mu.Unlock()
	p, known := l.projections[projection]
	head, ok := l.heads[key]
	return known && ok && head.versions[p.slot] > 0 && int64(head.versions[p.slot]) >= version
}

// Notify arranges for wake to receive (without blocking: wake should have
// room for one) once projection applies the stream up to version. Notify
// before checking Has, so that nothing applied in between is missed. The
// returned function gives the wait up.
func (l *AppliedLog) Notify(projection, streamID string, version int64, wake chan<- struct{}) (cancel func()) {
	key := waitKey(projection, streamID)
	w := &logWaiter{version: version, wake: wake}
	l.mu.Lock()
	l.waiters[key] = append(l.waiters[key], w)
	l.waitersPeak = max(l.waitersPeak, len(l.waiters))
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.waiters[key]
		if i := slices.Index(ws, w); i >= 0 {
			ws = slices.Delete(ws, i, i+1)
		}
		if len(ws) == 0 {
			l.dropWaiters(key)
		} else {
			l.waiters[key] = ws
		}
	}
}
