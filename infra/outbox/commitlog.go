package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// LogCollection holds the commit log: every commit id that may have been
// appended, in entries at dense positions 1, 2, 3, ...
const LogCollection = "commit_log"

// The commit log is how a projector learns what the event store holds that
// its read models may lack, without scanning the events collection (the
// embedded store answers only exact _id lookups from an index). The outbox
// writes one entry per group of reservations, before their commits are
// appended, so every stored commit is in the log; an id whose append failed
// is there too and is simply never found in the store.
//
// Positions are dense by construction: an entry is written with an insert
// of _id "log:<position>" at the position after the last one its writer has
// seen taken, and a writer that finds it taken (another process wrote it)
// moves on to the next. A position is taken only by an insert that
// succeeded, so entry n+1 exists only if entry n did before it: a reader
// that finds a position missing has reached the end of the log, and reads
// it on by _id, never by a range. Entries are not changed once written.
//
// The log is trimmed of what every reader has passed (Trim): a document
// "trim" records the position up to which entries may be gone, written
// before any of them is deleted, so the log is dense from there on. A
// writer whose next position is stale (it was slow, or looked for the end
// while entries were being deleted) may take a position trimmed away,
// where no reader looks: so every writer reads the trim after its insert
// and, if its entry is at or before it, deletes it and looks for the end.

// logEntry is one entry of the commit log.
type logEntry struct {
	ID        string    `bson:"_id"`
	CommitIDs []string  `bson:"commit_ids"`
	CreatedAt time.Time `bson:"created_at"`
}

func logID(pos int64) string { return fmt.Sprintf("log:%012d", pos) }

// trimID is the id of the log's trim document.
const trimID = "trim"

// trimDoc records how far the log is trimmed: entries at or before
// Position may be gone, those at or before Deleted are (a trim that failed
// half-way is finished by the next one).
type trimDoc struct {
	ID       string `bson:"_id"`
	Position int64  `bson:"position"`
	Deleted  int64  `bson:"deleted"`
}

// CommitLog appends entries to the log and reads them back by position.
type CommitLog struct {
	Coll *mongo.Collection
	// Sole: this process is the log's only writer (the store is its
	// alone). Its next position is then always the end, past any trim,
	// which trims only what its readers read: an append need not read the
	// trim's mark to know it did not land in the trimmed part.
	Sole bool

	mu   sync.Mutex
	next int64 // the position to try next; 0 until the tail is found

	// afterInsert, in tests, runs right after an entry is inserted, before
	// the append looks at the trim.
	afterInsert func(pos int64)
}

// NewCommitLog returns the log in db.
func NewCommitLog(db *mongo.Database) *CommitLog {
	return &CommitLog{Coll: db.Collection(LogCollection)}
}

// Append writes an entry with the ids at the next free position and returns
// it. Concurrent callers in one process take turns (the outbox has one
// writer); other processes race by insert.
func (l *CommitLog) Append(ctx context.Context, ids []string, now time.Time) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for taken := 0; ; taken++ {
		if l.next == 0 || taken > 8 { // not known yet, or far behind the other writers: find the end
			tail, err := l.Tail(ctx)
			if err != nil {
				return 0, err
			}
			l.next, taken = tail+1, 0
		}
		pos := l.next
		_, err := l.Coll.InsertOne(ctx, logEntry{ID: logID(pos), CommitIDs: ids, CreatedAt: now.UTC()})
		if mongo.IsDuplicateKeyError(err) {
			l.next++
			continue
		}
		if err != nil {
			return 0, err // the position stays free (or, if the insert landed after all, is taken: a retry moves on)
		}
		if l.afterInsert != nil {
			l.afterInsert(pos)
		}
		if l.Sole {
			l.next = pos + 1
			return pos, nil
		}
		t, err := l.trim(ctx)
		if err != nil {
			return 0, err
		}
		if pos <= t.Position { // the mark has passed pos
			unread, err := l.unread(ctx, pos, t)
			if err != nil {
				return 0, err
			}
			if unread {
				if _, err := l.Coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: logID(pos)}}); err != nil {
					return 0, err
				}
				l.next = 0
				continue
			}
		}
		l.next = pos + 1
		return pos, nil
	}
}

