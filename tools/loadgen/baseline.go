package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// RawCollection is the scratch collection of the baseline, in the service's
// database; it is dropped before and after each run, or emptied if the
// service prepared it.
const RawCollection = "bench_raw"

// Names of the baseline's operations in [Baseline], and of the floor that
// adds HTTP to findOne in the ratios.
const (
	RawInsertOne   = "insertOne"
	RawFindOne     = "findOne"
	RawHTTPFloor   = "http-floor"
	RawHTTPFindOne = "http+findOne"
)

// rawDoc is shaped like a project in the read model, about 300 bytes in BSON.
type rawDoc struct {
	ID          string    `bson:"_id"`
	StudentID   string    `bson:"student_id"`
	Title       string    `bson:"title"`
	Description string    `bson:"description"`
	Status      string    `bson:"status"`
	Version     int64     `bson:"version"`
	CreatedAt   time.Time `bson:"created_at"`
}

var rawDescription = strings.Repeat("Measure the store without the service. ", 3)[:84]

func newRawDoc(id string) rawDoc {
	return rawDoc{ID: id, StudentID: "0199f1b2-7c3d-7e4f-8a5b-6c7d8e9fa0b1", Title: "A baseline project title",
		Description: rawDescription, Status: "submitted", Version: 1, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

// runBaseline measures InsertOne, then FindOne by _id on a prefilled
// collection, each from o.Clients goroutines for d.
func runBaseline(ctx context.Context, o Options, d time.Duration) (*Baseline, error) {
	cl, err := mongo.Connect(options.Client().ApplyURI(o.MongoURI).SetMaxPoolSize(uint64(o.Clients + 8)))
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = cl.Disconnect(dctx)
	}()
	if err := cl.Ping(ctx, nil); err != nil {
		return nil, fmt.Errorf("reach the database: %w", err)
	}
	coll := cl.Database(o.Database).Collection(RawCollection)
	// A collection the service prepared for the baseline (capstone serve on
	// the embedded store does, with its _id index fix) is emptied and kept;
	// otherwise the baseline's own is dropped before and after.
	names, err := cl.Database(o.Database).ListCollectionNames(ctx, bson.D{{Key: "name", Value: RawCollection}})
	if err != nil {
		return nil, fmt.Errorf("look for %s: %w", RawCollection, err)
	}
	keep := len(names) > 0
	empty := func(ctx context.Context) error {
		if keep {
			_, err := coll.DeleteMany(ctx, bson.D{})
			return err
		}
		return coll.Drop(ctx)
	}
	if err := empty(ctx); err != nil {
		return nil, fmt.Errorf("clear %s: %w", RawCollection, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := empty(dctx); err != nil {
			fmt.Fprintf(o.Log, "bench: baseline: clear %s.%s: %v\n", o.Database, RawCollection, err)
		}
	}()

	one, err := bson.Marshal(newRawDoc(uuid.Must(uuid.NewV7()).String()))
	if err != nil {
		return nil, err
	}
	b := &Baseline{Clients: o.Clients, Duration: d, Collection: o.Database + "." + RawCollection, Prefilled: o.BaselineDocs, DocBytes: len(one)}
	fmt.Fprintf(o.Log, "bench: baseline: prefilling %s with %d documents of %d bytes\n", b.Collection, b.Prefilled, b.DocBytes)
	ids := make([]string, o.BaselineDocs)
	const batch = 1000
	for i := 0; i < len(ids); i += batch {
		docs := make([]any, 0, batch)
		for j := i; j < min(i+batch, len(ids)); j++ {
			ids[j] = uuid.Must(uuid.NewV7()).String()
			docs = append(docs, newRawDoc(ids[j]))
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			return nil, fmt.Errorf("prefill %s: %w", RawCollection, err)
		}
	}

	b.InsertOne, err = rawPhase(ctx, o, d, RawInsertOne, func(ctx context.Context, _ *rand.Rand) error {
		_, err := coll.InsertOne(ctx, newRawDoc(uuid.Must(uuid.NewV7()).String()))
		return err
	})
	if err != nil {
		return nil, err
	}
	b.FindOne, err = rawPhase(ctx, o, d, RawFindOne, func(ctx context.Context, rng *rand.Rand) error {
		var doc rawDoc
		return coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[rng.IntN(len(ids))]}}).Decode(&doc)
	})
	if err != nil {
		return nil, err
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = newHTTPClient(o.Clients, o.RequestTimeout)
	}
	api := &apiClient{base: o.Target, hc: hc}
	b.HTTPFloor, err = rawPhase(ctx, o, d, RawHTTPFloor, func(ctx context.Context, _ *rand.Rand) error {
		rp, err := api.do(ctx, "GET", "/healthz", "", nil, -1)
		if err == nil && rp.status != 200 {
			err = fmt.Errorf("GET /healthz: %d", rp.status)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if b.FindOne.Mean > unindexedFactor*b.InsertOne.Mean {
		b.Warning = fmt.Sprintf("findOne by _id (mean %s) is over %d times slower than insertOne (mean %s): "+
			"_id lookups seem not to use an index (on the embedded store, the service prepares %s with its _id index fix: is this its database?); "+
			"ratios against findOne are not meaningful", fmtDur(b.FindOne.Mean), unindexedFactor, fmtDur(b.InsertOne.Mean), RawCollection)
		fmt.Fprintf(o.Log, "bench: baseline: warning: %s\n", b.Warning)
	}
	return b, nil
}

// unindexedFactor: a findOne by _id slower than this many inserts is taken
// for a collection scan. Indexed, it is faster than an insert on MongoDB and
// on the embedded store alike (README: 2,655 findOne/s, 1,128 insertOne/s).
const unindexedFactor = 5

// rawPhase runs op from o.Clients goroutines for d and summarizes it; a
// failed op is an error with status 0.
func rawPhase(ctx context.Context, o Options, d time.Duration, name string, op func(context.Context, *rand.Rand) error) (OpStats, error) {
	recs := make([]recorder, o.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	stopAt := start.Add(d)
	var firstErr error
	var once sync.Once
	for i := range recs {
		rec := recorder{}
		recs[i] = rec
		rng := rand.New(rand.NewPCG(o.Seed, 1<<32+uint64(i)))
		wg.Go(func() {
			r := rec.op(name)
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				t := time.Now()
				err := op(ctx, rng)
				switch {
				case err == nil:
					r.add(time.Since(t))
				case ctx.Err() != nil:
				default:
					r.fail(0)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return OpStats{}, err
	}
	s := summarize(name, mergeRecorders(recs)[name], elapsed)
	if s.Count == s.Errors {
		return s, errors.Join(fmt.Errorf("%s: no operation completed", name), firstErr)
	}
	fmt.Fprintf(o.Log, "bench: baseline: %-9s %8.0f/s  p50 %s  p99 %s  errors %d\n", name, s.PerSec, fmtDur(s.P50), fmtDur(s.P99), s.Errors)
	if s.Errors > 0 {
		fmt.Fprintf(o.Log, "bench: baseline: %s: first error: %v\n", name, firstErr)
	}
	return s, nil
}
