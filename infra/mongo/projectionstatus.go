package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/projections/status"
)

// CollProjectionStatus holds, per projection and process, how far it got.
const CollProjectionStatus = "projection_status"

// ProjectionStatus keeps the projections' status records, one document each.
type ProjectionStatus struct{ coll *mongo.Collection }

var _ status.Store = (*ProjectionStatus)(nil)

// NewProjectionStatus returns the status store in db.
func NewProjectionStatus(db *mongo.Database) *ProjectionStatus {
	return &ProjectionStatus{coll: db.Collection(CollProjectionStatus)}
}

// statusDoc is a status.Record as stored (the conversion between the two
// checks that their fields stay the same).
type statusDoc struct {
	ID         string    `bson:"_id"`
	Projection string    `bson:"projection"`
	Applied    int64     `bson:"applied"`
	Failed     int64     `bson:"failed"`
	Position   time.Time `bson:"position"`
	LagSeconds float64   `bson:"lag_seconds"`
	UpdatedAt  time.Time `bson:"updated_at"`
	Stopped    bool      `bson:"stopped"`
}

// Save replaces the record's document, or inserts it.
func (s *ProjectionStatus) Save(ctx context.Context, r status.Record) error {
	_, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.ID}}, statusDoc(r), options.Replace().SetUpsert(true))
	return err
}

// All returns every record.
func (s *ProjectionStatus) All(ctx context.Context) ([]status.Record, error) {
	cur, err := s.coll.Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	var docs []statusDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]status.Record, len(docs))
	for i, d := range docs {
		out[i] = status.Record(d)
	}
	return out, nil
}
