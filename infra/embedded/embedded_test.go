package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const testDB = "app"

func startStore(tb testing.TB, dir string, logger *slog.Logger) (*Store, *mongo.Client) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{DataDir: dir, Logger: logger})
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	if !strings.HasPrefix(s.URI(), "mongodb://%2F") || !strings.HasSuffix(s.URI(), ".sock/") {
		tb.Fatalf("URI = %q, want the Unix socket's mongodb://%%2F...sock/", s.URI())
	}
	client, err := mongo.Connect(options.Client().ApplyURI(s.URI()))
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return s, client
}

// explainPlan returns the SQLite query plan FerretDB itself reports for
// find({_id: id}) with limit 1 (what FindOne sends).
//
// SQLite's EXPLAIN QUERY PLAN plans with the connection's cached schema and,
// unlike a real statement, does not check it is current: right after an index
// is added by another connection, FerretDB's explain still shows the old plan
// while its real queries already use the index. So run a real query first, on
// the connection the explain will reuse (database/sql reuses the most recently
// released idle connection).
func explainPlan(t *testing.T, client *mongo.Client, coll, id string) string {
	t.Helper()
	err := client.Database(testDB).Collection(coll).FindOne(context.Background(), bson.M{"_id": id}).Err()
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("FindOne: %v", err)
	}
	cmd := bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: coll},
		{Key: "filter", Value: bson.D{{Key: "_id", Value: id}}},
		{Key: "limit", Value: 1},
	}}}
	var res struct {
		QueryPlanner struct {
			Plan []string `bson:"Plan"`
		} `bson:"queryPlanner"`
		PushdownFilter bool `bson:"filterPushdown"`
	}
	if err := client.Database(testDB).RunCommand(context.Background(), cmd).Decode(&res); err != nil {
		t.Fatalf("explain: %v", err)
	}
	if !res.PushdownFilter {
		t.Fatalf("explain: filter on _id not pushed down to SQLite")
	}
	return strings.Join(res.QueryPlanner.Plan, "\n")
}

// sqlPlans runs EXPLAIN QUERY PLAN, through a separate SQLite connection, on
// the statements FerretDB's SQLite backend emits for lookups, updates and
// deletes by _id (see Query, UpdateAll and DeleteAll in its
// internal/backends/sqlite/collection.go).
func sqlPlans(t *testing.T, dir, coll string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, testDB+".sqlite")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatalf("table of %s: %v", coll, err)
	}
	queries := map[string]string{
		"find":   fmt.Sprintf(`SELECT  _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ? LIMIT ?`, table),
		"update": fmt.Sprintf(`UPDATE %q SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`, table),
		"delete": fmt.Sprintf(`DELETE FROM %q WHERE _ferretdb_sjson->'$._id' IN (?)`, table),
	}
	args := map[string][]any{"find": {`"a"`, 1}, "update": {`{}`, `"a"`}, "delete": {`"a"`}}
	plans := map[string]string{}
	for name, q := range queries {
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args[name]...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var details []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			details = append(details, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		plans[name] = strings.Join(details, "\n")
	}
	return plans
}

func assertIndexed(t *testing.T, client *mongo.Client, dir, coll string, want bool) {
	t.Helper()
	check := func(what, plan string) {
		indexed := strings.Contains(plan, "SEARCH") && strings.Contains(plan, "USING INDEX") &&
			strings.Contains(plan, idIndexSuffix)
		if indexed != want {
			t.Errorf("%s on %s: indexed = %v, want %v; plan:\n%s", what, coll, indexed, want, plan)
		}
	}
	check("FerretDB explain", explainPlan(t, client, coll, "a"))
	for name, plan := range sqlPlans(t, dir, coll) {
		check("SQL "+name, plan)
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, client := startStore(t, dir, nil)

	// Repeated and concurrent calls must all succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.PrepareCollections(ctx, testDB, "items", "other")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("PrepareCollections: %v", err)
		}
	}
	if err := s.PrepareCollections(ctx, testDB, "items"); err != nil {
		t.Fatalf("PrepareCollections again: %v", err)
	}

	items := client.Database(testDB).Collection("items")
	if _, err := items.InsertMany(ctx, []any{bson.M{"_id": "a", "n": 1}, bson.M{"_id": "b", "n": 2}}); err != nil {
		t.Fatalf("InsertMany: %v", err)
	}
	if _, err := items.InsertOne(ctx, bson.M{"_id": "a", "n": 3}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate insert: err = %v, want duplicate key error", err)
	}
	if _, err := items.UpdateOne(ctx, bson.M{"_id": "a"}, bson.M{"$set": bson.M{"n": 10}}); err != nil {
		t.Fatalf("UpdateOne: %v", err)
	}
	if res, err := items.DeleteOne(ctx, bson.M{"_id": "b"}); err != nil || res.DeletedCount != 1 {
		t.Fatalf("DeleteOne = %+v, %v; want 1 deleted", res, err)
	}
	if err := items.FindOne(ctx, bson.M{"_id": "b"}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("FindOne deleted doc: err = %v, want ErrNoDocuments", err)
	}
	wantN := func(client *mongo.Client, want int) {
		t.Helper()
		var doc struct{ N int }
		if err := client.Database(testDB).Collection("items").FindOne(ctx, bson.M{"_id": "a"}).Decode(&doc); err != nil {
			t.Fatalf("FindOne: %v", err)
		}
		if doc.N != want {
			t.Fatalf("n = %d, want %d", doc.N, want)
		}
	}
	wantN(client, 10)
	assertIndexed(t, client, dir, "items", true)
	assertIndexed(t, client, dir, "other", true)

	// A collection created implicitly by an insert is not fixed until
	// FixIndexes (this also shows that the plan checks can fail).
	if _, err := client.Database(testDB).Collection("implicit").InsertOne(ctx, bson.M{"_id": "a"}); err != nil {
		t.Fatal(err)
	}
	assertIndexed(t, client, dir, "implicit", false)
	if err := s.FixIndexes(ctx, testDB); err != nil {
		t.Fatalf("FixIndexes: %v", err)
	}
	if err := s.FixIndexes(ctx, testDB); err != nil {
		t.Fatalf("FixIndexes again: %v", err)
	}
	assertIndexed(t, client, dir, "implicit", true)
	if err := s.FixIndexes(ctx, "nosuchdb"); err != nil {
		t.Fatalf("FixIndexes on missing database: %v", err)
	}

	// Restart on the same directory: data and index are still there.
	_ = client.Disconnect(ctx) // or Close waits FerretDB's 3 s grace period
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.PrepareCollections(ctx, testDB, "items"); err == nil {
		t.Fatal("PrepareCollections after Close succeeded")
	}
	s2, client2 := startStore(t, dir, nil)
	wantN(client2, 10)
	assertIndexed(t, client2, dir, "items", true)
	assertIndexed(t, client2, dir, "implicit", true)
	if err := s2.PrepareCollections(ctx, testDB, "items", "new"); err != nil {
		t.Fatalf("PrepareCollections after restart: %v", err)
	}
	assertIndexed(t, client2, dir, "new", true)
}

