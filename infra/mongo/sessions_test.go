package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands/user"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestSessions: EndAll moves the generation on; signed-out ids are kept
// until their token expires, at most user.MaxSignedOut of them, and
// concurrent sign-outs of one user all stick.
func TestSessions(t *testing.T) {
	s := imongo.NewSessions(gated(t, newDB(t)))
	ctx := testCtx(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cur := func(id string) user.Session {
		t.Helper()
		c, err := s.Current(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := cur("u1"); c.Generation != 0 || len(c.SignedOut) != 0 {
		t.Fatalf("a user never seen: %+v", c)
	}
	for want := int64(1); want <= 3; want++ {
		if err := s.EndAll(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		if c := cur("u1"); c.Generation != want {
			t.Fatalf("after %d EndAll: generation %d", want, c.Generation)
		}
	}
	if cur("u2").Generation != 0 {
		t.Fatal("EndAll of one user moved another's generation")
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.SignOut(ctx, "u2", fmt.Sprintf("jti-%d", i), now.Add(time.Hour), now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	c := cur("u2")
	for i := range 8 {
		if c.Accepts(0, fmt.Sprintf("jti-%d", i)) {
			t.Fatalf("a concurrent sign-out was lost: %+v", c)
		}
	}
	if !c.Accepts(0, "another") || c.Accepts(-1, "another") {
		t.Fatalf("Accepts is wrong: %+v", c)
	}

	// Expired ids are dropped at the next sign-out.
	if err := s.SignOut(ctx, "u2", "late", now.Add(3*time.Hour), now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c := cur("u2"); len(c.SignedOut) != 1 || c.SignedOut[0].TokenID != "late" {
		t.Fatalf("after the others expired: %+v", c.SignedOut)
	}

	// Past MaxSignedOut live ids, a sign-out ends all the user's tokens.
	for i := range user.MaxSignedOut + 1 {
		if err := s.SignOut(ctx, "u3", fmt.Sprintf("t%d", i), now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
	}
	if c := cur("u3"); c.Generation != 1 || len(c.SignedOut) != 0 {
		t.Fatalf("after %d sign-outs: generation %d, %d ids kept; want all ended", user.MaxSignedOut+1, c.Generation, len(c.SignedOut))
	}
}

// TestPasswordTokens: only the latest token of a user works; taking it ends
// it; Revoke ends it; of concurrent takers exactly one wins.
func TestPasswordTokens(t *testing.T) {
	s := imongo.NewPasswordTokens(newDB(t))
	ctx := testCtx(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	take := func(token string) (string, error) {
		g, err := s.Take(ctx, token, now)
		return g.UserID, err
	}
	version := int64(0)
	save := func(token, id string) {
		t.Helper()
		version++
		if err := s.Save(ctx, token, user.TokenGrant{UserID: id, IssuedVersion: version}, exp); err != nil {
			t.Fatal(err)
		}
	}
	save("first", "u1")
	save("second", "u1")
	save("other", "u2")
	if _, err := take("first"); !errors.Is(err, user.ErrBadToken) {
		t.Fatalf("a replaced token: %v, want ErrBadToken", err)
	}
	if id, err := take("second"); err != nil || id != "u1" {
		t.Fatalf("the latest token: %q %v", id, err)
	}
	if _, err := take("second"); !errors.Is(err, user.ErrBadToken) {
		t.Fatalf("a used token: %v", err)
	}
	if err := s.Revoke(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := take("other"); !errors.Is(err, user.ErrBadToken) {
		t.Fatalf("a revoked token: %v", err)
	}
	save("third", "u1")
	save("fourth", "u4")
	if g, err := s.Take(ctx, "fourth", now); err != nil || g != (user.TokenGrant{UserID: "u4", IssuedVersion: version}) {
		t.Fatalf("the grant read back: %+v %v", g, err)
	}
	if _, err := s.Take(ctx, "third", exp.Add(time.Second)); !errors.Is(err, user.ErrBadToken) {
		t.Fatalf("an expired token: %v", err)
	}

	save("raced", "u3")
	var wg sync.WaitGroup
	wins := make(chan string, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if id, err := take("raced"); err == nil {
				wins <- id
			}
		}()
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Fatalf("%d concurrent takers won, want 1", len(wins))
	}
}

// gated is db through a client that, on the embedded store, sends writes
// through the store's write gate as the service does: the gate is what makes
// a filtered update a compare-and-swap there.
func gated(t *testing.T, db *mongo.Database) *mongo.Database {
	if server == nil {
		return db
	}
	c, err := mongo.Connect(options.Client().ApplyURI(storeURI).SetMonitor(server.WriteGate().Monitor(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(db.Name())
}

// TestSessionsWithRevisionClaims: on a store where a filtered update is not
// atomic and no write gate orders the writers (the embedded store shared by
// several processes, each with its own client), concurrent sign-outs and
// ends of every sign-in of one user all stick when each change claims its
// revision. Random numbers of each, in random order, round after round.
func TestSessionsWithRevisionClaims(t *testing.T) {
	db := newDB(t)
	// Each writer its own client: as separate processes, nothing of the
	// driver or a gate orders their writes.
	writers := make([]*imongo.Sessions, 4)
	for i := range writers {
		c, err := mongo.Connect(options.Client().ApplyURI(storeURI))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		writers[i] = imongo.NewSessions(c.Database(db.Name()))
		writers[i].Tokens = true
	}
	ctx := testCtx(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for round := range 6 {
		userID := fmt.Sprintf("u%d", round)
		signOuts, endAlls := 1+rng.IntN(12), rng.IntN(3)
		var wg sync.WaitGroup
		for i := range signOuts + endAlls {
			s := writers[rng.IntN(len(writers))]
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i < signOuts {
					err = s.SignOut(ctx, userID, fmt.Sprintf("jti-%d", i), now.Add(time.Hour), now)
				} else {
					err = s.EndAll(ctx, userID)
				}
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		c, err := writers[0].Current(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Generation != int64(endAlls) {
			t.Fatalf("round %d: %d ends of every sign-in at once left generation %d", round, endAlls, c.Generation)
		}
		for i := range signOuts {
			// Every token was issued at generation 0: signed out, or ended
			// by a later end of every sign-in.
			if c.Accepts(0, fmt.Sprintf("jti-%d", i)) {
				t.Fatalf("round %d: of %d sign-outs and %d ends at once, jti-%d was lost: %+v", round, signOuts, endAlls, i, c)
			}
		}
		if endAlls == 0 && len(c.SignedOut) != signOuts {
			t.Fatalf("round %d: %d sign-outs at once kept %d ids", round, signOuts, len(c.SignedOut))
		}
	}
}

// TestSessionsTakeOverADeadClaim: a process killed between claiming a
// session record's revision and writing it leaves the claim behind; a
// sign-out then waits until the claim is old enough to be a dead
// process's, takes the revision over and sticks.
func TestSessionsTakeOverADeadClaim(t *testing.T) {
	db := newDB(t)
	s := imongo.NewSessions(db)
	s.Tokens = true
	ctx := testCtx(t)
	// Revision 1 of u's record, claimed 8 s ago by a writer that died:
	// 2 s short of a dead claim.
	dead := bson.D{{Key: "_id", Value: imongo.CollSessions + "/u@1"}, {Key: "at", Value: time.Now().Add(-8 * time.Second).UTC()}}
	if _, err := db.Collection(imongo.CollRevisionTokens).InsertOne(ctx, dead); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	start := time.Now()
	if err := s.SignOut(ctx, "u", "jti", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Fatalf("the sign-out went through after %v, while a claim of the revision was not yet stale", waited)
	}
	c, err := s.Current(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	if c.Accepts(0, "jti") {
		t.Fatalf("the sign-out past a dead claim was lost: %+v", c)
	}
}

// TestSessionsByIDAlone: with Tokens, a sign-out and an end of every
// sign-in read and write the sessions by _id alone, which the embedded
// store serves from its index, where the compare-and-swap filtered on the
// revision too read the whole collection: a sign-out's cost grew with the
// users who had ever signed out (90 ms among 6,000 records, against 4 ms
// among 10; 5 ms either way with claims).
func TestSessionsByIDAlone(t *testing.T) {
	ctx := testCtx(t)
	var scans atomic.Int64
	mc, _ := countingWhere(t, func(e *event.CommandStartedEvent) bool {
		var filters []bson.Raw
		switch e.CommandName {
		case "find":
			if coll, _ := e.Command.Lookup("find").StringValueOK(); coll == imongo.CollSessions {
				f, _ := e.Command.Lookup("filter").DocumentOK()
				filters = append(filters, f)
			}
		case "update", "delete":
			coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
			list, _ := e.Command.Lookup(e.CommandName + "s").ArrayOK()
			vals, _ := list.Values()
			for _, v := range vals {
				if coll == imongo.CollSessions {
					f, _ := v.Document().Lookup("q").DocumentOK()
					filters = append(filters, f)
				}
			}
		}
		for _, f := range filters {
			elems, _ := f.Elements()
			if _, ok := f.Lookup("_id").StringValueOK(); len(elems) != 1 || !ok {
				scans.Add(1)
			}
		}
		return false
	})
	s := imongo.NewSessions(mc.Database(newDB(t).Name()))
	s.Tokens = true
	now := time.Now()
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	for i := range 200 {
		userID := fmt.Sprint("u", rng.IntN(20))
		var err error
		if rng.IntN(4) == 0 {
			err = s.EndAll(ctx, userID)
		} else {
			err = s.SignOut(ctx, userID, fmt.Sprint("t", i), now.Add(time.Hour), now)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := scans.Load(); n != 0 {
		t.Fatalf("%d reads or writes of the sessions were filtered on more than _id", n)
	}
}
