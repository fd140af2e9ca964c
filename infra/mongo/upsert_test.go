package mongo_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestConcurrentFirstWritesOfOneID: concurrent first writes of one id must all succeed (MongoDB >= 4.2 retries
// such upserts itself; FerretDB returns E11000 to the losers).
func TestConcurrentFirstWritesOfOneID(t *testing.T) {
	db := newDB(t)
	r, s, c := imongo.NewReadModels(db), imongo.NewEventStore(db, registry), imongo.NewCredentials(db)
	ops := map[string]func(ctx context.Context, id string, i int) error{
		"ReadModels.Put": func(ctx context.Context, id string, i int) error {
			return r.Store(ctx, "users", id, bson.M{"n": i}, 0)
		},
		"EventStore.SaveSnapshot": func(ctx context.Context, id string, i int) error {
			return s.SaveSnapshot(ctx, commands.Snapshot{StreamID: id, Version: int64(i), State: []byte("{}")})
		},
		"Credentials.SetPasswordHash": func(ctx context.Context, id string, i int) error {
			return c.SetPasswordHash(ctx, id, fmt.Sprint("hash", i))
		},
	}
	for name, op := range ops {
		for round := range 5 {
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); <-start; errs[i] = op(testCtx(t), fmt.Sprint("new-", round), i) }()
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s round %d writer %d: %v", name, round, i, err)
				}
			}
		}
	}
}
