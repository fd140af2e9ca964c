package mongo_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands/user"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestPasswordTokensAcrossProcesses: processes on one store that nothing
// orders their writes to (a client each, as capstone dev's APIs reach
// dev-store) redeem a user's set-password token while one or two new
// tokens are issued, at once, in a random order. Afterwards exactly one of
// the new tokens works, once, and the redeemed one never again: a
// redemption never ends a token issued meanwhile.
func TestPasswordTokensAcrossProcesses(t *testing.T) {
	db := newDB(t)
	stores := make([]*imongo.PasswordTokens, 3)
	for i := range stores {
		c, err := mongo.Connect(options.Client().ApplyURI(storeURI))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(testCtx(t)) })
		stores[i] = imongo.NewPasswordTokens(c.Database(db.Name()))
	}
	ctx := testCtx(t)
	now := time.Now()
	expires := now.Add(time.Hour)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for round := range 150 {
		userID := fmt.Sprintf("u%d", round)
		tok := func(n int) string { return fmt.Sprintf("token-%d-%d", round, n) }
		grant := user.TokenGrant{UserID: userID, IssuedVersion: 1}
		if err := stores[0].Save(ctx, tok(0), grant, expires); err != nil {
			t.Fatal(err)
		}
		issued := 1 + rng.IntN(2)
		var wg sync.WaitGroup
		for i := range 1 + issued {
			s := stores[i]
			delay := time.Duration(rng.IntN(1500)) * time.Microsecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				var err error
				if i == 0 {
					_, err = s.Take(ctx, tok(0), now)
				} else {
					err = s.Save(ctx, tok(i), grant, expires)
				}
				if err != nil && !errors.Is(err, user.ErrBadToken) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if _, err := stores[rng.IntN(3)].Take(ctx, tok(0), now); !errors.Is(err, user.ErrBadToken) {
			t.Fatalf("round %d: the token redeemed while %d were issued works again: %v", round, issued, err)
		}
		var works []int
		for i := 1; i <= issued; i++ {
			if g, err := stores[rng.IntN(3)].Take(ctx, tok(i), now); err == nil {
				if g != grant {
					t.Fatalf("round %d: token %d grants %+v", round, i, g)
				}
				works = append(works, i)
			} else if !errors.Is(err, user.ErrBadToken) {
				t.Fatal(err)
			}
		}
		if len(works) != 1 {
			t.Fatalf("round %d: of %d tokens issued while one was redeemed, %v work, want exactly one", round, issued, works)
		}
		if _, err := stores[rng.IntN(3)].Take(ctx, tok(works[0]), now); !errors.Is(err, user.ErrBadToken) {
			t.Fatalf("round %d: a redeemed token works again: %v", round, err)
		}
	}
}
