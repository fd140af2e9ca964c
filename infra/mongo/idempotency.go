package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/projections"
)

// CollIdempotency keeps the first response to each idempotent request.
const CollIdempotency = "idempotency"

// Idempotency stores, per idempotency key, the request it is bound to and
// its response, so a repeated POST gets the first answer and stores nothing
// new.
type Idempotency struct {
	coll *mongo.Collection
	// Writer, when set, names this process among several that share a
	// store where an update is not atomic and no write gate orders them:
	// FerretDB, which reads the document, then writes it whole by _id, so
	// two processes adding a key to one journal at once could keep only
	// one of them, the other never to expire. Each process then keeps
	// journals of its own, "expiry:<yyyymmddhhmm>/<writer>", which only it
	// writes, one write at a time (pushes); and the index of journals,
	// which every process lists its journals in and every sweep takes them
	// out of, changes by a claim of its next revision first (as
	// Sessions.Tokens).
	Writer string
	// ByIDAlone: the store serves from its index only a filter on _id
	// alone (FerretDB), and reads the whole collection for any other. The
	// sweep then reads each key of a journal come of age by _id, and
	// deletes by _id those bound before the journal's minute ended,
	// instead of a delete filtered on both per key, each a scan: 150 keys
	// expiring among 1,650 took 16 s so, 0.26 s by _id, and a busy minute's
	// keys would have held the embedded store a day later for minutes. It
	// is as atomic there as the filtered delete, which FerretDB does as a
	// read, then a delete by _id.
	ByIDAlone bool
	tokens    *mongo.Collection
	pushes    *group
	mu        sync.Mutex
	listed    map[string]bool // the journals this process has listed (list)
}

// IdempotencyRecord is what is kept per idempotency key: the request it is
// bound to (its hash, and the id of the stream it creates), when, and, once
// done, its response. The API's port has a type of its own with the same
// fields, which cmd converts to and from this one: this package does not
// import the API.
type IdempotencyRecord struct {
	RequestHash string
	StreamID    string
	Done        bool
	Status      int
	Header      map[string]string
	Body        []byte
	StartedAt   time.Time
}

// NewIdempotency returns the store in db.
func NewIdempotency(db *mongo.Database) *Idempotency {
	s := &Idempotency{coll: db.Collection(CollIdempotency), tokens: db.Collection(CollRevisionTokens), listed: map[string]bool{}}
	s.pushes = newGroup(256, s.pushAll)
	return s
}

type idemDoc struct {
	ID          string            `bson:"_id"`
	RequestHash string            `bson:"request_hash"`
	StreamID    string            `bson:"stream_id,omitempty"`
	Done        bool              `bson:"done"`
	Status      int               `bson:"status,omitempty"`
	Header      map[string]string `bson:"header,omitempty"`
	Body        []byte            `bson:"body,omitempty"`
	StartedAt   time.Time         `bson:"started_at"`
}

func (d idemDoc) record() IdempotencyRecord {
	return IdempotencyRecord{RequestHash: d.RequestHash, StreamID: d.StreamID, Done: d.Done, Status: d.Status,
		Header: d.Header, Body: d.Body, StartedAt: d.StartedAt}
}

func toIdemDoc(key string, rec IdempotencyRecord) idemDoc {
	return idemDoc{ID: key, RequestHash: rec.RequestHash, StreamID: rec.StreamID, Done: rec.Done, Status: rec.Status,
		Header: rec.Header, Body: rec.Body, StartedAt: rec.StartedAt.UTC()}
}

