package mongo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
)

// Rebuilds is the read-model store as a rebuild uses it: fresh collections
// beside the live ones, and a switch through the names collection that
// every process reads.
type Rebuilds struct {
	db      *mongo.Database
	prepare func(ctx context.Context, collections ...string) error
	// Live, when set, is the process's read models: a rebuild's catch-up
	// writes as they do (see Writing). Nil: as a ReadModels of db.
	Live *ReadModels
}

var _ rebuild.Store = (*Rebuilds)(nil)

// NewRebuilds returns the rebuild store in db. prepare, if not nil, is
// called for each fresh collection before anything is written to it (the
// embedded store gives it its _id index fix).
func NewRebuilds(db *mongo.Database, prepare func(ctx context.Context, collections ...string) error) *Rebuilds {
	return &Rebuilds{db: db, prepare: prepare}
}

// Physical reads the mapping afresh: a switch made by another process a
// moment ago counts.
func (r *Rebuilds) Physical(ctx context.Context, logical string) string {
	return newNames(r.db).physical(ctx, logical)
}

// Fresh names a collection after the read model and the time, and prepares it.
func (r *Rebuilds) Fresh(ctx context.Context, logical string, at time.Time) (string, error) {
	name := FreshName(logical, at)
	if r.prepare != nil {
		if err := r.prepare(ctx, name); err != nil {
			return "", err
		}
	}
	return name, nil
}

// Buffer holds documents in memory until Flush.
func (r *Rebuilds) Buffer() rebuild.Buffer {
	return &rebuildBuffer{db: r.db, docs: map[string]map[string][]byte{}}
}

// Writing writes as the process's projectors do (Live): after the switch,
// the catch-up and the projectors apply the same commits to the same
// documents, idempotently, but at once. Where the projectors check the
// revision they loaded (a store that projector processes share), so does
// the catch-up, and a conflict loads again; in one process, the
// projections' shared locks keep them apart (projections.AllSharing).
func (r *Rebuilds) Writing(targets map[string]string) projections.Documents {
	return r.live().Rebuilding(targets)
}

// live is the process's read models (Live), or else a ReadModels of db.
func (r *Rebuilds) live() *ReadModels {
	if r.Live != nil {
		return r.Live
	}
	return NewReadModels(r.db)
}

// SwitchTo records the switch; every process sees it within SwitchSettles,
// the one of Live at once.
func (r *Rebuilds) SwitchTo(ctx context.Context, logical, collection string) error {
	return r.live().SwitchTo(ctx, logical, collection)
}

// SwitchSettles is [ReadModels.SwitchSettles].
func (r *Rebuilds) SwitchSettles() time.Duration { return newNames(r.db).ttl + switchGrace }

// Snapshot reads the documents as relaxed extended JSON, so that every
// value is a plain one whatever its BSON type, and leaves out the revision.
func (r *Rebuilds) Snapshot(ctx context.Context, collection string) (map[string]map[string]any, error) {
	cur, err := r.db.Collection(collection).Find(ctx, bson.D{})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]any{}
	for cur.Next(ctx) {
		ext, err := bson.MarshalExtJSON(cur.Current, false, false)
		if err != nil {
			return nil, err
		}
		var d map[string]any
		if err := json.Unmarshal(ext, &d); err != nil {
			return nil, err
		}
		delete(d, revField)
		out[fmt.Sprint(d["_id"])] = d
	}
	return out, cur.Err()
}

// Drop removes a collection, and what memory holds of it (hot.go).
func (r *Rebuilds) Drop(ctx context.Context, collection string) error {
	err := r.db.Collection(collection).Drop(ctx)
	hotFor(r.db).drop(collection)
	return err
}

// CollRebuildCatchUps holds the catch-ups of switching rebuilds under way
// (rebuild.Pending), so that one whose process died is finished by another.
const CollRebuildCatchUps = "rebuild_catch_ups"

type pendingDoc struct {
	ID          string            `bson:"_id"`
	Collections map[string]string `bson:"collections"`
	Old         map[string]string `bson:"old"`
	Mark        int64             `bson:"mark"`
	Floor       int64             `bson:"floor"`
	Marked      bool              `bson:"marked"`
	NotBefore   time.Time         `bson:"not_before"`
	Beat        time.Time         `bson:"beat"`
}

// SavePending records a catch-up, replacing the one with its id.
func (r *Rebuilds) SavePending(ctx context.Context, p rebuild.Pending) error {
	doc := pendingDoc(p)
	doc.NotBefore, doc.Beat = doc.NotBefore.UTC(), doc.Beat.UTC()
	return upsert(ctx, r.db.Collection(CollRebuildCatchUps), p.ID, doc)
}

// DonePending removes a catch-up's record, and its claims.
func (r *Rebuilds) DonePending(ctx context.Context, id string) error {
	coll := r.db.Collection(CollRebuildCatchUps)
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "of", Value: id}}); err != nil {
		return err
	}
	_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	return err
}

// pendingClaim is a process's claim on a catch-up whose beat it found old:
// its id names the record and that beat, so that of processes claiming at
// once the one whose insert lands first gets it (a conditional update is
// no claim on the embedded store, which checks an update's filter apart
// from its write).
type pendingClaim struct {
	ID string `bson:"_id"`
	Of string `bson:"of"`
}

// ClaimPending returns the catch-ups beaten last before before, each one
// claimed for the caller, and moves their beat to now.
func (r *Rebuilds) ClaimPending(ctx context.Context, before, now time.Time) ([]rebuild.Pending, error) {
	coll := r.db.Collection(CollRebuildCatchUps)
	cur, err := coll.Find(ctx, bson.D{{Key: "beat", Value: bson.D{{Key: "$lt", Value: before.UTC()}}}})
	if err != nil {
		return nil, err
	}
	var docs []pendingDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	var out []rebuild.Pending
	for _, d := range docs {
		claim := pendingClaim{ID: fmt.Sprintf("%s@%d", d.ID, d.Beat.UnixMilli()), Of: d.ID}
		if _, err := coll.InsertOne(ctx, claim); mongo.IsDuplicateKeyError(err) {
			continue // another process has it
		} else if err != nil {
			return out, err
		}
		d.Beat = now.UTC()
		if err := upsert(ctx, coll, d.ID, d); err != nil {
			return out, err
		}
		out = append(out, rebuild.Pending(d))
	}
	return out, nil
}
