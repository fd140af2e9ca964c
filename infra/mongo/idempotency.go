package mongo

import (
	"context"
	"errors"
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
type Idempotency struct{ coll *mongo.Collection }

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
	return &Idempotency{coll: db.Collection(CollIdempotency)}
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
// The key is first listed in the journal of its minute, so that Expire finds
// it by _id when its time is up.
func (s *Idempotency) Begin(ctx context.Context, key string, rec IdempotencyRecord) (IdempotencyRecord, bool, error) {
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
// "expiry:<yyyymmddhhmm>", and Expire walks the minutes that have come of
// age by _id, deleting their keys and journals. A cursor document keeps the
// last minute swept.

const expiryCursorID = "expiry-cursor"

func journalID(t time.Time) string { return "expiry:" + t.UTC().Format("200601021504") }

type journalDoc struct {
	Keys []string `bson:"keys"`
}

type cursorDoc struct {
	Minute time.Time `bson:"minute"`
}

// Expire deletes the keys bound before now-ttl that it has not deleted yet,
// and returns how many. Sweeps may run in several processes at once: a key
// deleted twice is deleted once.
func (s *Idempotency) Expire(ctx context.Context, now time.Time, ttl time.Duration) (int, error) {
	until := now.Add(-ttl).UTC().Truncate(time.Minute)
	var cur cursorDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: expiryCursorID}}).Decode(&cur)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return 0, err
	}
	from := cur.Minute.Add(time.Minute)
	if cur.Minute.IsZero() {
		from = until.Add(-maxExpiryBacklog) // first sweep: records older than this predate the journal
	}
	if oldest := until.Add(-maxExpiryBacklog); from.Before(oldest) {
		from = oldest
	}
	deleted := 0
	for m := from; !m.After(until); m = m.Add(time.Minute) {
		var j journalDoc
		err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: journalID(m)}}).Decode(&j)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return deleted, err
		}
		ids := append(j.Keys, journalID(m)) // the journal last: if this fails half-way, the next sweep goes on
		for len(ids) > 0 {
			n := min(len(ids), 256)
			models := make([]mongo.WriteModel, n)
			for i, id := range ids[:n] {
				models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})
			}
			res, err := s.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
			if err != nil {
				return deleted, err
			}
			deleted += int(res.DeletedCount)
			ids = ids[n:]
		}
		deleted-- // the journal itself
	}
	return deleted, upsert(ctx, s.coll, expiryCursorID, bson.D{{Key: "_id", Value: expiryCursorID}, {Key: "minute", Value: until}})
}

// maxExpiryBacklog bounds the minutes one sweep walks back (a week): a store
// whose sweeper was stopped longer keeps the keys of the gap.
const maxExpiryBacklog = 7 * 24 * time.Hour
