package mongo

import (
	"context"
	"errors"
	"slices"
	"sync"

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
	coll := r.coll(ctx, collection)
	var unsure []string
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
		unlock := r.hot.lockStripes(hc, chunk)
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
			key := coll.Name() + "\x00" + d.ID
			if stored {
				r.stored.Add(key, raws[i])
				r.hot.written(hc, d.ID, raws[i])
			} else {
				r.stored.Remove(key)
				r.hot.forget(hc, d.ID)
				unsure = append(unsure, d.ID)
			}
		}
		unlock()
	}
	return unsure, nil
}

func onlyDuplicates(bwe mongo.BulkWriteException) bool {
	for _, we := range bwe.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return false
		}
	}
	return len(bwe.WriteErrors) > 0
}
