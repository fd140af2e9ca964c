package mongo_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// hotItem is a document of a hot read model that lists (the supervisors):
// "active" is what the list filters on.
type hotItem struct {
	ID     string            `bson:"_id"`
	Name   string            `bson:"name"`
	Active bool              `bson:"active"`
	Areas  []string          `bson:"areas"`
	Seen   map[string]int64  `bson:"versions"`
	Extra  map[string]string `bson:"extra,omitempty"`
}

const hotColl = "supervisors"

// newHot is a read-model store on a database of its own, serving from
// memory as mode says.
func newHot(t *testing.T, mode imongo.HotMode) (*imongo.ReadModels, *mongo.Database, context.Context) {
	t.Helper()
	db := newDB(t)
	r := imongo.NewReadModels(db)
	r.ServeHot(mode)
	return r, db, testCtx(t)
}

// TestReadModelsHot: the read-model store's contract holds when reads are
// served from memory, trusted or validated.
func TestReadModelsHot(t *testing.T) {
	for name, mode := range map[string]imongo.HotMode{"trusted": imongo.HotTrusted, "validated": imongo.HotValidated} {
		t.Run(name, func(t *testing.T) {
			runReadModelsContract(t, func(t *testing.T) *imongo.ReadModels {
				r := imongo.NewReadModels(newDB(t))
				r.ServeHot(mode)
				return r
			})
		})
	}
}

// TestHotReadsMatchStore: while writers store random documents (some
// inactive, some checkpoints, as a projection writes them) and readers read
// them at once, from memory held small enough to evict, every Get and
// every list (cursor, limit, active only) answers what the store holds
// once the writes are done; and at any moment a Get from memory is a
// document some write stored.
func TestHotReadsMatchStore(t *testing.T) {
	for _, limit := range []int{4096, 7} {
		t.Run(fmt.Sprint("held ", limit), func(t *testing.T) {
			defer imongo.SetHotLimit(hotColl, limit)()
			db := newDB(t)
			ctx := testCtx(t)
			mem, store := imongo.NewReadModels(db), imongo.NewReadModels(db)
			mem.ServeHot(imongo.HotTrusted)
			ids := make([]string, 12)
			for i := range ids {
				ids[i] = fmt.Sprintf("s%02d", i)
			}
			ids[11] = "checkpoint:supervisors:cohort"
			var mu sync.Mutex
			written := map[string]map[string]bool{} // id -> every name stored
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(2)
				go func() { // a writer owns every fourth id, as a projector's worker its streams
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for n := range 40 {
						id := ids[(w+4*rng.IntN(3))%len(ids)]
						var cur hotItem
						_, rev, err := mem.Load(ctx, hotColl, id, &cur)
						if err != nil {
							t.Error(err)
							return
						}
						d := hotItem{ID: id, Name: fmt.Sprintf("%s#%d.%d", id, w, n), Active: rng.IntN(3) > 0,
							Areas: []string{"a", "b"}[:rng.IntN(3)], Seen: map[string]int64{"cohort": int64(n)}}
						mu.Lock()
						if written[id] == nil {
							written[id] = map[string]bool{}
						}
						written[id][d.Name] = true
						mu.Unlock()
						if err := mem.Store(ctx, hotColl, id, d, rev); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				go func() { // a reader
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 2))
					for range 60 {
						var got hotItem
						id := ids[rng.IntN(len(ids))]
						found, err := mem.Get(ctx, hotColl, id, &got)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						ok := !found || written[id][got.Name]
						mu.Unlock()
						if !ok {
							t.Errorf("Get(%s) from memory = %+v, which no write stored", id, got)
						}
						var page []hotItem
						if err := mem.Find(ctx, hotColl, queries.Filter{ActiveOnly: true, Limit: 1 + rng.IntN(5)}, &page); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, id := range ids {
				var m, s hotItem
				fm, err1 := mem.Get(ctx, hotColl, id, &m)
				fs, err2 := store.Get(ctx, hotColl, id, &s)
				if err1 != nil || err2 != nil || fm != fs || !cmp.Equal(m, s) {
					t.Fatalf("Get(%s): memory %v %+v (%v), store %v %+v (%v)", id, fm, m, err1, fs, s, err2)
				}
			}
			rng := rand.New(rand.NewPCG(9, 9))
			for range 50 {
				f := queries.Filter{Equal: map[string]string{}, ActiveOnly: rng.IntN(3) > 0, Limit: rng.IntN(8)}
				if rng.IntN(2) == 0 {
					f.After = ids[rng.IntN(len(ids))]
				}
				var m, s []hotItem
				if err := mem.Find(ctx, hotColl, f, &m); err != nil {
					t.Fatal(err)
				}
				if err := store.Find(ctx, hotColl, f, &s); err != nil {
					t.Fatal(err)
				}
				if !cmp.Equal(m, s) {
					t.Fatalf("Find(%+v):\n memory %+v\n store  %+v", f, m, s)
				}
			}
		})
	}
}

// TestHotCopiesAreTheCallers: what a read from memory gives is the
// caller's own: changing it changes no later read.
func TestHotCopiesAreTheCallers(t *testing.T) {
	r, _, ctx := newHot(t, imongo.HotTrusted)
	want := hotItem{ID: "s1", Name: "One", Active: true, Areas: []string{"x"}, Seen: map[string]int64{"a": 1}}
	if err := r.Store(ctx, hotColl, "s1", want, 0); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var got hotItem
		if _, err := r.Get(ctx, hotColl, "s1", &got); err != nil || !cmp.Equal(got, want) {
			t.Fatalf("Get = %+v (%v), want %+v", got, err, want)
		}
		got.Areas[0], got.Seen["a"], got.Name = "changed", 9, "changed"
		var list []hotItem
		if err := r.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &list); err != nil || len(list) != 1 || !cmp.Equal(list[0], want) {
			t.Fatalf("Find = %+v (%v), want [%+v]", list, err, want)
		}
		list[0].Areas[0], list[0].Seen["a"] = "changed", 9
	}
}

