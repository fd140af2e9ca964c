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
// the store's (HotTrusted: always, and absent when memory knows every id
// of the collection and not this one; HotValidated: when the store's
// revision is the one held), else the store's, kept for the next read.
func (r *ReadModels) getHot(ctx context.Context, coll *mongo.Collection, hc *hotColl, id string, into any) (bool, error) {
	d, ok, absent := r.hot.lookup(hc, id)
	if absent && r.hotMode == HotTrusted {
		// Memory knows every id of the collection: a wait for a document
		// yet to be written (an import's answer) polls none from the store.
		return false, nil
	}
	if ok {
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
	raw, found, err := r.readHot(ctx, coll, hc, id)
	if !found || err != nil {
		return false, err
	}
	return true, bson.Unmarshal(raw, into)
}

// readHot reads a document of a hot read model from the store, and keeps
// it in memory unless a write of it came in meanwhile.
func (r *ReadModels) readHot(ctx context.Context, coll *mongo.Collection, hc *hotColl, id string) (bson.Raw, bool, error) {
	gen := r.hot.gen(hc, id)
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if afterHotRead != nil {
		afterHotRead(id)
	}
	r.hot.fill(hc, id, gen, raw)
	return raw, true, nil
}

// afterHotRead, in tests, runs between a read of the store and its fill
// of memory: where a write may come in between.
var afterHotRead func(id string)

// findHot answers a list of a hot read model on the one process that
// writes it (HotTrusted) as the store would: the documents matching the
// filter (memFilter, the store's own rules), in _id order, after the
// cursor, at most Limit, by walking the ids of all its documents
// (walkHot). The first list learns them (loadIDs); one that cannot
// (writes went on meanwhile, another list is loading them) is served by
// the store, and the next tries again. So is a list that meets a
// document of a shape memFilter leaves to the store.
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
	ids, ok := r.hot.everyIDs(hc)
	if !ok {
		if err := r.loadIDs(ctx, coll, hc); err != nil {
			return false, err
		}
		if ids, ok = r.hot.everyIDs(hc); !ok {
			return false, nil
		}
	}
	return r.walkHot(ctx, coll, hc, m, ids, into)
}

// loadIDs learns the id of every document of a hot read model: with the
// documents themselves while it fits in memory (loadWhole), else alone
// (loadEvery, one scan).
func (r *ReadModels) loadIDs(ctx context.Context, coll *mongo.Collection, hc *hotColl) error {
	if !r.hot.outgrown(hc) {
		if err := r.loadWhole(ctx, coll, hc); err != nil || !r.hot.outgrown(hc) {
			return err
		}
	}
	return r.loadEvery(ctx, coll, hc)
}

// walkHot answers a list by walking the ids of all the read model's
// documents in order from the cursor: each document from memory, or, for
// one memory does not hold (a read model larger than memory holds), by
// its _id from the store (the one filter the embedded store serves from
// an index; any other reads the whole collection, some seconds for a
// cohort of 25,000), until the page is full.
//
// Where memory lacks more documents than walkLookups, a filter few
// documents match makes that walk long, and a lookup costs some two to
// three times what a scan pays a document: a list whose filter matches
// too few of the documents memory holds (a sample) to fill its page
// within walkLookups is the store's from the start, and one that has not
// filled it by then goes there too; so is one without a limit. (Fewer
// missing, say after a failed write dropped one, are looked up and held
// again.)
func (r *ReadModels) walkHot(ctx context.Context, coll *mongo.Collection, hc *hotColl, m memFilter, ids []string, into any) (bool, error) {
	lookups := walkLookups(len(ids))
	if missing, _ := r.hot.missing(hc); missing > lookups { // a few missing are looked up, and held again
		if m.f.Limit <= 0 {
			return false, nil
		}
		// The documents held are those lately read: paging on, those
		// before the cursor. The sample is judged by the filter without
		// the cursor.
		sample, anywhere := r.hot.sample(hc, walkSample), m
		anywhere.f.After = ""
		hits := 0
		for _, d := range sample {
			matches, judged := anywhere.match(d.raw)
			if !judged {
				return false, nil
			}
			if matches {
				hits++
			}
		}
		if len(sample) >= walkSampleAtLeast && (hits == 0 || m.f.Limit*len(sample)/hits > lookups) {
			return false, nil
		}
	}
	var out []*hotDoc
	first, _ := slices.BinarySearch(ids, m.f.After)
	for _, id := range ids[first:] {
		if m.f.Limit > 0 && len(out) == m.f.Limit {
			break
		}
		d, held := r.hot.peek(hc, id)
		if !held {
			if lookups == 0 {
				return false, nil
			}
			lookups--
			raw, found, err := r.readHot(ctx, coll, hc, id)
			if err != nil {
				return false, err
			}
			if !found { // a failed write's id
				r.hot.gone(hc, id)
				continue
			}
			d = &hotDoc{raw: raw}
		}
		matches, judged := m.match(d.raw)
		if !judged {
			return false, nil
		}
		if matches {
			out = append(out, d)
		}
	}
	return true, decodeAll(out, into)
}

// walkLookups is how many documents a walk of a read model of n
// documents may look up in the store: about a quarter of what a scan of
// it costs.
func walkLookups(n int) int { return n/10 + 64 }

// walkSample is how many of the documents memory holds a walk looks at
// first, to judge whether its filter matches enough of them; fewer than
// walkSampleAtLeast say too little to judge by.
const (
	walkSample        = 1024
	walkSampleAtLeast = 64
)

// loadEvery lists the id of every document of a hot read model, once, for
// walkHot; a list that comes while another loads them goes to the store.
func (r *ReadModels) loadEvery(ctx context.Context, coll *mongo.Collection, hc *hotColl) error {
	if !r.hot.startEvery(hc) {
		return nil
	}
	var ids []string
	unordered := false
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err == nil {
		for cur.Next(ctx) {
			id, ok := cur.Current.Lookup("_id").StringValueOK()
			unordered = unordered || !ok
			ids = append(ids, id)
		}
		err = cur.Err()
		cur.Close(ctx)
	}
	r.hot.finishEvery(hc, ids, err == nil, unordered)
	return err
}

// loadWhole reads a hot read model whole into memory, with its ids,
// unless it is larger than memory holds (then it is marked outgrown) or a
// write came in meanwhile (the next list tries again).
func (r *ReadModels) loadWhole(ctx context.Context, coll *mongo.Collection, hc *hotColl) error {
	gens := r.hot.gensOf(hc)
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetLimit(int64(hc.limit+1)))
	if err != nil {
		return err
	}
	var raws []bson.Raw
	for cur.Next(ctx) {
		raws = append(raws, slices.Clone(cur.Current))
	}
	if err := cur.Err(); err != nil {
		return err
	}
	r.hot.fillAll(hc, gens, raws)
	return nil
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
		if err := r.loadWhole(ctx, coll, r.hotColl(logical, coll)); err != nil {
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