// Begin binds key to rec with one insert, or returns the binding already there.
// The key is first listed in the journal of its minute (and the minute in
// the index of journals), so that Expire finds it by _id when its time is up.
func (s *Idempotency) Begin(ctx context.Context, key string, rec IdempotencyRecord) (IdempotencyRecord, bool, error) {
	if err := s.list(ctx, rec.StartedAt); err != nil {
		return IdempotencyRecord{}, false, err
	}
	if err := s.journal(ctx, key, rec.StartedAt); err != nil {
		return IdempotencyRecord{}, false, err
	}
	for range 2 {
		_, err := s.coll.InsertOne(ctx, toIdemDoc(key, rec))
		if err == nil {
			return rec, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return IdempotencyRecord{}, false, err
		}
		var got idemDoc
		err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&got)
		if err == nil {
			return got.record(), false, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return IdempotencyRecord{}, false, err
		}
		// Expired and swept in between: bind it afresh.
	}
	return IdempotencyRecord{}, false, errors.New("idempotency key vanished twice while being bound")
}

// journal lists key in the journal of its minute (with a Writer, in this
// process's journal of the minute, with the keys bound at the same moment).
func (s *Idempotency) journal(ctx context.Context, key string, at time.Time) error {
	if s.Writer != "" {
		return s.pushes.do(ctx, &groupReq{id: s.journalID(at), doc: key})
	}
	return s.push(ctx, journalID(at), key)
}

// push adds keys to the journal id. The first keys of a minute race to
// create the journal: MongoDB retries the loser of two upserts itself, the
// embedded store answers it with a duplicate key, so it is retried here
// once (the second attempt finds the journal and adds to it).
func (s *Idempotency) push(ctx context.Context, id string, keys ...string) error {
	push := func() error {
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$push", Value: bson.D{{Key: "keys", Value: bson.D{{Key: "$each", Value: keys}}}}}}, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := push()
	if mongo.IsDuplicateKeyError(err) {
		err = push()
	}
	return err
}

// pushAll adds a batch of keys to this process's journals (Writer): the
// group writes one batch at a time, so no two writes of a journal ever
// overlap.
func (s *Idempotency) pushAll(ctx context.Context, batch []*groupReq) {
	keys := map[string][]string{}
	for _, q := range batch {
		keys[q.id] = append(keys[q.id], q.doc.(string))
	}
	errs := map[string]error{}
	for id, ks := range keys {
		errs[id] = s.push(ctx, id, ks...)
	}
	for _, q := range batch {
		q.err = errs[q.id]
	}
}

// Finish records the response of a bound key.
func (s *Idempotency) Finish(ctx context.Context, key string, rec IdempotencyRecord) error {
	return upsert(ctx, s.coll, key, toIdemDoc(key, rec))
}

// Keys expire by a sweep, not a TTL index (the embedded store does not
// implement TTL indexes), and without a scan (it would read every record):
// each key is listed, when it is bound, in a journal document of its minute,
// "expiry:<yyyymmddhhmm>" (with a Writer, one of each process's,
// "expiry:<yyyymmddhhmm>/<writer>"), and each journal is listed in one
// index document. Expire reads the index and, for each journal whose minute
// has come of age, deletes its keys and the journal by _id. A sweep's cost
// is that of what there is to expire (one read of the index when nothing
// is), however long the store was empty or the sweeper stopped.

const (
	expiryIndexID = "expiry-minutes"
	// expiryCursorID is the last minute swept by the versions that walked
	// every minute instead of reading an index (expireUnlisted).
	expiryCursorID = "expiry-cursor"
)

func journalID(t time.Time) string { return "expiry:" + t.UTC().Format("200601021504") }

// journalID is the id of this process's journal of t's minute: the
// minute's, or with a Writer, the writer's own of it.
func (s *Idempotency) journalID(t time.Time) string {
	if s.Writer != "" {
		return journalID(t) + "/" + s.Writer
	}
	return journalID(t)
}

// journalMinute is the id of the minute's journal that journal id is, or
// is one writer's of (Writer).
func journalMinute(id string) string {
	if n := len(journalID(time.Time{})); len(id) > n {
		return id[:n]
	}
	return id
}

type journalDoc struct {
	Keys []string `bson:"keys"`
}

// expiryIndex lists the journals not swept yet, by _id (which sort as their
// minutes do), and since when every journal is listed. Rev counts its
// changes made by claims (Writer).
type expiryIndex struct {
	Minutes []string  `bson:"minutes"`
	Since   time.Time `bson:"since"`
	Rev     int64     `bson:"rev,omitempty"`
}

type cursorDoc struct {
	Minute time.Time `bson:"minute"`
}

// list lists the minute of at in the index before a key goes in its
// journal, so that no journal is ever left out of it (a minute listed
// without a journal is dropped by the sweep that comes to it). A process
// lists each minute once.
func (s *Idempotency) list(ctx context.Context, at time.Time) error {
	id := s.journalID(at)
	s.mu.Lock()
	done := s.listed[id]
	s.mu.Unlock()
	if done {
		return nil
	}
	add := func() error {
		if s.Writer != "" {
			return s.changeIndex(ctx, func(idx *expiryIndex, found bool) bool {
				if slices.Contains(idx.Minutes, id) {
					return false
				}
				if !found {
					idx.Since = at.UTC().Truncate(time.Minute)
				}
				idx.Minutes = append(idx.Minutes, id)
				return true
			})
		}
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: expiryIndexID}}, bson.D{
			{Key: "$addToSet", Value: bson.D{{Key: "minutes", Value: id}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "since", Value: at.UTC().Truncate(time.Minute)}}},
		}, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := add()
	if mongo.IsDuplicateKeyError(err) { // as in journal: two first writes raced
		err = add()
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.listed) >= 64 { // only the current minute matters
		clear(s.listed)
	}
	s.listed[id] = true
	s.mu.Unlock()
	return nil
}

