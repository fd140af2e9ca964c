package mongo_test

import (
	"fmt"
	"reflect"
	"slices"
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
