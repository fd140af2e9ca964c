package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands/user"
)

// CollSessions keeps, per user, what ends their sign-in tokens early: the
// token generation and the ids of the tokens signed out one by one, each
// only until it would have expired anyway.
const CollSessions = "sessions"

// Sessions stores the users' session records.
type Sessions struct{ coll *mongo.Collection }

var _ user.Sessions = (*Sessions)(nil)

// NewSessions returns the session store in db.
func NewSessions(db *mongo.Database) *Sessions {
	return &Sessions{coll: db.Collection(CollSessions)}
}

type sessionDoc struct {
	ID         string         `bson:"_id"`
	Generation int64          `bson:"generation"`
	SignedOut  []signedOutDoc `bson:"signed_out"`
	// Rev makes a read-modify-write of signed_out a compare-and-swap.
	Rev int64 `bson:"rev"`
}

type signedOutDoc struct {
	TokenID   string    `bson:"token_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// Current returns the user's session record (zero if none).
func (s *Sessions) Current(ctx context.Context, userID string) (user.Session, error) {
	doc, _, err := s.load(ctx, userID)
	if err != nil {
		return user.Session{}, err
	}
	out := user.Session{Generation: doc.Generation}
	for _, o := range doc.SignedOut {
		out.SignedOut = append(out.SignedOut, user.SignedOut{TokenID: o.TokenID, ExpiresAt: o.ExpiresAt})
	}
	return out, nil
}

// EndAll moves the user's token generation on, in one atomic update; the
// signed-out ids are no longer needed.
func (s *Sessions) EndAll(ctx context.Context, userID string) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "generation", Value: int64(1)}, {Key: "rev", Value: int64(1)}}},
			{Key: "$set", Value: bson.D{{Key: "signed_out", Value: bson.A{}}}},
		}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // two upserts raced: the other inserted
		return s.EndAll(ctx, userID)
	}
	return err
}

// SignOut adds a token id to the user's signed-out ones, dropping those that
// have expired. The write is a compare-and-swap on rev (atomic on MongoDB, and
// on the embedded store through its write gate, which lets one write at a
// time through): a concurrent change makes it read and try again.
func (s *Sessions) SignOut(ctx context.Context, userID, tokenID string, expires, now time.Time) error {
	for range 10 {
		doc, found, err := s.load(ctx, userID)
		if err != nil {
			return err
		}
		keep := slices.DeleteFunc(doc.SignedOut, func(o signedOutDoc) bool { return !o.ExpiresAt.After(now) })
		if slices.ContainsFunc(keep, func(o signedOutDoc) bool { return o.TokenID == tokenID }) {
			return nil
		}
		if len(keep) >= user.MaxSignedOut {
			return s.EndAll(ctx, userID)
		}
		keep = append(keep, signedOutDoc{TokenID: tokenID, ExpiresAt: expires.UTC()})
		if !found {
			_, err = s.coll.InsertOne(ctx, sessionDoc{ID: userID, SignedOut: keep, Rev: 1})
			if mongo.IsDuplicateKeyError(err) {
				continue
			}
			return err
		}
		res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "rev", Value: doc.Rev}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "signed_out", Value: keep}, {Key: "rev", Value: doc.Rev + 1}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
	}
	return fmt.Errorf("sign out of %s: the session record kept changing", userID)
}

func (s *Sessions) load(ctx context.Context, userID string) (sessionDoc, bool, error) {
	var doc sessionDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return sessionDoc{ID: userID}, false, nil
	}
	return doc, err == nil, err
}
