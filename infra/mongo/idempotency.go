package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/api"
)

// CollIdempotency keeps the first response to each idempotent request.
const CollIdempotency = "idempotency"

// Idempotency stores, per idempotency key, the request it is bound to and
// its response, so a repeated POST gets the first answer and stores nothing
// new.
type Idempotency struct{ coll *mongo.Collection }

var _ api.IdempotencyStore = (*Idempotency)(nil)

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

func (d idemDoc) record() api.IdempotentRecord {
	return api.IdempotentRecord{RequestHash: d.RequestHash, StreamID: d.StreamID, Done: d.Done, Status: d.Status,
		Header: d.Header, Body: d.Body, StartedAt: d.StartedAt}
}

func toIdemDoc(key string, rec api.IdempotentRecord) idemDoc {
	return idemDoc{ID: key, RequestHash: rec.RequestHash, StreamID: rec.StreamID, Done: rec.Done, Status: rec.Status,
		Header: rec.Header, Body: rec.Body, StartedAt: rec.StartedAt.UTC()}
}

// Begin binds key to rec with one insert, or returns the binding already there.
func (s *Idempotency) Begin(ctx context.Context, key string, rec api.IdempotentRecord) (api.IdempotentRecord, bool, error) {
	for range 2 {
		_, err := s.coll.InsertOne(ctx, toIdemDoc(key, rec))
		if err == nil {
			return rec, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return api.IdempotentRecord{}, false, err
		}
		var got idemDoc
		err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&got)
		if err == nil {
			return got.record(), false, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return api.IdempotentRecord{}, false, err
		}
		// Expired and swept in between: bind it afresh.
	}
	return api.IdempotentRecord{}, false, errors.New("idempotency key vanished twice while being bound")
}

// Finish records the response of a bound key.
func (s *Idempotency) Finish(ctx context.Context, key string, rec api.IdempotentRecord) error {
	return upsert(ctx, s.coll, key, toIdemDoc(key, rec))
}
