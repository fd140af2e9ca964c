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
// leaked database does not hand out working tokens.
const CollPasswordTokens = "password_tokens"

// PasswordTokens stores one-time set-password tokens.
type PasswordTokens struct{ coll *mongo.Collection }

var _ user.TokenStore = (*PasswordTokens)(nil)

// NewPasswordTokens returns the token store in db.
func NewPasswordTokens(db *mongo.Database) *PasswordTokens {
	return &PasswordTokens{coll: db.Collection(CollPasswordTokens)}
}

type tokenDoc struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Save stores a new token for a user.
func (s *PasswordTokens) Save(ctx context.Context, token, userID string, expires time.Time) error {
	_, err := s.coll.InsertOne(ctx, tokenDoc{ID: tokenKey(token), UserID: userID, ExpiresAt: expires.UTC()})
	return err
}

// Take consumes a token: of concurrent takers exactly one gets the user id,
// because only one of them deletes the document.
func (s *PasswordTokens) Take(ctx context.Context, token string, now time.Time) (string, error) {
	key := tokenKey(token)
	var doc tokenDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", user.ErrBadToken
	}
	if err != nil {
		return "", err
	}
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	if err != nil {
		return "", err
	}
	if res.DeletedCount != 1 || now.After(doc.ExpiresAt) {
		return "", user.ErrBadToken
	}
	return doc.UserID, nil
}
