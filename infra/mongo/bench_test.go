package mongo_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/queries"
)

// Each benchmark runs the store's operation next to the raw driver call it
// wraps, on the same server, collection shape and concurrency, so the ratio
// of their ops/s is the store's own cost.

// benchClients is how many goroutines issue requests at once (the README's
// performance figures were measured with 16 clients).
const benchClients = 16

// prefilled is how many documents a read benchmark's collection holds.
const prefilled = 10_000

// runParallel runs op from benchClients goroutines and reports ops/s.
func runParallel(b *testing.B, op func(ctx context.Context) error) {
	b.Helper()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((benchClients + procs - 1) / procs)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkAppend(b *testing.B) {
	var seq atomic.Int64
	at := time.Now().UTC()
	next := func() events.Commit {
		return newCommit(fmt.Sprintf("bench-%08d", seq.Add(1)), 1, at, created("a project title"))
	}
	b.Run("store", func(b *testing.B) {
		s := imongo.NewEventStore(newDB(b), registry)
		runParallel(b, func(ctx context.Context) error { return s.Append(ctx, next()) })
	})
	b.Run("raw-insertOne", func(b *testing.B) {
		coll := newDB(b).Collection(imongo.CollEvents)
		runParallel(b, func(ctx context.Context) error {
			_, err := coll.InsertOne(ctx, storedCommit(next()))
			return err
		})
	})
}

// fill inserts prefilled documents made by doc(i) into coll.
func fill(b *testing.B, coll *mongo.Collection, doc func(i int) any) {
	b.Helper()
	const batch = 1000
	for i := 0; i < prefilled; i += batch {
		docs := make([]any, 0, batch)
		for j := i; j < min(i+batch, prefilled); j++ {
			docs = append(docs, doc(j))
		}
		if _, err := coll.InsertMany(context.Background(), docs); err != nil {
			b.Fatalf("fill %s: %v", coll.Name(), err)
		}
	}
}

func BenchmarkReadStream(b *testing.B) {
	db := newDB(b)
	coll := db.Collection(imongo.CollEvents)
	at := time.Now().UTC()
	stream := func(i int) string { return fmt.Sprintf("bench-%08d", i) }
	fill(b, coll, func(i int) any { return storedCommit(newCommit(stream(i), 1, at, created("a project title"))) })
	b.Run("store", func(b *testing.B) {
		s := imongo.NewEventStore(db, registry)
		runParallel(b, func(ctx context.Context) error {
			id := stream(rand.IntN(prefilled))
			commits, err := s.ReadStream(ctx, id, events.ReadOptions{})
			if err == nil && len(commits) != 1 {
				err = fmt.Errorf("ReadStream(%s): %d commits, want 1", id, len(commits))
			}
			return err
		})
	})
	b.Run("raw-findOne", func(b *testing.B) {
		runParallel(b, func(ctx context.Context) error {
			var doc struct {
				ID         string    `bson:"_id"`
				StreamID   string    `bson:"stream_id"`
				RecordedAt time.Time `bson:"recorded_at"`
				Events     []struct {
					Type string   `bson:"type"`
					Data bson.Raw `bson:"data"`
				} `bson:"events"`
			}
			return coll.FindOne(ctx, bson.D{{Key: "_id", Value: events.CommitID(stream(rand.IntN(prefilled)), 1)}}).Decode(&doc)
		})
	})
}

// userDoc is shaped like the users read model.
type userDoc struct {
	ID      string   `bson:"_id"`
	Email   string   `bson:"email"`
	Name    string   `bson:"name"`
	Roles   []string `bson:"roles"`
	Version int64    `bson:"version"`
}

func BenchmarkReadModelGet(b *testing.B) {
	db := newDB(b)
	const coll = "users"
	id := func(i int) string { return fmt.Sprintf("user-%08d", i) }
	fill(b, db.Collection(coll), func(i int) any {
		return userDoc{ID: id(i), Email: fmt.Sprintf("u%d@uni.example", i), Name: "A Student",
			Roles: []string{events.RoleStudent}, Version: 3}
	})
	b.Run("store", func(b *testing.B) {
		r := imongo.NewReadModels(db)
		runParallel(b, func(ctx context.Context) error {
			var doc userDoc
			k := id(rand.IntN(prefilled))
			found, err := r.Get(ctx, coll, k, &doc)
			if err == nil && !found {
				err = fmt.Errorf("Get(%s): not found", k)
			}
			return err
		})
	})
	b.Run("raw-findOne", func(b *testing.B) {
		c := db.Collection(coll)
		runParallel(b, func(ctx context.Context) error {
			var doc userDoc
			return c.FindOne(ctx, bson.D{{Key: "_id", Value: id(rand.IntN(prefilled))}}).Decode(&doc)
		})
	})
}

// BenchmarkHotReads compares a read-model Get served by the store, from
// memory (the all-in-one service) and from memory checked by revision (an
// API replica), with the raw findOne by _id, over documents memory holds.
func BenchmarkHotReads(b *testing.B) {
	db := newDB(b)
	const coll, docs = "projects", 2000
	id := func(i int) string { return fmt.Sprintf("project-%08d", i) }
	for i := 0; i < docs; i += 500 {
		batch := make([]any, 0, 500)
		for j := i; j < i+500; j++ {
			batch = append(batch, hotItem{ID: id(j), Name: "A project title", Active: true, Areas: []string{"ML"}, Seen: map[string]int64{"p": 3}})
		}
		if _, err := db.Collection(coll).InsertMany(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	get := func(r *imongo.ReadModels) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			var doc hotItem
			k := id(rand.IntN(docs))
			found, err := r.Get(ctx, coll, k, &doc)
			if err == nil && !found {
				err = fmt.Errorf("Get(%s): not found", k)
			}
			return err
		}
	}
	for name, mode := range map[string]imongo.HotMode{"store": imongo.HotOff, "memory": imongo.HotTrusted, "memory-validated": imongo.HotValidated} {
		b.Run(name, func(b *testing.B) {
			r := imongo.NewReadModels(client.Database(db.Name())) // a memory of its own
			r.ServeHot(mode)
			for i := range docs { // warm
				var doc hotItem
				if _, err := r.Get(context.Background(), coll, id(i), &doc); err != nil {
					b.Fatal(err)
				}
			}
			runParallel(b, get(r))
		})
	}
	b.Run("raw-findOne", func(b *testing.B) {
		c := db.Collection(coll)
		runParallel(b, func(ctx context.Context) error {
			var doc hotItem
			return c.FindOne(ctx, bson.D{{Key: "_id", Value: id(rand.IntN(docs))}}).Decode(&doc)
		})
	})
}

// BenchmarkHotList compares the supervisors list (40, active only) from
// the store, which scans, and from memory, with one raw findOne by _id.
func BenchmarkHotList(b *testing.B) {
	db := newDB(b)
	const coll, sups = "supervisors", 40
	for i := range sups {
		d := hotItem{ID: fmt.Sprintf("sup-%03d", i), Name: "Dr Supervisor", Active: true, Areas: []string{"ML", "Systems"},
			Seen: map[string]int64{"cohort": 40, "user": 2}}
		if _, err := db.Collection(coll).InsertOne(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
	list := func(r *imongo.ReadModels) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			var page []hotItem
			err := r.Find(ctx, coll, queries.Filter{Equal: map[string]string{}, ActiveOnly: true, Limit: 51}, &page)
			if err == nil && len(page) != sups {
				err = fmt.Errorf("listed %d, want %d", len(page), sups)
			}
			return err
		}
	}
	for name, mode := range map[string]imongo.HotMode{"store": imongo.HotOff, "memory": imongo.HotTrusted} {
		b.Run(name, func(b *testing.B) {
			r := imongo.NewReadModels(client.Database(db.Name()))
			r.ServeHot(mode)
			if err := list(r)(context.Background()); err != nil {
				b.Fatal(err)
			}
			runParallel(b, list(r))
		})
	}
	b.Run("raw-findOne", func(b *testing.B) {
		c := db.Collection(coll)
		runParallel(b, func(ctx context.Context) error {
			var doc hotItem
			return c.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("sup-%03d", rand.IntN(sups))}}).Decode(&doc)
		})
	})
}
