package main

import (
	"context"

	"github.com/capstone-pms/capstone/api"
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