// TestHotSeesEveryWriterOfTheProcess: a rebuild writes through a store of
// its own (fresh collections, then the live ones in its catch-up); what
// the service serves from memory shows those writes too, before and after
// the switch, and a dropped collection leaves nothing behind.
func TestHotSeesEveryWriterOfTheProcess(t *testing.T) {
	live, db, ctx := newHot(t, imongo.HotTrusted)
	get := func(want string) {
		t.Helper()
		var got hotItem
		if found, err := live.Get(ctx, hotColl, "s1", &got); err != nil || !found || got.Name != want {
			t.Fatalf("Get = %v %+v (%v), want the name %q", found, got, err, want)
		}
	}
	if err := live.Store(ctx, hotColl, "s1", hotItem{ID: "s1", Name: "v1", Active: true}, 0); err != nil {
		t.Fatal(err)
	}
	get("v1")
	rebuild := imongo.NewReadModels(db) // the rebuild's own
	var cur hotItem
	_, rev, err := rebuild.Load(ctx, hotColl, "s1", &cur)
	if err != nil {
		t.Fatal(err)
	}
	if err := rebuild.Store(ctx, hotColl, "s1", hotItem{ID: "s1", Name: "v2", Active: true}, rev); err != nil {
		t.Fatal(err)
	}
	get("v2")

	fresh := hotColl + "_r1"
	target := rebuild.Rebuilding(map[string]string{hotColl: fresh})
	if err := target.Store(ctx, hotColl, "s1", hotItem{ID: "s1", Name: "rebuilt", Active: true}, 0); err != nil {
		t.Fatal(err)
	}
	get("v2") // not live yet
	if err := live.SwitchTo(ctx, hotColl, fresh); err != nil {
		t.Fatal(err)
	}
	get("rebuilt")
	var list []hotItem
	if err := live.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &list); err != nil || len(list) != 1 || list[0].Name != "rebuilt" {
		t.Fatalf("the list after the switch: %+v (%v)", list, err)
	}
	_, rev, _ = target.Load(ctx, hotColl, "s1", &cur)
	if err := target.Store(ctx, hotColl, "s1", hotItem{ID: "s1", Name: "caught up", Active: true}, rev); err != nil {
		t.Fatal(err)
	}
	get("caught up")
	if err := live.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &list); err != nil || len(list) != 1 || list[0].Name != "caught up" {
		t.Fatalf("the list after the catch-up: %+v (%v)", list, err)
	}
	if err := imongo.NewRebuilds(db, nil).Drop(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if found, err := live.Get(ctx, hotColl, "s1", &cur); err != nil || found {
		t.Fatalf("Get after the live collection was dropped = %v %+v (%v), want nothing", found, cur, err)
	}
}

