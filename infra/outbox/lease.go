package outbox

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// LeaseCollection holds leases (one document per lease name).
const LeaseCollection = "leases"

// Lease lets one process at a time do a job (the relay's sweeps). A holder
// renews it on every Hold; when the holder dies, another takes it over once
// it has expired, within TTL.
type Lease struct {
	Coll   *mongo.Collection
	Name   string
	Holder string
	TTL    time.Duration
	// Alone says no other process uses the store (the embedded store's
	// data directory is this process's): a lease another holder holds is
	// then a dead process's, taken over at once instead of after it
	// expires, so a restart after a crash sweeps at once.
	Alone bool
	// Terms makes every holding of the lease, a renewal as a takeover, a
	// term of its own, inserted under a unique id, for a store shared by
	// several processes where a filtered replace is not atomic: FerretDB,
	// which reads the document, then writes it by _id, so two processes
	// taking over one expired lease at once could both hold it (see
	// holdTerm).
	Terms bool

	// afterRead, in tests, runs right after holdTerm read the chain's end:
	// where a process stalls with what it read.
	afterRead func()
}

// NewLease is the lease name in db's leases, held by holder for ttl.
func NewLease(db *mongo.Database, name, holder string, ttl time.Duration) *Lease {
	return &Lease{Coll: db.Collection(LeaseCollection), Name: name, Holder: holder, TTL: ttl}
}

type leaseDoc struct {
	ID        string    `bson:"_id"`
	Holder    string    `bson:"holder"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// Hold acquires or renews the lease and reports whether this process holds it.
func (l *Lease) Hold(ctx context.Context) (bool, error) {
	if l.Terms {
		return l.holdTerm(ctx)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	mine := leaseDoc{ID: l.Name, Holder: l.Holder, ExpiresAt: now.Add(l.TTL)}
	_, err := l.Coll.InsertOne(ctx, mine)
	if err == nil {
		return true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return false, err
	}
	var cur leaseDoc
	if err := l.Coll.FindOne(ctx, bson.D{{Key: "_id", Value: l.Name}}).Decode(&cur); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, nil // released meanwhile: try again next time
		}
		return false, err
	}
	if cur.Holder != l.Holder && now.Before(cur.ExpiresAt) && !l.Alone {
		return false, nil
	}
	// Renew ours, or take over an expired one. The filter names the document
	// as it was read, so of two processes taking over only one matches.
	res, err := l.Coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.Name}, {Key: "holder", Value: cur.Holder},
		{Key: "expires_at", Value: cur.ExpiresAt}}, mine)
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// Release gives the lease up (on shutdown), so a successor need not wait.
func (l *Lease) Release(ctx context.Context) {
	if l.Terms {
		l.releaseTerm(ctx)
		return
	}
	_, _ = l.Coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: l.Name}, {Key: "holder", Value: l.Holder}})
}

// sweepEvery runs sweep every interval while this process holds lease, at
// once again when sweep says there is more (its time was up, not its
// work), until ctx ends; then it gives the lease up. The lease's and the
// sweep's errors are warned about as what's, unless ctx has ended: a
// process that stops (SIGTERM) cuts short what is in flight, and that is
// no fault.
func sweepEvery(ctx context.Context, interval time.Duration, lease *Lease, log *slog.Logger, what string, sweep func(context.Context) (more bool, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer lease.Release(context.WithoutCancel(ctx))
	warn := func(msg string, err error) {
		if ctx.Err() == nil {
			log.WarnContext(ctx, what+" "+msg, "err", err)
		}
	}
	for {
		more := false
		if held, err := lease.Hold(ctx); err != nil {
			warn("lease", err)
		} else if held {
			var err error
			if more, err = sweep(ctx); err != nil {
				warn("sweep", err)
			}
		}
		if more && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