// recorder is a slog.Handler that records every message it receives.
type recorder struct {
	mu   *sync.Mutex
	msgs *[]string
}

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r recorder) WithGroup(string) slog.Handler            { return r }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.msgs = append(*r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}

func TestFerretDBLogsOnlyErrors(t *testing.T) {
	var msgs []string
	rec := recorder{mu: &sync.Mutex{}, msgs: &msgs}
	s, client := startStore(t, t.TempDir(), slog.New(rec))
	if err := s.PrepareCollections(context.Background(), testDB, "items"); err != nil {
		t.Fatal(err)
	}
	_ = client.Disconnect(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Only our own start-up message; without the filter FerretDB logs
	// "Listening on TCP ..." and more at Info level.
	if len(msgs) != 1 || msgs[0] != "INFO embedded FerretDB started" {
		t.Fatalf("logged %q, want only our start-up message", msgs)
	}
}

func BenchmarkFindOneByID(b *testing.B) {
	const docs = 10_000
	ctx := context.Background()
	s, client := startStore(b, b.TempDir(), slog.New(slog.DiscardHandler))
	for _, name := range []string{"unindexed", "indexed"} {
		if name == "indexed" {
			if err := s.PrepareCollections(ctx, testDB, name); err != nil {
				b.Fatal(err)
			}
		}
		coll := client.Database(testDB).Collection(name)
		batch := make([]any, 0, 1000)
		for i := range docs {
			batch = append(batch, bson.M{"_id": fmt.Sprintf("doc-%05d", i), "n": i, "payload": strings.Repeat("x", 100)})
			if len(batch) == cap(batch) {
				if _, err := coll.InsertMany(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}

	for _, name := range []string{"unindexed", "indexed"} {
		coll := client.Database(testDB).Collection(name)
		b.Run(name, func(b *testing.B) {
			var mu sync.Mutex
			seed := 0
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				i := seed * 7919
				seed++
				mu.Unlock()
				var doc struct{ N int }
				for pb.Next() {
					i = (i + 1) % docs
					if err := coll.FindOne(ctx, bson.M{"_id": fmt.Sprintf("doc-%05d", i)}).Decode(&doc); err != nil {
						b.Error(err)
						return
					}
					if doc.N != i {
						b.Errorf("n = %d, want %d", doc.N, i)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// TestErrorOnlyDerivesLazily: a logger derived from the filter (as
// FerretDB derives one per SQL statement) logs nothing below Error, and an
// Error record carries every attribute and group it was derived with, as
// the handler alone would write it.
func TestErrorOnlyDerivesLazily(t *testing.T) {
	noTime := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	log := func(l *slog.Logger) {
		d := l.With("a", 1).WithGroup("g").With("b", "two")
		d.Debug("dropped", "x", 0)
		d.Info("dropped too")
		d.Error("kept", "c", 3.5)
		l.With("other", true).Error("kept too")
	}
	var got, want strings.Builder
	log(slog.New(errorOnly{Handler: slog.NewTextHandler(&got, noTime)}))
	plain := slog.New(slog.NewTextHandler(&want, noTime))
	plain.With("a", 1).WithGroup("g").With("b", "two").Error("kept", "c", 3.5)
	plain.With("other", true).Error("kept too")
	if got.String() != want.String() {
		t.Fatalf("logged\n%s\nwant\n%s", got.String(), want.String())
	}
}
