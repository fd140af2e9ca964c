package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/commands/user"
)

// CollPasswordTokens keeps one-time set-password tokens, by hash only: a
// leaked database does not hand out working tokens. Beside each token's
// document, a document per user ("user:<id>") names the one token of theirs
// that works, so that a new token, a redeemed one or a password change ends
// the others at once.
const CollPasswordTokens = "password_tokens"

// PasswordTokens stores one-time set-password tokens.
type PasswordTokens struct{ coll *mongo.Collection }

var _ user.TokenStore = (*PasswordTokens)(nil)

// NewPasswordTokens returns the token store in db.
func NewPasswordTokens(db *mongo.Database) *PasswordTokens {
	return &PasswordTokens{coll: db.Collection(CollPasswordTokens)}
}

type tokenDoc struct {
	ID            string    `bson:"_id"`
	UserID        string    `bson:"user_id"`
	IssuedVersion int64     `bson:"issued_version"`
	ExpiresAt     time.Time `bson:"expires_at"`
}

// currentTokenDoc names the user's token that works.
type currentTokenDoc struct {
	ID    string `bson:"_id"`   // "user:<id>"
	Token string `bson:"token"` // the tokenDoc's _id
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func currentKey(userID string) string { return "user:" + userID }

// Save stores a new token for a user and makes it the one that works; the
// token it replaces is deleted.
func (s *PasswordTokens) Save(ctx context.Context, token string, g user.TokenGrant, expires time.Time) error {
	key, userID := tokenKey(token), g.UserID
	if _, err := s.coll.InsertOne(ctx, tokenDoc{ID: key, UserID: userID, IssuedVersion: g.IssuedVersion, ExpiresAt: expires.UTC()}); err != nil {
		return err
	}
	old, err := s.current(ctx, userID)
	if err != nil {
		return err
	}
	if err := upsert(ctx, s.coll, currentKey(userID), currentTokenDoc{ID: currentKey(userID), Token: key}); err != nil {
		return err
	}
	if old != "" && old != key {
		_, err = s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: old}})
	}
	return err
}

// Take consumes a token: of concurrent takers exactly one gets the user id,
// because only one of them deletes the document. Only the user's current
// token is good, and taking it ends it: its document is gone, so the user's
// pointer to it names a token that no longer works, until the next Save
// replaces it. Take leaves the pointer alone: a delete filtered on the token
// it names is not atomic on FerretDB (it finds the document, then deletes it
// by _id), so one across processes from a token issued meanwhile deleted the
// new token's pointer, and the new token never worked.
func (s *PasswordTokens) Take(ctx context.Context, token string, now time.Time) (user.TokenGrant, error) {
	key := tokenKey(token)
	var doc tokenDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return user.TokenGrant{}, user.ErrBadToken
	}
	if err != nil {
		return user.TokenGrant{}, err
	}
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	if err != nil {
		return user.TokenGrant{}, err
	}
	if res.DeletedCount != 1 || now.After(doc.ExpiresAt) {
		return user.TokenGrant{}, user.ErrBadToken
	}
	current, err := s.current(ctx, doc.UserID)
	if err != nil {
		return user.TokenGrant{}, err
	}
	if current != key {
		return user.TokenGrant{}, user.ErrBadToken // replaced by a newer token, or ended
	}
	return user.TokenGrant{UserID: doc.UserID, IssuedVersion: doc.IssuedVersion}, nil
}

// Revoke ends the user's token, if any.
func (s *PasswordTokens) Revoke(ctx context.Context, userID string) error {
	current, err := s.current(ctx, userID)
	if err != nil || current == "" {
		return err
	}
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: currentKey(userID)}}); err != nil {
		return err
	}
	_, err = s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: current}})
	return err
}

// current returns the key of the user's token that works ("" if none).
func (s *PasswordTokens) current(ctx context.Context, userID string) (string, error) {
	var doc currentTokenDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: currentKey(userID)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	return doc.Token, err
}
