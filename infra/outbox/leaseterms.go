package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A lease in terms (Lease.Terms) is a chain of documents, "<name>#<term>",
// each inserted by the process that held the lease for that term: the
// term with the highest number says who holds the lease and until when.
// Taking the next term is an insert, which of any number of processes
// exactly one wins on every store, where the replace of one document
// filtered on its holder lets several win on FerretDB. No term is ever
// written twice.
//
// A holder's earlier term is deleted once its next is in, so the chain
// keeps a term or two. A process that read the chain, stalled, and then
// inserted a term already deleted (its number is below the chain's end)
// holds nothing: after each insert the chain's end is read again, and only
// the term that is the end holds the lease.

type termDoc struct {
	ID        string    `bson:"_id"`
	Term      int64     `bson:"term"`
	Holder    string    `bson:"holder"` // "" for a lease given up
	ExpiresAt time.Time `bson:"expires_at"`
}

// termID is term's _id: zero-padded, so that _ids sort as terms do.
func (l *Lease) termID(term int64) string { return fmt.Sprintf("%s#%019d", l.Name, term) }

// holdTerm renews the lease, or takes it over, by taking its next term.
func (l *Lease) holdTerm(ctx context.Context) (bool, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	cur, found, err := l.lastTerm(ctx)
	if err != nil {
		return false, err
	}
	if found && cur.Holder != l.Holder && now.Before(cur.ExpiresAt) && !l.Alone {
		return false, nil
	}
	if l.afterRead != nil {
		l.afterRead()
	}
	next := termDoc{Term: cur.Term + 1, Holder: l.Holder, ExpiresAt: now.Add(l.TTL)}
	next.ID = l.termID(next.Term)
	if _, err := l.Coll.InsertOne(ctx, next); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return false, nil // another process took the term first
		}
		return false, err
	}
	end, _, err := l.lastTerm(ctx)
	if err != nil {
		return false, err
	}
	if end.Term != next.Term { // a term deleted long ago, taken again
		_, _ = l.Coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: next.ID}})
		return false, nil
	}
	if found {
		_, _ = l.Coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: cur.ID}})
	}
	return true, nil
}

// releaseTerm gives the lease up, if this process holds it, with a term
// that holds nothing and has expired.
func (l *Lease) releaseTerm(ctx context.Context) {
	cur, found, err := l.lastTerm(ctx)
	if err != nil || !found || cur.Holder != l.Holder {
		return
	}
	given := termDoc{ID: l.termID(cur.Term + 1), Term: cur.Term + 1, ExpiresAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := l.Coll.InsertOne(ctx, given); err == nil {
		_, _ = l.Coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: cur.ID}})
	}
}

// lastTerm reads the chain's end (found false when there is no term yet).
func (l *Lease) lastTerm(ctx context.Context) (termDoc, bool, error) {
	var doc termDoc
	err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: l.Name + "#"}, {Key: "$lt", Value: l.Name + "#~"}}}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return termDoc{}, false, nil
	}
	return doc, err == nil, err
}
