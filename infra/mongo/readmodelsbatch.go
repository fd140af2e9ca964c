package mongo

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/projections"
)

var _ projections.BatchDocuments = (*ReadModels)(nil)

// storeManyChunk bounds the statements of one bulk write. The embedded
// store holds a connection per statement of an update command until the
// command ends, and hangs past about 100 (see infra/embedded), so its
// bulk writes stay well under that, and one at a time (bulkWrites).
const storeManyChunk = 25

// bulkWrites lets one bulk write of read models run at a time in the
// process, whatever the database, for the embedded store's sake.
var bulkWrites sync.Mutex

// StoreMany stores documents with bulk writes of storeManyChunk: one round
// trip for many documents, where Store takes one each. With Conditional,
// each write still checks its revision; a chunk in which any did not match
// is reported unsure as a whole (a bulk write counts its matches, it does
// not say which), and its documents are left to Store one by one.
func (r *ReadModels) StoreMany(ctx context.Context, collection string, docs []projections.StoredDoc) ([]string, error) {
	coll := r.coll(ctx, collection) // once: the revisions are checked in the collection written
	var moved []string              // not at the revision loaded: a rebuild switched the collection
	if !r.Conditional {
		var err error
		if docs, moved, err = r.atRevisions(ctx, coll, collection, docs); err != nil {
			return nil, err
		}
	}
	if r.stager != nil && !r.Conditional {
		return moved, r.storeStaged(ctx, coll, collection, docs)
	}
	if r.Tokens { // a claim per revision: nothing to share between documents
		var unsure []string
		for _, d := range docs {
			err := r.Store(ctx, collection, d.ID, d.Doc, d.Rev)
			switch {
			case errors.Is(err, projections.ErrConflict):
				unsure = append(unsure, d.ID)
			case err != nil:
				return nil, err
			}
		}
		return unsure, nil
	}
	unsure := moved
	for chunk := range slices.Chunk(docs, storeManyChunk) {
		raws := make([]bson.Raw, len(chunk))
		models := make([]mongo.WriteModel, len(chunk))
		for i, d := range chunk {
			raw, err := withRevision(d.Doc, d.Rev+1)
			if err != nil {
				return nil, err
			}
			raws[i] = raw
			switch {
			case d.Rev == 0:
				models[i] = mongo.NewInsertOneModel().SetDocument(raw)
			case !r.Conditional:
				models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.ID}}).SetReplacement(raw).SetUpsert(true)
			default:
				models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.ID}, {Key: revField, Value: d.Rev}}).SetReplacement(raw)
			}
		}
		hc := r.hot.coll(collection, coll.Name())
		unlock := r.hot.lockAll(hc, chunk)
		bulkWrites.Lock()
		res, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		bulkWrites.Unlock()
		var bwe mongo.BulkWriteException
		switch {
		case errors.As(err, &bwe) && bwe.WriteConcernError == nil && onlyDuplicates(bwe):
			// A document found absent that exists after all (created
			// meanwhile, or two first writes racing): reload and apply again.
			err = nil
			res = nil
		case err != nil:
			for _, d := range chunk { // some may have been written
				r.hot.forget(hc, d.ID)
			}
			unlock()
			return nil, err
		}
		stored := res != nil && (!r.Conditional || int(res.MatchedCount+res.InsertedCount) == len(chunk))
		for i, d := range chunk {
			if stored {
				r.written(coll, hc, d.ID, raws[i])
			} else {
				r.unknown(coll, hc, d.ID)
				unsure = append(unsure, d.ID)
			}
		}
		unlock()
	}
	return unsure, nil
}

// atRevisions splits docs into those the collection holds at the revision
// they were loaded at and the others (atRevision), without Conditional.
func (r *ReadModels) atRevisions(ctx context.Context, coll *mongo.Collection, collection string, docs []projections.StoredDoc) (at []projections.StoredDoc, moved []string, err error) {
	at = docs[:0:0]
	for _, d := range docs {
		if d.Rev == 0 {
			at = append(at, d)
			continue
		}
		switch err := r.atRevision(ctx, coll, collection, d.ID, d.Rev); {
		case errors.Is(err, projections.ErrConflict):
			moved = append(moved, d.ID)
		case err != nil:
			return nil, nil, err
		default:
			at = append(at, d)
		}
	}
	return at, moved, nil
}

func onlyDuplicates(bwe mongo.BulkWriteException) bool {
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return false
		}
	}
	return len(bwe.WriteErrors) > 0
}

