package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// gatedClient connects to s through its write gate, as the service does.
func gatedClient(tb testing.TB, s *Store) *mongo.Client {
	tb.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(s.URI()).SetMonitor(s.WriteGate().Monitor(nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client
}

// randomDoc is a document of many BSON types, some nested, with this _id.
func randomDoc(rng *rand.Rand, id string) bson.D {
	d := bson.D{{Key: "_id", Value: id}}
	for i := range rng.IntN(6) {
		key := fmt.Sprintf("f%d", i)
		var v any
		switch rng.IntN(9) {
		case 0:
			v = fmt.Sprintf("s%d-é\"'\\%d", rng.IntN(100), rng.IntN(10))
		case 1:
			v = int32(rng.IntN(1000) - 500)
		case 2:
			v = rng.Int64() - rng.Int64()
		case 3:
			v = rng.Float64() * 1e6
		case 4:
			v = rng.IntN(2) == 0
		case 5:
			v = bson.DateTime(rng.Int64N(4e12))
		case 6:
			v = nil
		case 7:
			v = bson.A{"a", int32(rng.IntN(9)), bson.D{{Key: "x", Value: "y"}}}
		default:
			v = bson.D{{Key: "nested", Value: bson.D{{Key: "n", Value: int32(rng.IntN(9))}}}, {Key: "list", Value: bson.A{}}}
		}
		d = append(d, bson.E{Key: key, Value: v})
	}
	return d
}

func docsByID(t *testing.T, coll *mongo.Collection) map[string]bson.Raw {
	t.Helper()
	cur, err := coll.Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bson.Raw{}
	for cur.Next(context.Background()) {
		out[cur.Current.Lookup("_id").StringValue()] = slices.Clone(cur.Current)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDoc(a, b bson.Raw) bool {
	var da, db bson.D
	if bson.Unmarshal(a, &da) != nil || bson.Unmarshal(b, &db) != nil {
		return false
	}
	ea, _ := bson.MarshalExtJSON(da, true, false)
	eb, _ := bson.MarshalExtJSON(db, true, false)
	return string(ea) == string(eb)
}

// TestApplyStaged: over random collections and batches, every staged
// document replaces the one of its _id or is added, every other document is
// left as it was, staging is left empty, and a lookup by _id (the index the
// move maintains) finds each document as a scan does. Writes through the
// gate to other documents during the moves are all kept.
func TestApplyStaged(t *testing.T) {
	s, _ := startStore(t, t.TempDir(), nil)
	client := gatedClient(t, s)
	ctx := context.Background()
	db := client.Database(testDB)
	if err := s.PrepareCollections(ctx, testDB, "target", "staging", "others"); err != nil {
		t.Fatal(err)
	}
	target, staging := db.Collection("target"), db.Collection("staging")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	want := map[string]bson.Raw{}
	for round := range 12 {
		// Ids overlap from round to round: some replace, some are new.
		var staged []any
		seen := map[string]bool{}
		for range rng.IntN(300) {
			id := fmt.Sprintf("doc-%d", rng.IntN(400))
			if seen[id] {
				continue
			}
			seen[id] = true
			raw, err := bson.Marshal(randomDoc(rng, id))
			if err != nil {
				t.Fatal(err)
			}
			staged = append(staged, bson.Raw(raw))
			want[id] = raw
		}
		if len(staged) > 0 {
			if _, err := staging.InsertMany(ctx, staged); err != nil {
				t.Fatal(err)
			}
		}
		// Meanwhile, writes of other documents through the gate.
		var wg sync.WaitGroup
		others := db.Collection("others")
		for i := range 20 {
			wg.Go(func() {
				id := fmt.Sprintf("r%d-%d", round, i)
				if _, err := others.InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
					t.Error(err)
				}
			})
		}
		if err := s.ApplyStaged(ctx, testDB, "staging", "target"); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		wg.Wait()
		got := docsByID(t, target)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d documents, want %d", round, len(got), len(want))
		}
		for id, w := range want {
			if !sameDoc(got[id], w) {
				t.Fatalf("round %d: %s is %v, want %v", round, id, got[id], w)
			}
		}
		if n, err := staging.CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
			t.Fatalf("round %d: staging holds %d documents (%v), want none", round, n, err)
		}
		if n, err := others.CountDocuments(ctx, bson.D{}); err != nil || n != int64(20*(round+1)) {
			t.Fatalf("round %d: %d of the other writes kept (%v), want %d", round, n, err, 20*(round+1))
		}
		for range 10 {
			id := fmt.Sprintf("doc-%d", rng.IntN(400))
			raw, err := target.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
			if w, ok := want[id]; ok != (err == nil) || ok && !sameDoc(raw, w) {
				t.Fatalf("round %d: FindOne(%s) = %v, %v; want %v", round, id, raw, err, w)
			}
		}
	}
	assertIndexed(t, client, s.dataDir, "target", true)

	// A failed move changes nothing; EmptyCollection empties.
	if _, err := staging.InsertOne(ctx, bson.D{{Key: "_id", Value: "left over"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyStaged(ctx, testDB, "staging", "no such collection"); err == nil {
		t.Fatal("ApplyStaged into a missing collection succeeded")
	}
	if n, _ := staging.CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("staging holds %d documents after a failed move, want 1", n)
	}
	if err := s.EmptyCollection(ctx, testDB, "staging"); err != nil {
		t.Fatal(err)
	}
	if n, _ := staging.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("staging holds %d documents after EmptyCollection, want none", n)
	}
	if len(docsByID(t, target)) != len(want) {
		t.Fatal("the target changed")
	}
}

// BenchmarkStoreMany compares replacing 1,000 documents with one bulk
// write of replaces (a transaction each, in FerretDB) with staging them
// and moving them in one transaction (ApplyStaged).
func BenchmarkStoreMany(b *testing.B) {
	s, _ := startStore(b, b.TempDir(), nil)
	client := gatedClient(b, s)
	ctx := context.Background()
	db := client.Database(testDB)
	if err := s.PrepareCollections(ctx, testDB, "target", "staging"); err != nil {
		b.Fatal(err)
	}
	target, staging := db.Collection("target"), db.Collection("staging")
	const n = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	docs := make([]any, n)
	for i := range docs {
		docs[i] = randomDoc(rng, fmt.Sprintf("doc-%04d", i))
	}
	if _, err := target.InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	b.Run("replace", func(b *testing.B) {
		for b.Loop() {
			models := make([]mongo.WriteModel, n)
			for i, d := range docs {
				models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: d.(bson.D)[0].Value}}).SetReplacement(d)
			}
			for chunk := range slices.Chunk(models, 25) {
				if _, err := target.BulkWrite(ctx, chunk); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "docs/s")
	})
	b.Run("staged", func(b *testing.B) {
		for b.Loop() {
			if _, err := staging.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			if err := s.ApplyStaged(ctx, testDB, "staging", "target"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "docs/s")
	})
}