// TestHotValidatedSeesOtherProcesses: an API replica's memory is checked
// against the store's revision, so another process's write shows at once.
func TestHotValidatedSeesOtherProcesses(t *testing.T) {
	api, db, ctx := newHot(t, imongo.HotValidated)
	other := imongo.NewReadModels(client.Database(db.Name())) // another process: memory of its own
	other.Conditional = true
	for n := range 5 {
		var cur hotItem
		_, rev, err := other.Load(ctx, hotColl, "s1", &cur)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Store(ctx, hotColl, "s1", hotItem{ID: "s1", Name: fmt.Sprint("v", n), Active: true}, rev); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			var got hotItem
			if found, err := api.Get(ctx, hotColl, "s1", &got); err != nil || !found || got.Name != fmt.Sprint("v", n) {
				t.Fatalf("write %d: Get = %v %+v (%v)", n, found, got, err)
			}
		}
	}
}

// TestHotFillNeverReplacesAWrite: a document read from the store while a
// write of it lands (and after it was evicted from memory) is not kept
// over the write: the next read shows the write.
func TestHotFillNeverReplacesAWrite(t *testing.T) {
	defer imongo.SetHotLimit(hotColl, 1)()
	r, _, ctx := newHot(t, imongo.HotTrusted)
	store := func(id, name string) {
		t.Helper()
		var cur hotItem
		_, rev, err := r.Load(ctx, hotColl, id, &cur)
		if err == nil {
			err = r.Store(ctx, hotColl, id, hotItem{ID: id, Name: name, Active: true}, rev)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	store("s1", "old")
	store("s2", "other") // memory holds one: s1 is evicted
	defer imongo.AfterHotRead(func(id string) {
		if id == "s1" {
			imongo.AfterHotRead(nil)
			store("s1", "new") // lands while the read of "old" is on its way
		}
	})()
	var got hotItem
	if _, err := r.Get(ctx, hotColl, "s1", &got); err != nil || got.Name != "old" {
		t.Fatalf("the read under way: %+v (%v), want the name it read, old", got, err)
	}
	if _, err := r.Get(ctx, hotColl, "s1", &got); err != nil || got.Name != "new" {
		t.Fatalf("the next read: %+v (%v), want new", got, err)
	}
}

// TestHotSeesBulkWrites: documents written many at a time (an allocation's
// placements) reach memory as they reach the store, lists included.
func TestHotSeesBulkWrites(t *testing.T) {
	for _, conditional := range []bool{false, true} {
		t.Run(fmt.Sprint("conditional ", conditional), func(t *testing.T) {
			r, _, ctx := newHot(t, imongo.HotTrusted)
			r.Conditional = conditional
			var list []hotItem
			if err := r.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &list); err != nil || len(list) != 0 {
				t.Fatalf("the empty list: %+v (%v)", list, err) // memory now holds the collection whole
			}
			for round := range 3 {
				var docs []projections.StoredDoc
				for i := range 30 {
					id := fmt.Sprintf("s%02d", i)
					var cur hotItem
					_, rev, err := r.Load(ctx, hotColl, id, &cur)
					if err != nil {
						t.Fatal(err)
					}
					docs = append(docs, projections.StoredDoc{ID: id, Rev: rev, Doc: hotItem{ID: id, Name: fmt.Sprint("round ", round), Active: true}})
				}
				if unsure, err := r.StoreMany(ctx, hotColl, docs); err != nil || len(unsure) > 0 {
					t.Fatalf("StoreMany: unsure %v, %v", unsure, err)
				}
				var got hotItem
				if _, err := r.Get(ctx, hotColl, "s07", &got); err != nil || got.Name != fmt.Sprint("round ", round) {
					t.Fatalf("round %d: Get = %+v (%v)", round, got, err)
				}
				if err := r.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &list); err != nil || len(list) != 30 || list[29].Name != fmt.Sprint("round ", round) {
					t.Fatalf("round %d: the list has %d (%v): %+v", round, len(list), err, list)
				}
			}
		})
	}
}

// TestHotHoldsBoundedBytes: however large and many the documents, memory
// holds no more than its byte bound of them, and what it no longer holds
// is read from the store.
func TestHotHoldsBoundedBytes(t *testing.T) {
	const bound = 8 << 10
	defer imongo.SetHotBytes(bound)()
	r, _, ctx := newHot(t, imongo.HotTrusted)
	rng := rand.New(rand.NewPCG(3, 3))
	names := map[string]string{}
	for i := range 60 {
		id := fmt.Sprintf("p%02d", i)
		names[id] = fmt.Sprint(id, strings.Repeat("x", rng.IntN(2000)))
		if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: names[id], Active: true}, 0); err != nil {
			t.Fatal(err)
		}
		if docs, bytes := imongo.HotHeld(ctx, r, hotColl); bytes > bound && docs > 1 {
			t.Fatalf("after %d documents memory holds %d of them, %d bytes: over the bound of %d", i+1, docs, bytes, bound)
		}
	}
	for id, name := range names {
		var got hotItem
		if found, err := r.Get(ctx, hotColl, id, &got); err != nil || !found || got.Name != name {
			t.Fatalf("Get(%s) = %v %.20q (%v)", id, found, got.Name, err)
		}
	}
	if docs, _ := imongo.HotHeld(ctx, r, hotColl); docs == 0 || docs == len(names) {
		t.Fatalf("memory holds %d of %d documents: the bound should keep some, not all", docs, len(names))
	}
}