// Expire deletes the keys bound before now-ttl that it has not deleted yet,
// and returns how many. Sweeps may run in several processes at once: a key
// deleted twice is deleted once.
func (s *Idempotency) Expire(ctx context.Context, now time.Time, ttl time.Duration) (int, error) {
	until := now.Add(-ttl).UTC().Truncate(time.Minute)
	var idx expiryIndex
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: expiryIndexID}}).Decode(&idx)
	indexed := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, err
	}
	deleted, err := s.expireUnlisted(ctx, until, ttl, idx, indexed)
	if err != nil {
		return deleted, err
	}
	var due []string
	for _, id := range idx.Minutes {
		if journalMinute(id) <= journalID(until) {
			due = append(due, id)
		}
	}
	if len(due) == 0 {
		return deleted, nil
	}
	slices.Sort(due)
	for _, id := range due {
		n, err := s.expireJournal(ctx, id, until)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if s.Writer != "" {
		return deleted, s.changeIndex(ctx, func(idx *expiryIndex, _ bool) bool {
			n := len(idx.Minutes)
			idx.Minutes = slices.DeleteFunc(idx.Minutes, func(id string) bool { return slices.Contains(due, id) })
			return len(idx.Minutes) < n
		})
	}
	_, err = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: expiryIndexID}},
		bson.D{{Key: "$pullAll", Value: bson.D{{Key: "minutes", Value: due}}}})
	return deleted, err
}

// changeIndex applies edit to the index of journals and stores it as its
// next revision, claimed first (writeRevision), as Sessions.change does a
// session record's (Writer). edit is told whether the index exists, and
// reports whether there is anything to store.
func (s *Idempotency) changeIndex(ctx context.Context, edit func(idx *expiryIndex, found bool) bool) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		idx, found, err := s.index(ctx)
		if err != nil {
			return err
		}
		rev := idx.Rev
		if !edit(&idx, found) {
			return nil
		}
		doc := bson.D{{Key: "_id", Value: expiryIndexID}, {Key: "minutes", Value: append([]string{}, idx.Minutes...)},
			{Key: "since", Value: idx.Since}, {Key: "rev", Value: rev + 1}}
		err = writeRevision(ctx, s.tokens, CollIdempotency+"/"+expiryIndexID, rev,
			func(ctx context.Context) (int64, error) {
				cur, _, err := s.index(ctx)
				return cur.Rev, err
			},
			func(ctx context.Context) error { return upsert(ctx, s.coll, expiryIndexID, doc) }, nil)
		if !errors.Is(err, projections.ErrConflict) {
			return err
		}
		if time.Since(start) > changeFor {
			return fmt.Errorf("change the index of idempotency journals: it kept changing for %v", changeFor)
		}
		select { // another change won, or holds its claim: read it again
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5)))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// index reads the index of journals (found false if there is none).
func (s *Idempotency) index(ctx context.Context) (expiryIndex, bool, error) {
	var idx expiryIndex
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: expiryIndexID}}).Decode(&idx)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return expiryIndex{}, false, nil
	}
	return idx, err == nil, err
}

