package loadgen

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/infra/embedded"
)

// TestBaselineEmbedded runs the raw baseline against a real embedded store
// (FerretDB on SQLite), with the _id index fix applied to the scratch
// collection, inside a run against the fake API, and checks the figures,
// the ratios and that the scratch collection is gone afterwards.
func TestBaselineEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded store")
	}
	ctx := context.Background()
	store, err := embedded.Start(ctx, embedded.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const db = "capstone_bench_test"
	// The service's database exists before a bench runs against it, with
	// bench_raw prepared as capstone serve prepares it.
	if err := store.PrepareCollections(ctx, db, "events", RawCollection); err != nil {
		t.Fatal(err)
	}

	_, url := startFake(t, &fakeAPI{})
	var log strings.Builder
	start := time.Now()
	// 200 operations rather than a duration: every ratio needs its
	// operation measured, and a decision needs a proposal made before it;
	// 300 ms on a loaded machine once measured 16 operations, no decision
	// among them.
	rep, err := Run(ctx, Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword, Clients: 4,
		Count: 200, MongoURI: store.URI(), Database: db, BaselineDuration: time.Second,
		Log: &log})
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run with baseline took %s", time.Since(start).Round(time.Millisecond))

	b := rep.Baseline
	if b == nil {
		t.Fatal("no baseline")
	}
	if b.Clients != 4 || b.Duration != time.Second || b.Prefilled != 10_000 || b.Collection != db+".bench_raw" ||
		b.DocBytes < 250 || b.DocBytes > 350 {
		t.Fatalf("baseline %+v", b)
	}
	for _, o := range []OpStats{b.InsertOne, b.FindOne, b.HTTPFloor} {
		if o.Count < 10 || o.Errors != 0 || o.PerSec <= 0 || o.P50 <= 0 || o.P50 > o.P99 || o.P99 > o.Max || o.Mean <= 0 {
			t.Errorf("%s: %+v", o.Name, o)
		}
	}
	for _, k := range ratioKeys() {
		if rep.Ratios[k] <= 0 {
			t.Errorf("ratio %s = %v", k, rep.Ratios[k])
		}
	}
	if b.Warning != "" {
		t.Errorf("warning with the index fix: %s", b.Warning)
	}

	cl, err := mongo.Connect(options.Client().ApplyURI(store.URI()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(ctx)
	// The service's prepared collection is emptied and kept (with its fix).
	names, err := cl.Database(db).ListCollectionNames(ctx, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := cl.Database(db).Collection(RawCollection).CountDocuments(ctx, map[string]any{})
	if err != nil || !slices.Contains(names, RawCollection) || !slices.Contains(names, "events") || n != 0 {
		t.Fatalf("after the run: collections %v, %d documents left in %s (%v); want it kept and empty", names, n, RawCollection, err)
	}

	// Without a prepared collection the baseline makes its own, without the
	// fix, and drops it afterwards: every findOne by _id scans the table, and
	// the report says the ratio is void.
	if err := cl.Database(db).Collection(RawCollection).Drop(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword, Clients: 4,
		Count: 100, MongoURI: store.URI(), Database: db, BaselineDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Baseline == nil || !strings.Contains(rep.Baseline.Warning, "not meaningful") {
		t.Fatalf("no warning without the index fix: %+v", rep.Baseline)
	}
	t.Logf("without the fix: findOne %.0f/s, insertOne %.0f/s", rep.Baseline.FindOne.PerSec, rep.Baseline.InsertOne.PerSec)
	if names, err = cl.Database(db).ListCollectionNames(ctx, map[string]any{}); err != nil || slices.Contains(names, RawCollection) {
		t.Fatalf("collections after a run on its own collection: %v, %v; want %s dropped", names, err, RawCollection)
	}
}