// TestListVersionMovesWithEveryWrite: once a hot read model is held whole,
// ListVersion names its state: the same while nothing is written, another
// after every write of any document (a write the list does not show
// included), and none while it is not held whole or not trusted.
func TestListVersionMovesWithEveryWrite(t *testing.T) {
	r, db, ctx := newHot(t, imongo.HotTrusted)
	for i := range 3 {
		if err := r.Store(ctx, hotColl, fmt.Sprint("s", i), hotItem{ID: fmt.Sprint("s", i), Name: "x", Active: i != 2}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := r.ListVersion(ctx, hotColl); ok {
		t.Fatal("a list version before the read model was held whole")
	}
	list := func() {
		var l []hotItem
		if err := r.Find(ctx, hotColl, queries.Filter{ActiveOnly: true}, &l); err != nil {
			t.Fatal(err)
		}
	}
	list()
	v1, ok := r.ListVersion(ctx, hotColl)
	if !ok {
		t.Fatal("no list version for a read model held whole")
	}
	list()
	var one hotItem
	if _, err := r.Get(ctx, hotColl, "s0", &one); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.ListVersion(ctx, hotColl); !ok || v != v1 {
		t.Fatalf("after reads only: %q %v, want %q", v, ok, v1)
	}
	seen := map[string]bool{v1: true}
	for i, id := range []string{"s2", "s0", "s9"} { // an inactive one, an active one, a new one
		if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: fmt.Sprint("write ", i)}, int64(map[string]int{"s2": 1, "s0": 1, "s9": 0}[id])); err != nil {
			t.Fatal(err)
		}
		v, ok := r.ListVersion(ctx, hotColl)
		if !ok || seen[v] {
			t.Fatalf("after writing %s: version %q (ok %v), one seen before or none", id, v, ok)
		}
		seen[v] = true
	}
	if _, ok := imongo.NewReadModels(db).ListVersion(ctx, hotColl); ok {
		t.Error("a read model not served from memory gave a list version")
	}
	validated, _, _ := newHot(t, imongo.HotValidated)
	if _, ok := validated.ListVersion(ctx, hotColl); ok {
		t.Error("a validated read model (other processes write it) gave a list version")
	}
}