// unread tells, of an entry just inserted at pos that the trim's mark t
// has passed, whether it lies where no reader will read it: inserted from a
// position long trimmed (a writer far behind), or into one a trim's delete
// pass had just freed. Otherwise a reader read it before the mark passed it
// (the mark only passes what every reader has read), and the trim's delete
// pass, under way or to come, removes it. The delete pass tells which: once
// it has passed pos, an entry it left there came after it. A pass that does
// not pass pos within trimPassWait (its trimmer died) counts as unread:
// the entry is appended again, which a reader may then read twice, never
// not at all.
func (l *CommitLog) unread(ctx context.Context, pos int64, t trimDoc) (bool, error) {
	deadline := time.Now().Add(trimPassWait)
	for t.Deleted < pos {
		if time.Now().After(deadline) {
			return true, nil
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return false, ctx.Err()
		}
		var err error
		if t, err = l.trim(ctx); err != nil {
			return false, err
		}
	}
	return l.exists(ctx, pos)
}

// trimPassWait bounds how long an append waits for a trim's delete pass to
// pass its entry (see unread): a pass deletes a few hundred entries.
const trimPassWait = 2 * time.Second

// trim reads the trim document (zero when the log was never trimmed).
func (l *CommitLog) trim(ctx context.Context) (trimDoc, error) {
	var t trimDoc
	err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: trimID}}).Decode(&t)
	if errors.Is(err, mongo.ErrNoDocuments) {
		err = nil
	}
	return t, err
}

// Trimmed is the position up to which the log may be trimmed: it is dense
// from the next one on (0 when it was never trimmed).
func (l *CommitLog) Trimmed(ctx context.Context) (int64, error) {
	t, err := l.trim(ctx)
	return t.Position, err
}

// Trim deletes the entries up to position upTo, at most max of them (from
// where the last trim ended), and returns the position it deleted up to.
// Only what every reader has read may be trimmed: a reader never looks
// behind its position.
func (l *CommitLog) Trim(ctx context.Context, upTo int64, max int) (int64, error) {
	t, err := l.trim(ctx)
	if err != nil {
		return 0, err
	}
	upTo = min(upTo, t.Deleted+int64(max))
	if upTo <= t.Deleted {
		return t.Deleted, nil
	}
	if upTo > t.Position { // first the mark, then the deletes: the log stays dense past the mark
		t.ID, t.Position = trimID, upTo
		if err := replace(ctx, l.Coll, trimID, t); err != nil {
			return 0, err
		}
	}
	ids := make([]string, 0, upTo-t.Deleted)
	for pos := t.Deleted + 1; pos <= upTo; pos++ {
		ids = append(ids, logID(pos))
	}
	if err := deleteGroups(ctx, l.Coll, ids); err != nil {
		return 0, err
	}
	t.Deleted = upTo
	return upTo, replace(ctx, l.Coll, trimID, t)
}

// replace writes the document with this id, creating it if need be. Two
// first writes may race to insert: MongoDB retries the loser itself, the
// embedded store answers it with a duplicate key, so it is retried here
// once (the second attempt finds the document and replaces it).
func replace(ctx context.Context, coll *mongo.Collection, id string, doc any) error {
	filter := bson.D{{Key: "_id", Value: id}}
	_, err := coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		_, err = coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	}
	return err
}

