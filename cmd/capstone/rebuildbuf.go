package main

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/projections"
)

// bufferedDocs holds a rebuild's documents in memory, so folding the whole
// event store costs no database round trip per commit; flush then writes
// them in bulk. (A cohort's read models are thousands of small documents.)
type bufferedDocs struct {
	mu   sync.Mutex
	docs map[string]map[string][]byte // collection -> id -> BSON
}

var _ projections.Documents = (*bufferedDocs)(nil)

func newBufferedDocs() *bufferedDocs { return &bufferedDocs{docs: map[string]map[string][]byte{}} }

func (b *bufferedDocs) Load(_ context.Context, collection, id string, into any) (bool, int64, error) {
	b.mu.Lock()
	raw, ok := b.docs[collection][id]
	b.mu.Unlock()
	if !ok {
		return false, 0, nil
	}
	return true, 0, bson.Unmarshal(raw, into)
}

func (b *bufferedDocs) Store(_ context.Context, collection, id string, doc any, _ int64) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.docs[collection] == nil {
		b.docs[collection] = map[string][]byte{}
	}
	b.docs[collection][id] = raw
	return nil
}

// flush inserts the documents of logical collection into target, in batches
// of 50 (the embedded store's safe size), with the first revision.
func (b *bufferedDocs) flush(ctx context.Context, logical string, target *mongo.Collection) error {
	b.mu.Lock()
	docs := b.docs[logical]
	b.mu.Unlock()
	batch := make([]any, 0, 50)
	write := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := target.InsertMany(ctx, batch); err != nil {
			return fmt.Errorf("write rebuilt %s: %w", logical, err)
		}
		batch = batch[:0]
		return nil
	}
	for _, raw := range docs {
		var d bson.D
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		batch = append(batch, append(d, bson.E{Key: "_rev", Value: int64(1)}))
		if len(batch) == 50 {
			if err := write(); err != nil {
				return err
			}
		}
	}
	return write()
}
