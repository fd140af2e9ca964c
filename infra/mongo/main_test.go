package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/embedded"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// The whole package shares one server: the embedded store (started once in
// TestMain), or the MongoDB at MONGODB_URI. Each test gets its own database.
var (
	server   *embedded.Store // nil with MONGODB_URI
	client   *mongo.Client
	storeURI string
	dbSeq    atomic.Int64
	registry = events.NewRegistry(events.All()...)
)

// collections are those the service prepares at start-up (cmd/capstone) that
// these tests use.
var collections = []string{imongo.CollEvents, imongo.CollSnapshots, imongo.CollCredentials, imongo.CollSessions, imongo.CollPasswordTokens, imongo.CollIdempotency, imongo.CollStaging, "users", "projects"}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		dir, err := os.MkdirTemp("", "imongo-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		server, err = embedded.Start(ctx, embedded.Options{DataDir: dir, Logger: logger})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer server.Close()
		uri = server.URI()
	}
	storeURI = uri
	var err error
	client, err = mongo.Connect(options.Client().ApplyURI(uri))
	if err == nil {
		err = client.Ping(ctx, nil)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "connect to %s: %v\n", uri, err)
		return 1
	}
	// Disconnect before the server closes: it waits for connected clients.
	defer client.Disconnect(context.Background())
	return m.Run()
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// newDB returns a fresh database with the service's collections prepared,
// dropped when the test ends. Its name is valid for FerretDB
// ([a-zA-Z0-9_-]{1,63}) and for MongoDB, and unique across concurrent runs.
func newDB(tb testing.TB) *mongo.Database {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), dbSeq.Add(1), unsafeName.ReplaceAllString(tb.Name(), "_"))
	if len(name) > 63 {
		name = name[:63]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if server != nil {
		if err := server.PrepareCollections(ctx, name, collections...); err != nil {
			tb.Fatalf("PrepareCollections(%s): %v", name, err)
		}
	}
	db := client.Database(name)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	return db
}

// testCtx is a context that ends with the test, bounded so a hung server
// fails the test instead of the whole run.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}
