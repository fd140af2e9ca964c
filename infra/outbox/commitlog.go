package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
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

// logEntry is one entry of the commit log.
type logEntry struct {
	ID        string    `bson:"_id"`
	CommitIDs []string  `bson:"commit_ids"`
	CreatedAt time.Time `bson:"created_at"`
}

func logID(pos int64) string { return fmt.Sprintf("log:%012d", pos) }

// CommitLog appends entries to the log and reads them back by position.
type CommitLog struct {
	Coll *mongo.Collection

	mu   sync.Mutex
	next int64 // the position to try next; 0 until the tail is found
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
	if l.next == 0 {
		tail, err := l.Tail(ctx)
		if err != nil {
			return 0, err
		}
		l.next = tail + 1
	}
	for taken := 0; ; taken++ {
		_, err := l.Coll.InsertOne(ctx, logEntry{ID: logID(l.next), CommitIDs: ids, CreatedAt: now.UTC()})
		if err == nil {
			l.next++
			return l.next - 1, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, err // the position stays free (or, if the insert landed after all, is taken: a retry moves on)
		}
		if taken >= 8 { // far behind the other writers: find the tail again
			tail, err := l.Tail(ctx)
			if err != nil {
				return 0, err
			}
			l.next, taken = tail+1, 0
			continue
		}
		l.next++
	}
}

// exists reports whether the log has an entry at pos.
func (l *CommitLog) exists(ctx context.Context, pos int64) (bool, error) {
	err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: logID(pos)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Tail is the position of the log's last entry (0 when it is empty), found
// with a few dozen lookups: doubling past the end, then halving back.
func (l *CommitLog) Tail(ctx context.Context) (int64, error) {
	lo, hi := int64(0), int64(1) // entry lo exists (or lo is 0); hi is to be tried
	for {
		ok, err := l.exists(ctx, hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 { // lo exists, hi does not
		mid := lo + (hi-lo)/2
		ok, err := l.exists(ctx, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// Read returns the entries from position from on, at most n of them,
// stopping at the end of the log.
func (l *CommitLog) Read(ctx context.Context, from int64, n int) ([]LogEntry, error) {
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
		out = append(out, LogEntry{Position: pos, CommitIDs: e.CommitIDs, CreatedAt: e.CreatedAt})
	}
	return out, nil
}

// LogEntry is an entry of the commit log as a reader sees it.
type LogEntry struct {
	Position  int64
	CommitIDs []string
	CreatedAt time.Time
}