// exists reports whether the log has an entry at pos.
func (l *CommitLog) exists(ctx context.Context, pos int64) (bool, error) {
	err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: logID(pos)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Tail is the position of the log's last entry (0 when it is empty; the
// trim's position when everything is trimmed), found with a few dozen
// lookups from the trim on: doubling past the end, then halving back.
func (l *CommitLog) Tail(ctx context.Context) (int64, error) {
	tail, _, err := l.Mark(ctx)
	return tail, err
}

// Mark is Tail together with the position the log was trimmed to as it
// was read (trimmed <= tail): a rebuild's mark and floor (see Since).
func (l *CommitLog) Mark(ctx context.Context) (tail, trimmed int64, err error) {
	base, err := l.Trimmed(ctx)
	if err != nil {
		return 0, 0, err
	}
	lo, hi := base, base+1 // entry lo exists (or lo is the trim's); hi is to be tried
	for {
		ok, err := l.exists(ctx, hi)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, base+2*(hi-base)
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := lo + (hi-lo)/2
		ok, err := l.exists(ctx, mid)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, base, nil
}

// Read returns the entries from position from on, at most n of them,
// stopping at the end of the log.
func (l *CommitLog) Read(ctx context.Context, from int64, n int) ([]LogEntry, error) {
	return l.ReadWhile(ctx, from, n, nil)
}

// ReadWhile is Read stopping before the first entry that keep refuses (nil:
// not stopping): the catch-up, which leaves the entries of the last seconds
// to its next sweep unless they are applied already, would otherwise read
// them again at every sweep (each entry is an _id lookup).
func (l *CommitLog) ReadWhile(ctx context.Context, from int64, n int, keep func(LogEntry) bool) ([]LogEntry, error) {
	var out []LogEntry
	for pos := max(from, 1); len(out) < n; pos++ {
		var e logEntry
		err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: logID(pos)}}).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return out, err
		}
		entry := LogEntry{Position: pos, CommitIDs: e.CommitIDs, CreatedAt: e.CreatedAt}
		if keep != nil && !keep(entry) {
			break
		}
		out = append(out, entry)
	}
	return out, nil
}

// LogEntry is an entry of the commit log as a reader sees it.
type LogEntry struct {
	Position  int64
	CommitIDs []string
	CreatedAt time.Time
}

// Since lists, oldest first, the ids of the commits the log holds after
// position mark, and of those before it and after floor that were listed
// at or after notBefore (their appends may still have been in flight at
// the mark). A rebuild takes the log's Mark as it begins, and reads what
// was appended while it ran here rather than in the whole event store.
//
// floor is where the log was trimmed when the mark was taken: the entries
// up to it had been read by every reader of the log, which passes an entry
// only once its commits are stored or certainly never will be, so those
// commits were in the store before the rebuild's scan began, and it read
// them. (0 asks for every entry listed from notBefore on.) Without it, a
// rebuild on a quiet service, whose log is trimmed to its end, found
// nothing left before the mark to show where the window begins, and
// scanned the whole event store a second time.
//
// ok is false when the log no longer reaches back that far: it was
// trimmed past what is asked for, before or while it was read.
func (l *CommitLog) Since(ctx context.Context, mark, floor int64, notBefore time.Time) (ids []string, ok bool, err error) {
	trimmed, err := l.Trimmed(ctx)
	if err != nil || trimmed > mark {
		return nil, false, err
	}
	// Back from the mark over the entries listed from notBefore on: a few
	// seconds of them, each an _id lookup. What they list is kept, not read
	// again on the way forward.
	from := mark + 1
	var before [][]string // the entries' commit ids, from the mark back
	for from > trimmed+1 {
		var e logEntry
		err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: logID(from - 1)}}).Decode(&e)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, false, nil // trimmed while read
		}
		if err != nil {
			return nil, false, err
		}
		if e.CreatedAt.Before(notBefore) {
			break
		}
		before = append(before, e.CommitIDs)
		from--
	}
	if from == trimmed+1 && trimmed > floor {
		return nil, false, nil // what came before may have been listed after notBefore too
	}
	for _, listed := range slices.Backward(before) {
		ids = append(ids, listed...)
	}
	// On from the mark to the end of the log, in batches.
	const batch = 512
	for pos := mark + 1; ; {
		entries, err := l.Read(ctx, pos, batch)
		if err != nil {
			return nil, false, err
		}
		for _, e := range entries {
			ids = append(ids, e.CommitIDs...)
		}
		if len(entries) < batch {
			break
		}
		pos += batch
	}
	// Entries are deleted only up to a trim recorded before: if the trim
	// still ends before the first one read, none of them was missing.
	if trimmed, err = l.Trimmed(ctx); err != nil || trimmed >= from {
		return nil, false, err
	}
	return ids, true, nil
}
