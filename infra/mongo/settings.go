package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollSettings holds the service's own settings, one document each: the
// JWT secret generated once, the demo's state, the readiness probes' writes.
const CollSettings = "settings"

// Settings are the settings the service keeps in its database.
type Settings struct{ coll *mongo.Collection }

// NewSettings returns the settings in db.
func NewSettings(db *mongo.Database) *Settings {
	return &Settings{coll: db.Collection(CollSettings)}
}

// jwtSecretID is the setting that holds the generated JWT secret.
const jwtSecretID = "jwt-secret"

// JWTSecret is the secret kept in the settings, created there by whichever
// process asks first: every process on the database that is given no
// secret signs and verifies with it, and it outlives restarts. `capstone
// dev` hands it to its children, so that an extra process started on the
// same store accepts their tokens and bookmarks.
func (s *Settings) JWTSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	_, err := s.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: jwtSecretID}, {Key: "value", Value: hex.EncodeToString(fresh)}})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, fmt.Errorf("store the JWT secret: %w", err)
	}
	var doc struct {
		Value string `bson:"value"`
	}
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: jwtSecretID}}).Decode(&doc); err != nil {
		return nil, fmt.Errorf("read the JWT secret: %w", err)
	}
	return []byte(doc.Value), nil
}

// JWTSecretAt is [Settings.JWTSecret] of the named database of the store at
// uri, for a process that does not otherwise connect to it.
func JWTSecretAt(ctx context.Context, uri, database string) ([]byte, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("connect to the store: %w", err)
	}
	defer func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }()
	return NewSettings(client.Database(database)).JWTSecret(ctx)
}

// State returns the state recorded under name ("" and found false if none).
func (s *Settings) State(ctx context.Context, name string) (state string, found bool, err error) {
	var doc struct {
		State string `bson:"state"`
	}
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	return doc.State, err == nil, err
}

// SetState records a state under name.
func (s *Settings) SetState(ctx context.Context, name, state string) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}}}}, options.UpdateOne().SetUpsert(true))
	return err
}
