package mongo_test

import (
	"sync"
	"testing"
	"time"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections/rebuild"
)

// TestClaimPendingOnce: a rebuild's catch-up on record is claimed once its
// beat is old, by one of the processes that claim it at once, and not
// again until its beat is old again; once done it is gone.
func TestClaimPendingOnce(t *testing.T) {
	ctx := testCtx(t)
	db := newDB(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	p := rebuild.Pending{ID: "r1", Collections: map[string]string{"users": "users_r1"}, Old: map[string]string{"users": "users"},
		Mark: 42, Marked: true, NotBefore: now.Add(-time.Minute), Beat: now.Add(-time.Minute)}
	if err := imongo.NewRebuilds(db, nil).SavePending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := imongo.NewRebuilds(db, nil).ClaimPending(ctx, now.Add(-2*time.Minute), now); err != nil || len(got) != 0 {
		t.Fatalf("claimed %v, %v while its beat is recent enough", got, err)
	}
	var mu sync.Mutex
	var claims []rebuild.Pending
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := imongo.NewRebuilds(db, nil).ClaimPending(ctx, now.Add(-30*time.Second), now)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			claims = append(claims, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(claims) != 1 {
		t.Fatalf("%d processes claimed the catch-up; want 1", len(claims))
	}
	c := claims[0]
	if c.Mark != 42 || !c.Marked || c.Collections["users"] != "users_r1" || c.Old["users"] != "users" || !c.NotBefore.Equal(p.NotBefore) || !c.Beat.Equal(now) {
		t.Fatalf("claimed %+v, saved %+v", c, p)
	}
	if got, _ := imongo.NewRebuilds(db, nil).ClaimPending(ctx, now.Add(-30*time.Second), now); len(got) != 0 {
		t.Fatal("a claimed catch-up was claimed again at once")
	}
	if err := imongo.NewRebuilds(db, nil).DonePending(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := imongo.NewRebuilds(db, nil).ClaimPending(ctx, now.Add(time.Hour), now); len(got) != 0 {
		t.Fatal("a finished catch-up is still on record")
	}
}
