package mongo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/embedded"
)

// Store is a connection to the database, embedded or not.
type Store struct {
	Embedded *embedded.Store // nil with MONGODB_URI
	Client   *mongo.Client
	DB       *mongo.Database
	owned    bool
}

// Open connects to MONGODB_URI, or starts the embedded store in the data
// dir (unless shared is given: tests share one embedded server). monitor, if
// not nil, sees every database command (for the store metrics). On the
// embedded store, it prepares every collection of the service, and scratch:
// collections that others keep in the service's database and that need the
// _id index fix too (which only the process that runs the store can apply).
//
// The embedded store takes the data dir's lock: serviceAddr, the API this
// process serves (if any), is noted there for a process refused the data dir.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, shared *embedded.Store, monitor *event.CommandMonitor, serviceAddr string, scratch ...string) (*Store, error) {
	s := &Store{Embedded: shared}
	uri := cfg.MongoURI
	if uri == "" {
		if s.Embedded == nil {
			var err error
			s.Embedded, err = embedded.Start(ctx, embedded.Options{DataDir: cfg.DataDir, Logger: log, ServiceAddr: serviceAddr})
			if err != nil {
				return nil, fmt.Errorf("start the embedded store in %s: %w", cfg.DataDir, err)
			}
			s.owned = true
		}
		uri = s.Embedded.URI()
		monitor = s.Embedded.WriteGate().Monitor(monitor)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(maxPool(cfg)).SetMonitor(monitor))
	if err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	s.Client, s.DB = client, client.Database(cfg.Database)
	if err := client.Ping(ctx, nil); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("reach MongoDB: %w", err)
	}
	if err := s.Prepare(ctx, append(Collections(), scratch...)...); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("prepare collections: %w", err)
	}
	return s, nil
}

// maxPool bounds the connections to the store. The embedded store deadlocks
// when about 100 update statements are in flight on one database
// (infra/embedded), so a process stays well under that there.
func maxPool(cfg config.Config) uint64 {
	if cfg.Embedded() {
		return 32
	}
	return 100
}

// Prepare creates and indexes collections on the embedded store (see
// [embedded.Store.PrepareCollections]); on MongoDB there is nothing to do.
func (s *Store) Prepare(ctx context.Context, collections ...string) error {
	if s.Embedded == nil {
		return nil
	}
	return s.Embedded.PrepareCollections(ctx, s.DB.Name(), collections...)
}

// Exclusive reports whether this process runs the embedded store it uses:
// it holds the data directory's lock, so no other process writes the store.
func (s *Store) Exclusive() bool { return s.owned }

// Close disconnects, and stops the embedded store if this Store started it.
func (s *Store) Close(ctx context.Context) {
	if s.Client != nil {
		_ = s.Client.Disconnect(ctx)
	}
	if s.owned {
		_ = s.Embedded.Close()
	}
}

// IsFerretDB reports whether the server is FerretDB (the embedded store, or
// dev-store's), where a filtered replace is not atomic.
func (s *Store) IsFerretDB(ctx context.Context) bool {
	var info bson.M
	if err := s.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

// Ready checks that the store answers and takes a write (a full disk
// refuses every write while reads still work). The write replaces one small
// document of the instance in the settings.
func (s *Store) Ready(ctx context.Context, instance string) error {
	if err := s.Client.Ping(ctx, nil); err != nil {
		return err
	}
	id := "ready:" + instance
	_, err := s.DB.Collection(CollSettings).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "_id", Value: id}, {Key: "at", Value: time.Now().UTC()}}, options.Replace().SetUpsert(true))
	return err
}
