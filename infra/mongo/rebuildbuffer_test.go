package mongo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestRebuildFlushWritesEveryDocumentOnce flushes a random number of
// documents, from none to several batches of every writer, and finds each
// in the rebuilt collection once, as it was folded, at the rebuild's
// revision.
func TestRebuildFlushWritesEveryDocumentOnce(t *testing.T) {
	ctx := testCtx(t)
	db := newDB(t)
	rebuilds := imongo.NewRebuilds(db, nil)
	for round, n := range []int{0, 1, 127, 128, 129, 256, 257, rand.IntN(1200)} {
		coll := fmt.Sprint("flushed_", round)
		before := time.Now()
		fresh, err := rebuilds.Fresh(ctx, coll, before)
		if err != nil {
			t.Fatal(err)
		}
		buffer := rebuilds.Buffer()
		want := map[string]string{}
		for i := range n {
			id := fmt.Sprint("doc-", i)
			want[id] = strings.Repeat("x", rand.IntN(64))
			if err := buffer.Store(ctx, coll, id, bson.M{"_id": id, "name": want[id]}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := buffer.Flush(ctx, coll, fresh); err != nil {
			t.Fatalf("%d documents: %v", n, err)
		}
		cur, err := db.Collection(fresh).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			ID   string `bson:"_id"`
			Name string `bson:"name"`
			Rev  int64  `bson:"_rev"`
		}
		if err := cur.All(ctx, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d documents flushed, the collection holds %d", n, len(got))
		}
		for _, d := range got {
			name, ok := want[d.ID]
			if !ok || d.Name != name || d.Rev < imongo.RebuiltRevision(before) {
				t.Fatalf("%d documents flushed: %+v, want name %q (known %v) at a rebuild's revision ≥ %d", n, d, name, ok, imongo.RebuiltRevision(before))
			}
			delete(want, d.ID)
		}
	}
}

// TestRebuildFlushReportsAFailedInsert: a flush whose insert fails (here a
// document already in the collection) says so, whichever writer failed, and
// so does a flush whose context has ended.
func TestRebuildFlushReportsAFailedInsert(t *testing.T) {
	ctx := testCtx(t)
	db := newDB(t)
	rebuilds := imongo.NewRebuilds(db, nil)
	fresh, err := rebuilds.Fresh(ctx, "clashing", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := 300 + rand.IntN(300)
	taken := fmt.Sprint("doc-", rand.IntN(n))
	if _, err := db.Collection(fresh).InsertOne(ctx, bson.M{"_id": taken}); err != nil {
		t.Fatal(err)
	}
	buffer := rebuilds.Buffer()
	for i := range n {
		id := fmt.Sprint("doc-", i)
		if err := buffer.Store(ctx, "clashing", id, bson.M{"_id": id}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := buffer.Flush(ctx, "clashing", fresh); err == nil {
		t.Fatalf("flushed %d documents over %s, which the collection already held: no error", n, taken)
	}
	unclashed, err := rebuilds.Fresh(ctx, "clashing", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := buffer.Flush(cancelled, "clashing", unclashed); err == nil {
		t.Fatal("a flush after its context ended: no error")
	}
}