// stageChunk is how many documents one insert stages: the embedded store's
// documents a transaction.
const stageChunk = 100

// CollStaging holds the documents of a StoreMany on their way to their read
// model (StageWith); it is empty between them.
const CollStaging = "read_model_staging"

// Stager moves the documents of a staging collection over those they
// replace in another collection, in one transaction: the embedded store,
// whose update command takes a transaction (and an fsync) per document
// where its insert command takes one per hundred
// ([embedded.Store.ApplyStaged]).
type Stager interface {
	EmptyCollection(ctx context.Context, db, name string) error
	ApplyStaged(ctx context.Context, db, staging, target string) error
}

// The command names under which CountStaged reports a stager's
// transactions.
const (
	StagedMoveCommand     = "stagedMove"
	StagingEmptiedCommand = "emptyCollection"
)

// CountStaged is s telling observe of each of its transactions, as a
// command monitor is told of the driver's commands: they are the embedded
// store's own SQLite transactions, which no monitor sees.
func CountStaged(s Stager, observe func(command, collection string, d time.Duration, err error)) Stager {
	return countedStager{s, observe}
}

type countedStager struct {
	Stager
	observe func(command, collection string, d time.Duration, err error)
}

func (c countedStager) ApplyStaged(ctx context.Context, db, staging, target string) error {
	start := time.Now()
	err := c.Stager.ApplyStaged(ctx, db, staging, target)
	c.observe(StagedMoveCommand, target, time.Since(start), err)
	return err
}

func (c countedStager) EmptyCollection(ctx context.Context, db, name string) error {
	start := time.Now()
	err := c.Stager.EmptyCollection(ctx, db, name)
	c.observe(StagingEmptiedCommand, name, time.Since(start), err)
	return err
}

// StageWith makes StoreMany store through s, when revisions are not
// checked (the one process that writes the read models of the embedded
// store it runs): the documents are inserted into CollStaging, then moved
// over the old ones at once. A cohort's allocation, 5,000 documents, is
// stored in some 50 transactions instead of 5,000, and readers see all of
// it or none.
func (r *ReadModels) StageWith(s Stager) { r.stager = s }

// storeStaged is StoreMany through the stager: every document is stored,
// or none (an error after the move began leaves what the store has
// unknown here, so they are forgotten from memory and the caller applies
// the commit again).
func (r *ReadModels) storeStaged(ctx context.Context, coll *mongo.Collection, collection string, docs []projections.StoredDoc) error {
	if len(docs) == 0 {
		return nil
	}
	raws := make([]any, len(docs))
	for i, d := range docs {
		raw, err := withRevision(d.Doc, d.Rev+1)
		if err != nil {
			return err
		}
		raws[i] = raw
	}
	hc := r.hot.coll(collection, coll.Name())
	unlock := r.hot.lockAll(hc, docs)
	defer unlock()
	if err := r.moveStaged(ctx, coll, raws); err != nil {
		for _, d := range docs {
			r.unknown(coll, hc, d.ID)
		}
		return err
	}
	for i, d := range docs {
		r.written(coll, hc, d.ID, raws[i].(bson.Raw))
	}
	return nil
}

// staging is what this process knows of CollStaging, under bulkWrites:
// dirty until it has emptied it, and after a move that failed.
type staging struct{ dirty bool }

// moveStaged stores the encoded documents in coll through the staging
// collection: inserted there, then moved over the documents they replace
// in one transaction. On an error the documents may or may not be stored.
func (r *ReadModels) moveStaged(ctx context.Context, coll *mongo.Collection, raws []any) error {
	bulkWrites.Lock()
	defer bulkWrites.Unlock()
	// What a failed attempt (or a process before this one) left must not
	// be moved with these.
	if r.staging.dirty {
		if err := r.stager.EmptyCollection(ctx, r.db.Name(), CollStaging); err != nil {
			return err
		}
		r.staging.dirty = false
	}
	r.staging.dirty = true
	// In inserts of stageChunk: the store decodes a whole command at
	// once, and a cohort's in one would add tens of MiB at its peak.
	for chunk := range slices.Chunk(raws, stageChunk) {
		if _, err := r.db.Collection(CollStaging).InsertMany(ctx, chunk); err != nil {
			return err
		}
	}
	if err := r.stager.ApplyStaged(ctx, r.db.Name(), CollStaging, coll.Name()); err != nil {
		return err
	}
	r.staging.dirty = false // the move empties it
	return nil
}