// TestWarmHot: WarmHot holds every hot read model whole, so lists are
// served from memory from the first: on an empty store, where each stays
// whole as it is written, and on one with documents, which it loads.
func TestWarmHot(t *testing.T) {
	list := func(t *testing.T, r *imongo.ReadModels) []hotItem {
		var l []hotItem
		if err := r.Find(testCtx(t), hotColl, queries.Filter{}, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	t.Run("empty", func(t *testing.T) {
		r, db, ctx := newHot(t, imongo.HotTrusted)
		if err := r.WarmHot(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.ListVersion(ctx, hotColl); !ok {
			t.Fatal("an empty read model is not held whole after WarmHot")
		}
		for i := range 3 {
			if err := r.Store(ctx, hotColl, fmt.Sprint("s", i), hotItem{ID: fmt.Sprint("s", i), Name: "x"}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok := r.ListVersion(ctx, hotColl); !ok {
			t.Fatal("the read model is no longer held whole after writes through it")
		}
		if got, want := list(t, r), list(t, imongo.NewReadModels(db)); len(got) != 3 || !reflect.DeepEqual(got, want) {
			t.Fatalf("from memory %v, the store %v", got, want)
		}
	})
	t.Run("loaded", func(t *testing.T) {
		db := newDB(t)
		ctx := testCtx(t)
		plain := imongo.NewReadModels(db)
		for i := range 5 {
			if err := plain.Store(ctx, hotColl, fmt.Sprint("s", i), hotItem{ID: fmt.Sprint("s", i), Name: "x", Active: true}, 0); err != nil {
				t.Fatal(err)
			}
		}
		r := imongo.NewReadModels(db)
		r.ServeHot(imongo.HotTrusted)
		if _, ok := r.ListVersion(ctx, hotColl); ok {
			t.Fatal("held whole before WarmHot")
		}
		if err := r.WarmHot(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.ListVersion(ctx, hotColl); !ok {
			t.Fatal("not held whole after WarmHot")
		}
		if got := list(t, r); len(got) != 5 || !reflect.DeepEqual(got, list(t, plain)) {
			t.Fatalf("from memory %v, the store %v", got, list(t, plain))
		}
	})
}

// TestOutgrownReadModelIsWalked: a hot read model larger than memory holds
// is listed rightly, and once its ids are known (one read of them all),
// by walking them from the cursor with a lookup by _id of each document
// memory lacks, never a read of the whole collection (a users read model
// of 25,000 documents took seconds a list), while writes add documents
// between lists.
func TestOutgrownReadModelIsWalked(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			limit := 5 + rng.IntN(15)
			defer imongo.SetHotLimit(hotColl, limit)()
			ctx := testCtx(t)
			client, scans := countingScans(t)
			db := client.Database(newDB(t).Name())
			r := imongo.NewReadModels(db)
			r.ServeHot(imongo.HotTrusted)
			active := map[string]bool{}
			add := func(n int) {
				for range n {
					id := fmt.Sprintf("s%04d", rng.IntN(10000))
					if _, taken := active[id]; taken {
						continue
					}
					active[id] = rng.IntN(3) > 0
					if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: id, Active: active[id]}, 0); err != nil {
						t.Fatal(err)
					}
				}
			}
			add(limit + 1 + rng.IntN(60))
			for list := range 8 {
				if list > 0 {
					add(rng.IntN(4))
				}
				ids := slices.Sorted(maps.Keys(active))
				f := queries.Filter{Limit: 1 + rng.IntN(10), ActiveOnly: rng.IntN(2) == 0}
				if rng.IntN(2) == 0 {
					f.After = ids[rng.IntN(len(ids))]
				}
				var want []string
				for _, id := range ids {
					if id > f.After && (!f.ActiveOnly || active[id]) && len(want) < f.Limit {
						want = append(want, id)
					}
				}
				before := scans.Load()
				var got []hotItem
				if err := r.Find(ctx, hotColl, f, &got); err != nil {
					t.Fatal(err)
				}
				var gotIDs []string
				for _, d := range got {
					gotIDs = append(gotIDs, d.ID)
				}
				if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
					t.Fatalf("list %d with %+v of %d documents (memory holds %d): %v, want %v", list, f, len(ids), limit, gotIDs, want)
				}
				if made := scans.Load() - before; list > 0 && made > 0 {
					t.Fatalf("list %d of a read model known larger than memory read the whole collection %d times, want none", list, made)
				}
			}
		})
	}
}

// TestWalkLeavesRareMatchesToTheStore: a list of a read model larger than
// memory holds whose filter matches none of the documents memory holds
// goes to the store at once (one scan), rather than looking up documents
// one by one first, and answers rightly.
func TestWalkLeavesRareMatchesToTheStore(t *testing.T) {
	defer imongo.SetHotLimit(hotColl, 100)()
	r, ctx, scans, lookups := storedHot(t, 300)
	var page []hotItem
	if err := r.Find(ctx, hotColl, queries.Filter{Limit: 5}, &page); err != nil || len(page) != 5 { // loads the ids
		t.Fatalf("first list: %d documents, %v", len(page), err)
	}
	lookupsBefore, scansBefore := lookups.Load(), scans.Load()
	f := queries.Filter{Limit: 5, Search: []string{"name"}, Term: "S007"} // the 8th written: long evicted
	if err := r.Find(ctx, hotColl, f, &page); err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].ID != "s007" {
		t.Fatalf("Find(%+v) = %+v, want s007 alone", f, page)
	}
	if made, looked := scans.Load()-scansBefore, lookups.Load()-lookupsBefore; made != 1 || looked != 0 {
		t.Fatalf("a list matching none of the documents held read the whole collection %d times and looked up %d documents, want once and none", made, looked)
	}
}

