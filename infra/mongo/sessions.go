package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/projections"
)

// CollSessions keeps, per user, what ends their sign-in tokens early: the
// token generation and the ids of the tokens signed out one by one, each
// only until it would have expired anyway.
const CollSessions = "sessions"

// Sessions stores the users' session records.
type Sessions struct {
	coll *mongo.Collection
	// Tokens makes every change of a record claim its next revision with
	// an insert (unique _id) first, as ReadModels.Tokens does, then write
	// the record by _id alone: for FerretDB, shared or not. It does a
	// filtered update as a read, then a write of the whole document by
	// _id, so where no write gate serialises the writers (several
	// processes, capstone dev) two changes of one user's record at once
	// could lose one: a sign-out (the token would stay valid) or an end of
	// every sign-in. And it serves only a filter on _id alone from its
	// index: the compare-and-swap filtered on the revision too read every
	// record, so a sign-out took 90 ms among 6,000 records, all writes
	// waiting on the embedded store's gate meanwhile (5 ms with claims).
	Tokens bool
	tokens *mongo.Collection
}

var _ user.Sessions = (*Sessions)(nil)

// NewSessions returns the session store in db.
func NewSessions(db *mongo.Database) *Sessions {
	return &Sessions{coll: db.Collection(CollSessions), tokens: db.Collection(CollRevisionTokens)}
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

// EndAll moves the user's token generation on, in one atomic update (with
// Tokens, a change of the record like a sign-out's); the signed-out ids are
// no longer needed.
func (s *Sessions) EndAll(ctx context.Context, userID string) error {
	if s.Tokens {
		return s.change(ctx, userID, func(doc *sessionDoc) bool {
			doc.Generation++
			doc.SignedOut = []signedOutDoc{}
			return true
		})
	}
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
// have expired; past user.MaxSignedOut live ids it ends every sign-in of
// the user instead.
func (s *Sessions) SignOut(ctx context.Context, userID, tokenID string, expires, now time.Time) error {
	endAll := false
	err := s.change(ctx, userID, func(doc *sessionDoc) bool {
		keep := slices.DeleteFunc(doc.SignedOut, func(o signedOutDoc) bool { return !o.ExpiresAt.After(now) })
		if slices.ContainsFunc(keep, func(o signedOutDoc) bool { return o.TokenID == tokenID }) {
			return false
		}
		if endAll = len(keep) >= user.MaxSignedOut; endAll {
			return false
		}
		doc.SignedOut = append(keep, signedOutDoc{TokenID: tokenID, ExpiresAt: expires.UTC()})
		return true
	})
	if err == nil && endAll {
		return s.EndAll(ctx, userID)
	}
	return err
}

// change applies edit to the user's record and stores it as a
// compare-and-swap on rev: atomic on MongoDB, on the embedded store through
// its write gate, which lets one write at a time through, and with Tokens
// through a claim of the revision. A concurrent change makes it read and
// edit again. edit reports whether there is anything to store.
func (s *Sessions) change(ctx context.Context, userID string, edit func(doc *sessionDoc) bool) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		doc, found, err := s.load(ctx, userID)
		if err != nil {
			return err
		}
		rev := doc.Rev
		if !edit(&doc) {
			return nil
		}
		doc.Rev = rev + 1
		swapped, err := s.swap(ctx, doc, rev, found)
		if err != nil || swapped {
			return err
		}
		if time.Since(start) > changeFor {
			return fmt.Errorf("change the session record of %s: it kept changing for %v", userID, changeFor)
		}
		// Another change of the record won, or (with Tokens) holds its
		// claim: wait a moment and read it again.
		select {
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5)))):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// changeFor bounds how long a change keeps trying: each round of racing
// changes lets one through, and a claim left by a process killed between
// its claim and its write is taken over once tokenStale old.
const changeFor = tokenStale + 2*time.Second

// swap stores doc, at revision rev+1, if the stored record is still at rev
// (absent when not found).
func (s *Sessions) swap(ctx context.Context, doc sessionDoc, rev int64, found bool) (bool, error) {
	if s.Tokens {
		err := writeRevision(ctx, s.tokens, CollSessions+"/"+doc.ID, rev,
			func(ctx context.Context) (int64, error) {
				cur, _, err := s.load(ctx, doc.ID)
				return cur.Rev, err
			},
			func(ctx context.Context) error { return upsert(ctx, s.coll, doc.ID, doc) }, nil)
		if errors.Is(err, projections.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	}
	if !found {
		_, err := s.coll.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return false, nil
		}
		return err == nil, err
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: doc.ID}, {Key: "rev", Value: rev}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: doc.Generation}, {Key: "signed_out", Value: doc.SignedOut}, {Key: "rev", Value: doc.Rev}}}})
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

func (s *Sessions) load(ctx context.Context, userID string) (sessionDoc, bool, error) {
	var doc sessionDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return sessionDoc{ID: userID}, false, nil
	}
	return doc, err == nil, err
}
