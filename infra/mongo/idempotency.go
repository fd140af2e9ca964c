package mongo

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollIdempotency keeps the first response to each idempotent request.
const CollIdempotency = "idempotency"

// Idempotency stores, per idempotency key, the request it is bound to and
// its response, so a repeated POST gets the first answer and stores nothing
// new.
type Idempotency struct {
	coll   *mongo.Collection
	mu     sync.Mutex
	listed map[string]bool // the minutes this process has listed (list)
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
	return &Idempotency{coll: db.Collection(CollIdempotency), listed: map[string]bool{}}
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

// journal lists key in the journal of its minute. The first keys of a
// minute race to create the journal: MongoDB retries the loser of two
// upserts itself, the embedded store answers it with a duplicate key, so it
// is retried here once (the second attempt finds the journal and adds to it).
func (s *Idempotency) journal(ctx context.Context, key string, at time.Time) error {
	push := func() error {
		_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: journalID(at)}},
			bson.D{{Key: "$push", Value: bson.D{{Key: "keys", Value: key}}}}, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := push()
	if mongo.IsDuplicateKeyError(err) {
		err = push()
	}
	return err
}

// Finish records the response of a bound key.
func (s *Idempotency) Finish(ctx context.Context, key string, rec IdempotencyRecord) error {
	return upsert(ctx, s.coll, key, toIdemDoc(key, rec))
}

// Keys expire by a sweep, not a TTL index (the embedded store does not
// implement TTL indexes), and without a scan (it would read every record):
// each key is listed, when it is bound, in a journal document of its minute,
// "expiry:<yyyymmddhhmm>", and each minute that has a journal is listed in
// one index document. Expire reads the index and, for each minute that has
// come of age, deletes its keys and its journal by _id. A sweep's cost is
// that of what there is to expire (one read of the index when nothing is),
// however long the store was empty or the sweeper stopped.

const (
	expiryIndexID = "expiry-minutes"
	// expiryCursorID is the last minute swept by the versions that walked
	// every minute instead of reading an index (expireUnlisted).
	expiryCursorID = "expiry-cursor"
)

func journalID(t time.Time) string { return "expiry:" + t.UTC().Format("200601021504") }

type journalDoc struct {
	Keys []string `bson:"keys"`
}

// expiryIndex lists the journals not swept yet, by _id (which sort as their
// minutes do), and since when every journal is listed.
type expiryIndex struct {
	Minutes []string  `bson:"minutes"`
	Since   time.Time `bson:"since"`
}

type cursorDoc struct {
	Minute time.Time `bson:"minute"`
}

// list lists the minute of at in the index before a key goes in its
// journal, so that no journal is ever left out of it (a minute listed
// without a journal is dropped by the sweep that comes to it). A process
// lists each minute once.
func (s *Idempotency) list(ctx context.Context, at time.Time) error {
	id := journalID(at)
	s.mu.Lock()
	done := s.listed[id]
	s.mu.Unlock()
	if done {
		return nil
	}
	add := func() error {
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
		if id <= journalID(until) {
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
	_, err = s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: expiryIndexID}},
		bson.D{{Key: "$pullAll", Value: bson.D{{Key: "minutes", Value: due}}}})
	return deleted, err
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
	ids := append(j.Keys, id) // the journal last: if this fails half-way, the next sweep goes on
	for len(ids) > 0 {
		n := min(len(ids), 256)
		models := make([]mongo.WriteModel, n)
		for i, key := range ids[:n] {
			filter := bson.D{{Key: "_id", Value: key}, {Key: "started_at", Value: bound}}
			if key == id {
				filter = bson.D{{Key: "_id", Value: id}}
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
