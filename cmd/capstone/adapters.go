package main

import (
	"context"
	"time"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/infra/metrics"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// idempotencyAdapter fits the MongoDB idempotency store to the API's port
// (infra does not import the API). The two record types have the same
// fields, so each crossing is a conversion the compiler checks: a field
// added to one and not the other fails the build here.
type idempotencyAdapter struct{ store *imongo.Idempotency }

var _ api.IdempotencyStore = idempotencyAdapter{}

func (i idempotencyAdapter) Begin(ctx context.Context, key string, rec api.IdempotentRecord) (api.IdempotentRecord, bool, error) {
	held, fresh, err := i.store.Begin(ctx, key, imongo.IdempotencyRecord(rec))
	return api.IdempotentRecord(held), fresh, err
}

func (i idempotencyAdapter) Finish(ctx context.Context, key string, rec api.IdempotentRecord) error {
	return i.store.Finish(ctx, key, imongo.IdempotencyRecord(rec))
}

// countedStager counts the embedded store's staged moves in the store
// metrics, as the driver's commands are (they are SQLite transactions of
// its own, which no command monitor sees).
type countedStager struct {
	imongo.Stager
	m *metrics.Metrics
}

func (c countedStager) ApplyStaged(ctx context.Context, db, staging, target string) error {
	start := time.Now()
	err := c.Stager.ApplyStaged(ctx, db, staging, target)
	c.m.StoreTransaction(metrics.StagedMove, target, time.Since(start), err)
	return err
}

func (c countedStager) EmptyCollection(ctx context.Context, db, name string) error {
	start := time.Now()
	err := c.Stager.EmptyCollection(ctx, db, name)
	c.m.StoreTransaction(metrics.EmptyCollection, name, time.Since(start), err)
	return err
}
