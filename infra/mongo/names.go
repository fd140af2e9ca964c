package mongo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CollReadModelNames maps each read model to the collection that holds it,
// so a rebuild can fill a fresh collection while the old one keeps serving,
// then switch every process over.
const CollReadModelNames = "read_model_names"

type nameDoc struct {
	ID         string    `bson:"_id"`
	Collection string    `bson:"collection"`
	SwitchedAt time.Time `bson:"switched_at"`
}

// namesTTL is how long a process keeps the mapping before it reads it
// again: every process sees a switch within it.
const namesTTL = time.Second

// switchGrace is how long, after a process has read the new mapping, a
// write it began under the old one may take to land.
const switchGrace = 1500 * time.Millisecond

// names caches the mapping for a moment; every process sees a switch within ttl.
type names struct {
	coll *mongo.Collection
	ttl  time.Duration

	mu      sync.Mutex
	loaded  time.Time
	mapping map[string]string
}

func newNames(db *mongo.Database) *names {
	return &names{coll: db.Collection(CollReadModelNames), ttl: namesTTL}
}

func (n *names) physical(ctx context.Context, logical string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.loaded) > n.ttl {
		m := map[string]string{}
		if cur, err := n.coll.Find(ctx, bson.D{}); err == nil {
			var docs []nameDoc
			if cur.All(ctx, &docs) == nil {
				for _, d := range docs {
					m[d.ID] = d.Collection
				}
				n.mapping, n.loaded = m, time.Now()
			}
		}
	}
	if p, ok := n.mapping[logical]; ok {
		return p
	}
	return logical
}

// Rebuilding returns a store that writes the given read models to fresh
// collections (logical name -> collection), leaving live ones as they are.
func (r *ReadModels) Rebuilding(targets map[string]string) *ReadModels {
	c := *r
	c.overrides = targets
	return &c
}

// Physical returns the collection that holds a read model now.
func (r *ReadModels) Physical(ctx context.Context, logical string) string {
	return r.names.physical(ctx, logical)
}

// SwitchSettles is how long after a switch a process may still write to a
// read model's previous collection: until its mapping expires, and the
// writes it began under that mapping have landed.
func (r *ReadModels) SwitchSettles() time.Duration { return r.names.ttl + switchGrace }

// SwitchTo makes a read model's rebuilt collection the live one, for every
// process within SwitchSettles.
func (r *ReadModels) SwitchTo(ctx context.Context, logical, physical string) error {
	doc := nameDoc{ID: logical, Collection: physical, SwitchedAt: time.Now().UTC()}
	_, err := r.db.Collection(CollReadModelNames).ReplaceOne(ctx, bson.D{{Key: "_id", Value: logical}}, doc, options.Replace().SetUpsert(true))
	if err == nil {
		r.names.mu.Lock()
		r.names.loaded = time.Time{} // this process sees it at once
		r.names.mu.Unlock()
	}
	return err
}

// FreshName is a new collection name for a rebuild of logical.
func FreshName(logical string, now time.Time) string {
	return fmt.Sprintf("%s_r%d", logical, now.UnixMilli())
}
