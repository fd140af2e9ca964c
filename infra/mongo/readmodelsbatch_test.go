package mongo_test

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
)

// TestStoreMany: documents stored together are stored as Store would store
// them, revisions included. With revisions checked, a document another
// writer moved on is never overwritten: it is among those reported unsure
// (with the others of its bulk write, which may or may not be stored), and
// every document not reported is stored; without, every document is stored.
//
// Staged (the embedded store: StageWith), the documents are stored
// together, and memory (a hot read model) holds what the store holds.
func TestStoreMany(t *testing.T) {
	const coll = "projects"
	for _, mode := range []string{"conditional=false", "conditional=true", "staged"} {
		conditional, staged := mode == "conditional=true", mode == "staged"
		t.Run(mode, func(t *testing.T) {
			if staged && server == nil {
				t.Skip("staging is the embedded store's")
			}
			ctx := testCtx(t)
			db := newDB(t)
			r, other := imongo.NewReadModels(db), imongo.NewReadModels(db)
			r.Conditional, other.Conditional = conditional, conditional
			if staged {
				r.ServeHot(imongo.HotTrusted)
				r.StageWith(server)
			}
			var docs []projections.StoredDoc
			for i := range 60 {
				id := fmt.Sprintf("d%02d", i)
				docs = append(docs, projections.StoredDoc{ID: id, Doc: item{ID: id, Name: "first"}})
			}
			if unsure, err := r.StoreMany(ctx, coll, docs); err != nil || len(unsure) > 0 {
				t.Fatalf("first StoreMany: unsure %v, %v", unsure, err)
			}
			moved := "d37"
			if err := other.Store(ctx, coll, moved, item{ID: moved, Name: "moved on"}, 1); err != nil {
				t.Fatal(err)
			}
			for i := range docs {
				docs[i].Doc, docs[i].Rev = item{ID: docs[i].ID, Name: "second"}, 1
			}
			unsure, err := r.StoreMany(ctx, coll, docs)
			if err != nil {
				t.Fatal(err)
			}
			if conditional != slices.Contains(unsure, moved) || (!conditional && len(unsure) > 0) || len(unsure) > 25 {
				t.Fatalf("unsure %v: want %s among at most a bulk write's documents, and only with revisions checked", unsure, moved)
			}
			fresh := imongo.NewReadModels(db) // nothing cached
			for _, d := range docs {
				var got item
				_, rev, err := fresh.Load(ctx, coll, d.ID, &got)
				if err != nil {
					t.Fatal(err)
				}
				if staged {
					var held item
					if found, err := r.Get(ctx, coll, d.ID, &held); err != nil || !found || !reflect.DeepEqual(held, got) {
						t.Errorf("%s: memory holds %+v (found %v, %v), the store %+v", d.ID, held, found, err, got)
					}
				}
				want := "second"
				switch {
				case d.ID == moved && conditional:
					want = "moved on"
				case slices.Contains(unsure, d.ID) && got.Name == "first":
					want = "first" // unsure: stored or not, the caller stores it again
				}
				if got.Name != want || rev != 2 && want != "first" {
					t.Errorf("%s: %q at revision %d, want %q at 2", d.ID, got.Name, rev, want)
				}
			}
		})
	}
}

// TestConcurrentStoresShareWrites: without revisions checked (the one
// process that writes the read models), replaces that arrive together are
// sent together, in bulk writes or (staged, on the embedded store) moved
// in one transaction, and each is stored as Store would store it: the
// store holds every document's last version at its revision, and memory
// what the store holds.
func TestConcurrentStoresShareWrites(t *testing.T) {
	const coll, docs = "projects", 60
	for _, staged := range []bool{false, true} {
		t.Run(fmt.Sprint("staged=", staged), func(t *testing.T) {
			if staged && server == nil {
				t.Skip("staging is the embedded store's")
			}
			mc, updates := counting(t, "update")
			db := mc.Database(newDB(t).Name())
			ctx := testCtx(t)
			r := imongo.NewReadModels(db)
			r.ServeHot(imongo.HotTrusted)
			if staged {
				r.StageWith(server)
			}
			for i := range docs {
				id := fmt.Sprintf("d%02d", i)
				if err := r.Store(ctx, coll, id, item{ID: id, Name: "first"}, 0); err != nil {
					t.Fatal(err)
				}
			}
			before := updates.Load()
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range docs {
				wg.Go(func() {
					<-start
					id := fmt.Sprintf("d%02d", i)
					if err := r.Store(ctx, coll, id, item{ID: id, Name: fmt.Sprint("second ", i)}, 1); err != nil {
						t.Error(err)
					}
				})
			}
			close(start)
			wg.Wait()
			fresh := imongo.NewReadModels(db)
			for i := range docs {
				id := fmt.Sprintf("d%02d", i)
				var got, held item
				_, rev, err := fresh.Load(ctx, coll, id, &got)
				if err != nil || got.Name != fmt.Sprint("second ", i) || rev != 2 {
					t.Errorf("%s: %q at revision %d (%v), want %q at 2", id, got.Name, rev, err, fmt.Sprint("second ", i))
				}
				if _, err := r.Get(ctx, coll, id, &held); err != nil || !reflect.DeepEqual(held, got) {
					t.Errorf("%s: memory holds %+v (%v), the store %+v", id, held, err, got)
				}
			}
			if n := updates.Load() - before; n >= docs {
				t.Errorf("%d update commands for %d replaces: nothing was written together", n, docs)
			} else {
				t.Logf("%d replaces in %d update commands", docs, n)
			}
		})
	}
}