// expireJournal deletes the keys journal id lists that were bound by until
// (a key listed again by a retry, then expired and bound afresh, is not the
// binding this journal saw), then the journal, and returns how many keys it
// deleted.
func (s *Idempotency) expireJournal(ctx context.Context, id string, until time.Time) (int, error) {
	var j journalDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&j)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	deleted := 0
	bound := bson.D{{Key: "$lt", Value: until.Add(time.Minute)}}
	keys := j.Keys
	if s.ByIDAlone {
		if keys, err = s.boundBefore(ctx, j.Keys, until.Add(time.Minute)); err != nil {
			return 0, err
		}
	}
	ids := append(keys, id) // the journal last: if this fails half-way, the next sweep goes on
	for len(ids) > 0 {
		n := min(len(ids), 256)
		models := make([]mongo.WriteModel, n)
		for i, key := range ids[:n] {
			filter := bson.D{{Key: "_id", Value: key}, {Key: "started_at", Value: bound}}
			if key == id || s.ByIDAlone {
				filter = bson.D{{Key: "_id", Value: key}}
			}
			models[i] = mongo.NewDeleteOneModel().SetFilter(filter)
		}
		res, err := s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
		if err != nil {
			return deleted, err
		}
		deleted += int(res.DeletedCount)
		ids = ids[n:]
	}
	return deleted - 1, nil // the journal itself
}

// boundBefore returns those of keys whose record was bound before end,
// each read by _id (ByIDAlone).
func (s *Idempotency) boundBefore(ctx context.Context, keys []string, end time.Time) ([]string, error) {
	var due []string
	only := options.FindOne().SetProjection(bson.D{{Key: "started_at", Value: 1}})
	for _, key := range keys {
		var rec struct {
			StartedAt time.Time `bson:"started_at"`
		}
		err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}, only).Decode(&rec)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.StartedAt.Before(end) {
			due = append(due, key)
		}
	}
	return due, nil
}

// expireUnlisted sweeps the journals of the versions that listed none: they
// left a cursor, the last minute they swept, and this walks on from it
// minute by minute as they did. While a rolling upgrade runs, their
// processes journal beside the index, so the walk goes on until one ttl past
// the index's start, and then drops the cursor. A store that never ran those
// versions has no cursor: one read.
func (s *Idempotency) expireUnlisted(ctx context.Context, until time.Time, ttl time.Duration, idx expiryIndex, indexed bool) (int, error) {
	var cur cursorDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: expiryCursorID}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	end, last := until, false
	if indexed && !idx.Since.Add(ttl).After(until) {
		end, last = idx.Since.Add(ttl), true
	}
	deleted := 0
	from := cur.Minute.Add(time.Minute)
	if oldest := until.Add(-maxExpiryBacklog); from.Before(oldest) {
		from = oldest
	}
	for m := from; !m.After(end); m = m.Add(time.Minute) {
		n, err := s.expireJournal(ctx, journalID(m), until)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if last {
		_, err = s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: expiryCursorID}})
		return deleted, err
	}
	return deleted, upsert(ctx, s.coll, expiryCursorID, bson.D{{Key: "_id", Value: expiryCursorID}, {Key: "minute", Value: end}})
}

// maxExpiryBacklog bounds the minutes one walk of expireUnlisted goes back
// (a week): a store whose sweeper was stopped longer keeps the keys of the
// gap.
const maxExpiryBacklog = 7 * 24 * time.Hour