// TestWalkPagesOnWithoutScans: paging through a read model larger than
// memory holds, page after page with the cursor, reads the whole
// collection never after the first list, although the documents memory
// holds, those lately read, all lie before the cursor.
func TestWalkPagesOnWithoutScans(t *testing.T) {
	defer imongo.SetHotLimit(hotColl, 100)()
	const n = 400
	r, ctx, scans, _ := storedHot(t, n)
	var seen []string
	after := ""
	for page := 0; ; page++ {
		before := scans.Load()
		var got []hotItem
		if err := r.Find(ctx, hotColl, queries.Filter{After: after, Limit: 30, ActiveOnly: true}, &got); err != nil {
			t.Fatal(err)
		}
		if made := scans.Load() - before; page > 0 && made > 0 {
			t.Fatalf("page %d (after %q) read the whole collection %d times, want none", page, after, made)
		}
		if len(got) == 0 {
			break
		}
		for _, d := range got {
			seen = append(seen, d.ID)
		}
		after = got[len(got)-1].ID
	}
	if len(seen) != n || seen[0] != "s000" || seen[n-1] != fmt.Sprintf("s%03d", n-1) || !slices.IsSorted(seen) {
		t.Fatalf("paged %d documents (%v ... ), want all %d in order", len(seen), seen[:min(3, len(seen))], n)
	}
}

// TestHotWholeAgainAfterAFailedWrite: a write the store refuses drops its
// document from memory (the store may or may not hold it); the next list
// looks that one document up and memory holds the read model whole again,
// so that even a search matching nothing is answered from memory, not by
// reading the whole collection, and the list's version is known again.
func TestHotWholeAgainAfterAFailedWrite(t *testing.T) {
	r, ctx, scans, lookups := storedHot(t, 200)
	var page []hotItem
	if err := r.Find(ctx, hotColl, queries.Filter{Limit: 5}, &page); err != nil {
		t.Fatal(err)
	}
	refused := map[string]any{"_id": "s050", "nested": []any{[]any{"the embedded store refuses arrays in arrays"}}}
	if err := r.Store(ctx, hotColl, "s050", refused, 1); err == nil {
		t.Fatal("the store took a document it refuses")
	}
	if _, ok := r.ListVersion(ctx, hotColl); ok {
		t.Fatal("a list version while memory lacks a document")
	}
	nobody := queries.Filter{Limit: 5, Search: []string{"name"}, Term: "zz"}
	for list := range 3 {
		scansBefore, lookupsBefore := scans.Load(), lookups.Load()
		if err := r.Find(ctx, hotColl, nobody, &page); err != nil || len(page) != 0 {
			t.Fatalf("list %d: %+v, %v", list, page, err)
		}
		made, looked := scans.Load()-scansBefore, lookups.Load()-lookupsBefore
		if made != 0 || (list == 0 && looked > 1) || (list > 0 && looked != 0) {
			t.Fatalf("list %d after a failed write read the whole collection %d times and looked up %d documents, want none and at most the one dropped", list, made, looked)
		}
	}
	if _, ok := r.ListVersion(ctx, hotColl); !ok {
		t.Fatal("no list version once memory holds the read model whole again")
	}
}

// storedHot is a hot read model served from memory (HotTrusted) through a
// client counting its scans and lookups (countingReads), holding n active
// documents s000, s001, ... named "name s000" and so on.
func storedHot(t *testing.T, n int) (r *imongo.ReadModels, ctx context.Context, scans, lookups *atomic.Int64) {
	t.Helper()
	ctx = testCtx(t)
	client, scans, lookups := countingReads(t)
	r = imongo.NewReadModels(client.Database(newDB(t).Name()))
	r.ServeHot(imongo.HotTrusted)
	for i := range n {
		id := fmt.Sprintf("s%03d", i)
		if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: "name " + id, Active: true}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return r, ctx, scans, lookups
}

// countingScans connects a client to the test store that counts the finds
// of hotColl it sends that read the whole collection: those with a filter
// other than an _id alone, the one the embedded store serves from an
// index.
func countingScans(t *testing.T) (*mongo.Client, *atomic.Int64) {
	c, scans, _ := countingReads(t)
	return c, scans
}

// countingReads is countingScans that also counts the lookups by _id.
func countingReads(t *testing.T) (c *mongo.Client, scans, lookups *atomic.Int64) {
	scans, lookups = new(atomic.Int64), new(atomic.Int64)
	c, _ = countingWhere(t, func(e *event.CommandStartedEvent) bool {
		if coll, _ := e.Command.Lookup("find").StringValueOK(); e.CommandName != "find" || coll != hotColl {
			return false
		}
		f, _ := e.Command.Lookup("filter").DocumentOK()
		elems, _ := f.Elements()
		if _, byID := f.Lookup("_id").StringValueOK(); len(elems) == 1 && byID {
			lookups.Add(1)
		} else {
			scans.Add(1)
		}
		return false
	})
	return c, scans, lookups
}

