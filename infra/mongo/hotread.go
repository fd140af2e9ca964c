package mongo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/queries"
)

// getHot is Get for a hot read model: the document in memory when it is
// the store's (HotTrusted: always; HotValidated: when the store's revision
// is the one held), else the store's, kept for the next read.
func (r *ReadModels) getHot(ctx context.Context, coll *mongo.Collection, hc *hotColl, id string, into any) (bool, error) {
	if d, ok := r.hot.get(hc, id); ok {
		current := true
		if r.hotMode == HotValidated {
			rev, err := revision(ctx, coll, id)
			if err != nil {
				return false, err
			}
			current = rev == d.rev
		}
		if current {
			return true, d.decode(into)
		}
	}
	gen := r.hot.gen(hc, id)
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if afterHotRead != nil {
		afterHotRead(id)
	}
	r.hot.fill(hc, id, gen, raw)
	return true, bson.Unmarshal(raw, into)
}

// afterHotRead, in tests, runs between a read of the store and its fill
// of memory: where a write may come in between.
var afterHotRead func(id string)

// findHot answers a list of a read model held whole in memory, on the one
// process that writes it (HotTrusted), as the store would: the documents
// matching the filter (memFilter, the store's own rules), in _id order,
// after the cursor, at most Limit. The first list loads the collection
// whole; one that cannot (writes went on meanwhile) is served by the
// store, and the next tries again. So is a list that meets a document of
// a shape memFilter leaves to the store.
func (r *ReadModels) findHot(ctx context.Context, collection string, f queries.Filter, into any) (served bool, err error) {
	if r.hotMode != HotTrusted {
		return false, nil
	}
	m, ok := newMemFilter(f)
	if !ok {
		return false, nil
	}
	coll := r.coll(ctx, collection)
	hc := r.hotColl(collection, coll)
	if hc == nil {
		return false, nil
	}
	held, whole := r.hot.all(hc)
	if !whole {
		if r.hot.outgrown(hc) {
			return false, nil
		}
		if loaded, err := r.loadWhole(ctx, coll, hc); !loaded || err != nil {
			return false, err
		}
		if held, whole = r.hot.all(hc); !whole {
			return false, nil
		}
	}
	var out []*hotDoc
	first, _ := slices.BinarySearch(held.ids, f.After)
	for i := first; i < len(held.ids) && (f.Limit <= 0 || len(out) < f.Limit); i++ {
		matches, judged := m.match(held.docs[i].raw)
		if !judged {
			return false, nil
		}
		if matches {
			out = append(out, held.docs[i])
		}
	}
	return true, decodeAll(out, into)
}

// loadWhole reads a hot read model whole into memory, and reports whether
// memory now holds it whole: not if it is larger than memory holds, or if
// a write came in meanwhile (the next list tries again).
func (r *ReadModels) loadWhole(ctx context.Context, coll *mongo.Collection, hc *hotColl) (bool, error) {
	gens := r.hot.gensOf(hc)
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetLimit(int64(hc.limit+1)))
	if err != nil {
		return false, err
	}
	var raws []bson.Raw
	for cur.Next(ctx) {
		raws = append(raws, slices.Clone(cur.Current))
	}
	if err := cur.Err(); err != nil {
		return false, err
	}
	return r.hot.fillAll(hc, gens, raws), nil
}

// WarmHot loads the hot read models whole (HotTrusted), so that the first
// list of each is served from memory too: a cohort's first allocation
// lists 5,000 students, which the store reads in most of a second. On an
// empty store it costs nothing, and memory holds every read model whole
// from then on, as long as none outgrows it. Call it before anything is
// written: a read model written meanwhile, or too large, is left to be
// loaded by its first list.
func (r *ReadModels) WarmHot(ctx context.Context) error {
	if r.hotMode != HotTrusted {
		return nil
	}
	for _, logical := range slices.Sorted(maps.Keys(hotLimits)) {
		coll := r.coll(ctx, logical)
		if _, err := r.loadWhole(ctx, coll, r.hotColl(logical, coll)); err != nil {
			return fmt.Errorf("load %s into memory: %w", logical, err)
		}
	}
	return nil
}

// ListVersion says which state of a hot read model its lists are served
// from, on the one process that writes it (HotTrusted), once the read
// model is held whole: the same version, the same lists.
func (r *ReadModels) ListVersion(ctx context.Context, collection string) (string, bool) {
	if r.hotMode != HotTrusted {
		return "", false
	}
	coll := r.coll(ctx, collection)
	hc := r.hotColl(collection, coll)
	if hc == nil {
		return "", false
	}
	v, ok := r.hot.version(hc)
	return coll.Name() + "@" + v, ok
}

// decodeAll decodes documents into into (a pointer to a slice) as a
// cursor's All does: the slice's elements replaced by them.
func decodeAll(docs []*hotDoc, into any) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("results argument must be a pointer to a slice, not %T", into)
	}
	slice := v.Elem().Slice(0, 0)
	elem := slice.Type().Elem()
	for _, d := range docs {
		e := reflect.New(elem)
		if err := d.decode(e.Interface()); err != nil {
			return err
		}
		slice = reflect.Append(slice, e.Elem())
	}
	v.Elem().Set(slice)
	return nil
}
