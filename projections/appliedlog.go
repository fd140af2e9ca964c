package projections

import (
	"hash/maphash"
	"maps"
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
// What it remembers is recent: a head not moved for appliedLogHorizon is
// forgotten (whoever asks then checks the store), so under a steady load it
// holds what was applied in the last minute, not every stream ever seen.
type AppliedLog struct {
	mu    sync.Mutex
	size  int
	heads map[logKey]logHead
	// moves are the heads' moves in the order they were made, from
	// moves[first] on: every head's last move is among them, and the moves
	// made stale by a later one (or by forgetting) are passed over as they
	// come, or dropped together once they outnumber the heads (compact).
	// A map and a list of moves hold a head in about 100 bytes, where a
	// linked LRU's entries took some 135.
	moves []logMove
	first int
	moved uint64 // moves made, the last one's number
	// headsPeak is the most heads held at once since heads was made (see
	// compact).
	headsPeak int
	waiters   map[logKey][]*logWaiter
	// waitersPeak is the most streams waited for at once since waiters
	// was made (see dropWaiters).
	waitersPeak int
	fillers     map[string]GapFiller
	now         func() time.Time
}

// logMove is a head's move: its key, when it was made, and its number
// (two moves may share a clock's reading).
type logMove struct {
	key logKey
	at  int64
	n   uint64
}

// logHead is a stream's head and the number of its last move, made at a
// time its logMove keeps (Unix nanoseconds: a wall clock set back keeps
// heads longer, one set forward forgets them sooner, and either only sends
// whoever asks to the store).
type logHead struct {
	version int64
	move    uint64
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

// AppliedLogSize bounds the heads remembered (one per projection and
// stream): the hot set of a busy cohort.
const AppliedLogSize = 50000

// appliedLogHorizon is how long a head is remembered after it last moved.
// Those who ask are a read or a write waiting for a commit just written
// (seconds at most) and the catch-up, which trails the bus by a second or
// two: a minute is ample for both. Each new stream adds a head for every
// projection, so without it the log grew with the data until it was full.
const appliedLogHorizon = time.Minute

// NewAppliedLog returns an empty log of what the projections given apply,
// remembering AppliedLogSize heads.
func NewAppliedLog(ps ...Projection) *AppliedLog { return NewAppliedLogOf(AppliedLogSize, ps...) }

// NewAppliedLogOf is NewAppliedLog remembering size heads.
func NewAppliedLogOf(size int, ps ...Projection) *AppliedLog {
	l := &AppliedLog{size: max(size, 1), heads: map[logKey]logHead{}, waiters: map[logKey][]*logWaiter{}, fillers: map[string]GapFiller{}, now: time.Now}
	for _, p := range ps {
		if f, ok := p.(GapFiller); ok {
			l.fillers[p.Name()] = f
		}
	}
	return l
}

// logKey names a projection's stream in the log by 128 bits of two seeded
// hashes of the pair rather than by the pair: a full log holds 50,000
// heads, and a key of its own string for each (the projection's name and
// the stream's id, some 60 bytes) was a third of the service's live heap
// after a cohort's import. Two pairs share a key with a chance of about
// 2^-97 in a full log, far below any failure of the machine it runs on.
type logKey struct{ lo, hi uint64 }

var logSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

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
	key, v := keyOf(projection, c.StreamID), c.LastVersion()
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now().UnixNano()
	l.forgetBefore(now - int64(appliedLogHorizon))
	head := l.heads[key]
	if head.version >= v {
		return
	}
	if f := l.fillers[projection]; c.FirstVersion > head.version+1 && (f == nil || !f.FillsGaps(c.StreamType)) {
		return
	}
	l.move(key, v, now)
	ws := l.waiters[key]
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
		l.dropWaiters(key)
	} else {
		l.waiters[key] = kept
	}
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

// move sets key's head to version, as its latest move, made at time at,
// forgetting the head moved longest ago if the log then holds more than
// its size.
func (l *AppliedLog) move(key logKey, version, at int64) {
	l.moved++
	l.heads[key] = logHead{version: version, move: l.moved}
	l.moves = append(l.moves, logMove{key: key, at: at, n: l.moved})
	l.headsPeak = max(l.headsPeak, len(l.heads))
	if len(l.heads) > l.size {
		l.forgetOldest()
	}
	if stale := len(l.moves) - l.first - len(l.heads); stale > len(l.heads)+movesCompactAt {
		l.compact()
	}
}

// movesCompactAt is how many stale moves beyond one per head make the
// list of moves worth compacting.
const movesCompactAt = 1024

// current reports whether m is its head's last move.
func (l *AppliedLog) current(m logMove) bool {
	h, ok := l.heads[m.key]
	return ok && h.move == m.n
}

// forgetOldest forgets the head whose last move is the oldest.
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

// forgetBefore forgets the heads last moved before t. Moves are listed in
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
// their size; and once the heads are under a quarter of their peak, it
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
	key := keyOf(projection, streamID)
	l.mu.Lock()
	defer l.mu.Unlock()
	head, ok := l.heads[key]
	return ok && head.version >= version
}

// Notify arranges for wake to receive (without blocking: wake should have
// room for one) once projection applies the stream up to version. Notify
// before checking Has, so that nothing applied in between is missed. The
// returned function gives the wait up.
func (l *AppliedLog) Notify(projection, streamID string, version int64, wake chan<- struct{}) (cancel func()) {
	key := keyOf(projection, streamID)
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