// TestHotKnowsAbsentDocuments: once memory knows the id of every document
// of a hot read model (HotTrusted), a document it does not know is absent
// without a lookup in the store, for Load (a projection folding a
// capacity before the supervisor's creation) and Get (a write's wait for
// a document yet to be written); what memory cannot vouch for is still
// the store's: before the ids are known, and a document whose write
// failed (the store may hold it). Random stores and loads answer as the
// store does.
func TestHotKnowsAbsentDocuments(t *testing.T) {
	ctx := testCtx(t)
	client, _, lookups := countingReads(t)
	db := newDB(t).Name()
	r := imongo.NewReadModels(client.Database(db))
	r.ServeHot(imongo.HotTrusted)
	for i := range 20 {
		id := fmt.Sprintf("s%03d", i)
		if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: "name " + id, Active: true}, 0); err != nil {
			t.Fatal(err)
		}
	}
	plain, _, _ := countingReads(t) // another client: the store's answers, not counted
	store := imongo.NewReadModels(plain.Database(db))
	var doc hotItem
	if found, _, err := r.Load(ctx, hotColl, "nobody-yet", &doc); err != nil || found {
		t.Fatalf("Load of an absent document: found %v, %v", found, err)
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("before the ids are known, Load of an absent document looked up %d documents, want 1", n)
	}
	var page []hotItem
	if err := r.Find(ctx, hotColl, queries.Filter{Limit: 5}, &page); err != nil { // learns every id
		t.Fatal(err)
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	written := map[string]bool{}
	for i := range 20 {
		written[fmt.Sprintf("s%03d", i)] = true
	}
	for step := range 300 {
		id := fmt.Sprintf("s%03d", rng.IntN(60))
		if rng.IntN(3) == 0 {
			_, rev, err := r.Load(ctx, hotColl, id, &hotItem{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Store(ctx, hotColl, id, hotItem{ID: id, Name: fmt.Sprint("step ", step), Active: true}, rev); err != nil {
				t.Fatal(err)
			}
			written[id] = true
			continue
		}
		before := lookups.Load()
		var got, want hotItem
		found, _, err := r.Load(ctx, hotColl, id, &got)
		if err != nil {
			t.Fatal(err)
		}
		gotFound, err := r.Get(ctx, hotColl, id, &got)
		if err != nil {
			t.Fatal(err)
		}
		wantFound, err := store.Get(ctx, hotColl, id, &want)
		if err != nil {
			t.Fatal(err)
		}
		if found != wantFound || gotFound != wantFound || got.Name != want.Name {
			t.Fatalf("seed %d, step %d: %s: Load found %v, Get %v (%q); the store %v (%q)", seed, step, id, found, gotFound, got.Name, wantFound, want.Name)
		}
		if n := lookups.Load() - before; n != 0 {
			t.Fatalf("seed %d, step %d: Load and Get of %s (written: %v) looked up %d documents in the store, want none", seed, step, id, written[id], n)
		}
	}
	refused := map[string]any{"_id": "refused", "nested": []any{[]any{"the embedded store refuses arrays in arrays"}}}
	if err := r.Store(ctx, hotColl, "refused", refused, 0); err == nil {
		t.Fatal("the store took a document it refuses")
	}
	before := lookups.Load()
	if found, _, err := r.Load(ctx, hotColl, "refused", &doc); err != nil || found {
		t.Fatalf("Load after a refused first write: found %v, %v", found, err)
	}
	if n := lookups.Load() - before; n != 1 {
		t.Fatalf("Load of a document whose first write failed looked up %d documents, want 1: memory cannot tell whether the store took it", n)
	}
}

// TestHotRefusesTheCreationOfAHeldDocument: where memory is the store's
// (HotTrusted), creating a document it holds (a projection's blind
// creation at a stream's first commit, delivered again: each of the
// thousands of commits a restart applies again after a crash) is refused
// without an insert, and memory keeps the document: the writer's load
// that follows reads it from memory, not from the store. Before, each
// such creation cost an insert the store refused and dropped the document
// from memory, and a restart's catch-up looked up about one document a
// commit in each hot read model. A document memory does not hold is
// created as ever, and one the store refuses is left to the store.
func TestHotRefusesTheCreationOfAHeldDocument(t *testing.T) {
	ctx := testCtx(t)
	var lookups, inserts atomic.Int64
	client, _ := countingWhere(t, func(e *event.CommandStartedEvent) bool {
		switch e.CommandName {
		case "insert":
			if coll, _ := e.Command.Lookup("insert").StringValueOK(); coll == hotColl {
				inserts.Add(1)
			}
		case "find":
			if coll, _ := e.Command.Lookup("find").StringValueOK(); coll == hotColl {
				lookups.Add(1)
			}
		}
		return false
	})
	r := imongo.NewReadModels(client.Database(newDB(t).Name()))
	r.ServeHot(imongo.HotTrusted)
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	n := 5 + rng.IntN(30)
	for i := range n {
		id := fmt.Sprintf("s%03d", i)
		if err := r.Create(ctx, hotColl, id, hotItem{ID: id, Name: "name " + id, Active: true}); err != nil {
			t.Fatal(err)
		}
	}
	if got := inserts.Load(); got != int64(n) {
		t.Fatalf("%d creations sent %d inserts", n, got)
	}
	for range 3 * n {
		id := fmt.Sprintf("s%03d", rng.IntN(n))
		before, beforeLookups := inserts.Load(), lookups.Load()
		err := r.Create(ctx, hotColl, id, hotItem{ID: id, Name: "again"})
		if !errors.Is(err, projections.ErrConflict) {
			t.Fatalf("seed %d: creating %s again: %v, want a conflict", seed, id, err)
		}
		var doc hotItem
		found, rev, err := r.Load(ctx, hotColl, id, &doc)
		if err != nil || !found || doc.Name != "name "+id || rev != 1 {
			t.Fatalf("seed %d: after the refused creation, %s loads as %+v at revision %d (found %v, %v)", seed, id, doc, rev, found, err)
		}
		if ins, looked := inserts.Load()-before, lookups.Load()-beforeLookups; ins != 0 || looked != 0 {
			t.Fatalf("seed %d: creating %s again, which memory holds, and loading it sent %d inserts and %d lookups, want none", seed, id, ins, looked)
		}
	}
	refused := map[string]any{"_id": "refused", "nested": []any{[]any{"the embedded store refuses arrays in arrays"}}}
	if err := r.Create(ctx, hotColl, "refused", refused); err == nil || errors.Is(err, projections.ErrConflict) {
		t.Fatalf("a document the store refuses: %v, want the store's error", err)
	}
}

// TestStorePageTeachesMemory: paging through a read model larger than
// memory holds, after a first list that filled memory with documents its
// filter does not match (a restarted service's first list of students,
// from the start of the users, where the staff come first), the pages go
// back to walking memory once the store has answered one: what a page read
// from the store is held as a page read by walking is. Before, a page
// served by the store left memory as it was, so the sample of what memory
// holds kept saying the filter was rare, and every page of the list read
// the whole collection for the life of the process (2 to 3 s a page for a
// cohort of 12,000 students).
func TestStorePageTeachesMemory(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 13))
	defer imongo.SetHotLimit(hotColl, 100)()
	n, staff := 300+rng.IntN(200), 70+rng.IntN(20) // staff are more than a sample judges by, and fewer than a walk may look up
	ctx := testCtx(t)
	base := newDB(t)
	db := base.Name()
	writer := imongo.NewReadModels(base)
	for i := range n {
		id := fmt.Sprintf("s%04d", i)
		if err := writer.Store(ctx, hotColl, id, hotItem{ID: id, Name: id, Active: i >= staff}, 0); err != nil {
			t.Fatal(err)
		}
	}
	client, scans := countingScans(t)
	r := imongo.NewReadModels(client.Database(db)) // a restarted service's: memory empty
	r.ServeHot(imongo.HotTrusted)
	var first []hotItem
	if err := r.Find(ctx, hotColl, queries.Filter{Limit: 1 + rng.IntN(6), ActiveOnly: true}, &first); err != nil {
		t.Fatal(err)
	}
	after, pages, scanned := "", 0, []int64{}
	var seen []string
	for {
		before := scans.Load()
		var page []hotItem
		if err := r.Find(ctx, hotColl, queries.Filter{After: after, Limit: 20 + rng.IntN(20), ActiveOnly: true}, &page); err != nil {
			t.Fatal(err)
		}
		scanned = append(scanned, scans.Load()-before)
		if len(page) == 0 {
			break
		}
		for _, d := range page {
			seen = append(seen, d.ID)
		}
		after = page[len(page)-1].ID
		pages++
	}
	if len(seen) != n-staff || seen[0] != fmt.Sprintf("s%04d", staff) || !slices.IsSorted(seen) {
		t.Fatalf("paged %d documents from %v, want the %d active ones in order", len(seen), seen[:min(1, len(seen))], n-staff)
	}
	t.Logf("%d documents, %d staff first; scans of each page: %v", n, staff, scanned)
	for p, made := range scanned[len(scanned)/2:] {
		if made > 0 {
			t.Fatalf("page %d of %d read the whole collection (scans of each page: %v): memory did not learn from the pages the store served", len(scanned)/2+p, len(scanned), scanned)
		}
	}
}
