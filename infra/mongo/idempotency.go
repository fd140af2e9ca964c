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

// Idempotency stores responses by idempotency key, so a repeated POST gets
// the first answer and stores nothing new.
type Idempotency struct{ coll *mongo.Collection }

var _ api.IdempotencyStore = (*Idempotency)(nil)

// NewIdempotency returns the store in db.
func NewIdempotency(db *mongo.Database) *Idempotency {
	return &Idempotency{coll: db.Collection(CollIdempotency)}
}

type idemDoc struct {
	ID          string            `bson:"_id"`
	RequestHash string            `bson:"request_hash"`
	Done        bool              `bson:"done"`
	Status      int               `bson:"status,omitempty"`
	Header      map[string]string `bson:"header,omitempty"`
	Body        []byte            `bson:"body,omitempty"`
	StartedAt   time.Time         `bson:"started_at"`
}

// Begin claims key for a request, or returns the record already there.
func (s *Idempotency) Begin(ctx context.Context, key, requestHash string, now time.Time) (api.IdempotentRecord, bool, error) {
	doc := idemDoc{ID: key, RequestHash: requestHash, StartedAt: now.UTC()}
	_, err := s.coll.InsertOne(ctx, doc)
	if err == nil {
		return api.IdempotentRecord{RequestHash: requestHash, StartedAt: doc.StartedAt}, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return api.IdempotentRecord{}, false, err
	}
	var got idemDoc
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&got); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return s.Begin(ctx, key, requestHash, now) // aborted meanwhile: claim it again
		}
		return api.IdempotentRecord{}, false, err
	}
	return api.IdempotentRecord{RequestHash: got.RequestHash, Done: got.Done, Status: got.Status,
		Header: got.Header, Body: got.Body, StartedAt: got.StartedAt}, false, nil
}

// Finish records the response of a claimed key.
func (s *Idempotency) Finish(ctx context.Context, key string, rec api.IdempotentRecord) error {
	doc := idemDoc{ID: key, RequestHash: rec.RequestHash, Done: true, Status: rec.Status, Header: rec.Header,
		Body: rec.Body, StartedAt: rec.StartedAt}
	return upsert(ctx, s.coll, key, doc)
}

// Abort releases a claimed key whose request failed, so it can be retried.
func (s *Idempotency) Abort(ctx context.Context, key string) error {
	_, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	return err
}
