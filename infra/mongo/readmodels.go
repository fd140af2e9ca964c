package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// ReadModels stores read-model documents for the projections and serves them
// to the queries.
type ReadModels struct {
	db *mongo.Database
	// Conditional makes Store check the revision it was given, so projector
	// replicas on several processes never overwrite each other. On MongoDB
	// the check is part of an _id lookup; on the embedded store any filter
	// beyond _id reads the whole collection, so the all-in-one run (one
	// projector process, which serialises writes per document itself)
	// leaves it off.
	Conditional bool
	// Tokens makes conditional writes claim each revision with an insert
	// (unique _id) instead of a filtered replace, for stores where a
	// filtered replace is not atomic (FerretDB: it reads, then writes by _id).
	Tokens bool

	names     *names
	overrides map[string]string // a rebuild's targets: logical name -> fresh collection

	// stored caches the documents this process loaded or stored last, by
	// collection (the physical one, so a rebuild's switch leaves the old
	// entries unused) and id, so that a projector applying a stream's next
	// commit does not read back what it just wrote. A cached document is
	// only ever behind the store, never ahead: a conditional Store of a
	// stale one fails with ErrConflict and evicts it, and the projection
	// loads again. Without Conditional, this process is the only writer.
	stored *lru.Cache[string, bson.Raw]
	// inserters group the first writes of documents, by physical
	// collection (insertOrReplace), and replacers the others (replace),
	// without Conditional; a rebuild's copy shares them.
	inserters *sync.Map
	replacers *sync.Map
	// handles are the physical collections' handles, made once: every
	// read asks for one, and a new handle per read was 3% of what a
	// service serving reads allocated.
	handles *sync.Map

	// hot holds the hot read models in memory (hot.go), shared by every
	// ReadModels of the database handle; hotMode is how this one serves
	// from it (ServeHot).
	hot     *hotDocs
	hotMode HotMode

	// stager, if set, stores StoreMany's documents together (StageWith),
	// and the replacers' larger batches; a rebuild's copy shares staging.
	stager  Stager
	staging *staging

	// afterClaim, in tests, runs right after a revision is claimed
	// (Tokens): where a writer that dies leaves its claim behind.
	afterClaim func()
}

// storedCacheSize bounds the cached documents: the working set of a busy
// cohort, in a few MiB.
const storedCacheSize = 4096

var (
	_ projections.Documents = (*ReadModels)(nil)
	_ projections.Creator   = (*ReadModels)(nil)
	_ queries.Reader        = (*ReadModels)(nil)
	_ queries.ListVersions  = (*ReadModels)(nil)
)

// NewReadModels returns the read-model store in db.
func NewReadModels(db *mongo.Database) *ReadModels {
	stored, _ := lru.New[string, bson.Raw](storedCacheSize)
	return &ReadModels{db: db, names: newNames(db), stored: stored, inserters: &sync.Map{}, replacers: &sync.Map{}, handles: &sync.Map{}, hot: hotFor(db), staging: &staging{dirty: true}}
}

// ServeHot makes Get (and the supervisors list) serve the hot read models
// from memory as mode says. Call it before anything is written through
// any ReadModels of the database handle: from then on each of them keeps
// the memory current with what it writes.
func (r *ReadModels) ServeHot(mode HotMode) {
	r.hotMode = mode
	if mode != HotOff {
		r.hot.use()
	}
}

// hotColl is the memory of a hot read model this ReadModels serves from
// (nil when it does not).
func (r *ReadModels) hotColl(logical string, coll *mongo.Collection) *hotColl {
	if r.hotMode == HotOff {
		return nil
	}
	return r.hot.coll(logical, coll.Name())
}

// coll returns the collection that currently holds a read model: its
// logical name, until a rebuild switched it to a fresh collection.
func (r *ReadModels) coll(ctx context.Context, logical string) *mongo.Collection {
	physical, ok := r.overrides[logical]
	if !ok {
		physical = r.names.physical(ctx, logical)
	}
	if c, ok := r.handles.Load(physical); ok {
		return c.(*mongo.Collection)
	}
	c, _ := r.handles.LoadOrStore(physical, r.db.Collection(physical))
	return c.(*mongo.Collection)
}

// Get decodes the document with this id into into: from memory for a hot
// read model (ServeHot), else from the store.
func (r *ReadModels) Get(ctx context.Context, collection, id string, into any) (bool, error) {
	coll := r.coll(ctx, collection)
	if hc := r.hotColl(collection, coll); hc != nil {
		return r.getHot(ctx, coll, hc, id, into)
	}
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(into)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// revField is the revision every projected document carries.
const revField = "_rev"

// Load decodes the document with this id and returns its revision: from
// the documents this process stored last, from memory where it is the
// store's (a hot read model, HotTrusted), or from the store. Where memory
// is the store's and knows the id of every document of the collection, an
// id it does not know is absent without asking the store: a supervisors
// file's capacities, folded before the file's new supervisors are, looked
// each of them up only to find nothing.
func (r *ReadModels) Load(ctx context.Context, collection, id string, into any) (bool, int64, error) {
	coll := r.coll(ctx, collection)
	key := coll.Name() + "\x00" + id
	raw, ok := r.stored.Get(key)
	if hc := r.hotColl(collection, coll); !ok && hc != nil && r.hotMode == HotTrusted {
		d, held, absent := r.hot.lookup(hc, id)
		if absent {
			return false, 0, nil
		}
		if held {
			raw, ok = d.raw, true
		}
	}
	if !ok {
		var err error
		raw, err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			return false, 0, nil
		}
		if err != nil {
			return false, 0, err
		}
		r.stored.Add(key, raw)
	}
	if err := bson.Unmarshal(raw, into); err != nil {
		return false, 0, err
	}
	return true, revOf(raw), nil
}

func (r *ReadModels) Store(ctx context.Context, collection, id string, doc any, rev int64) error {
	return r.write(ctx, collection, id, doc, rev, false)
}

// Create stores a document that must not exist yet, or fails with
// projections.ErrConflict, whether or not Store checks revisions.
func (r *ReadModels) Create(ctx context.Context, collection, id string, doc any) error {
	return r.write(ctx, collection, id, doc, 0, true)
}

func (r *ReadModels) write(ctx context.Context, collection, id string, doc any, rev int64, create bool) error {
	coll := r.coll(ctx, collection)
	hc := r.hot.coll(collection, coll.Name())
	trusted := hc != nil && r.hotMode == HotTrusted
	if hc != nil {
		defer r.hot.lock(hc, id).Unlock()
	}
	if create && trusted {
		if _, held := r.hot.peek(hc, id); held {
			// Memory is the store's: the document exists. A projection
			// creates a stream's document blind at its first commit, so
			// each first commit delivered again (the commits a restart
			// applies again after a crash, thousands of them) would
			// otherwise cost an insert the store refuses, and drop the
			// document from memory for its next load to read back.
			return projections.ErrConflict
		}
	}
	d, err := withRevision(doc, rev+1)
	if err != nil {
		return err
	}
	if err := r.store(ctx, coll, collection, id, d, rev, create); err != nil {
		if trusted && errors.Is(err, projections.ErrConflict) {
			// Refused, so the store is as it was, and memory, which is
			// the store's, stays: the writer loads the document from it.
			r.stored.Remove(coll.Name() + "\x00" + id)
			return err
		}
		r.unknown(coll, hc, id) // another writer's version may be in the store, or the write's outcome is unknown
		return err
	}
	r.written(coll, hc, id, d)
	return nil
}

// written records in this process's caches (stored, and memory, hc, if
// the read model is hot) that the store holds d as the document id of
// coll; the caller holds the document's lock of memory.
func (r *ReadModels) written(coll *mongo.Collection, hc *hotColl, id string, d bson.Raw) {
	r.stored.Add(coll.Name()+"\x00"+id, d)
	r.hot.written(hc, id, d)
}

// unknown drops the document from this process's caches: what the store
// holds of it is not known here.
func (r *ReadModels) unknown(coll *mongo.Collection, hc *hotColl, id string) {
	r.stored.Remove(coll.Name() + "\x00" + id)
	r.hot.forget(hc, id)
}

func (r *ReadModels) store(ctx context.Context, coll *mongo.Collection, collection, id string, d bson.Raw, rev int64, create bool) error {
	if !r.Conditional {
		if create {
			return r.insertNew(ctx, coll, d)
		}
		if rev == 0 {
			return r.insertOrReplace(ctx, coll, id, d)
		}
		if err := r.atRevision(ctx, coll, collection, id, rev); err != nil {
			return err
		}
		return r.replace(ctx, coll, id, d)
	}
	if r.Tokens {
		return r.storeWithToken(ctx, collection, id, d, rev)
	}
	if rev == 0 {
		_, err := coll.InsertOne(ctx, d)
		if mongo.IsDuplicateKeyError(err) {
			return projections.ErrConflict
		}
		return err
	}
	res, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: revField, Value: rev}}, d)
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return projections.ErrConflict
	}
	return nil
}

// atRevision checks, where this process is the only writer of the read
// models (no Conditional), that the collection holds the document at rev:
// the revision the writer loaded. What this process stored or loaded of it
// last says so without a read, as memory does where it is the store's
// (HotTrusted); else the store is asked. Only a rebuild's switch between a
// projector's load and its write makes them differ: the document was
// loaded from the old collection and is written to the new one, whose
// rebuilt revisions the old one never reached (RebuiltRevision). The
// projector then loads it again, from the new collection.
func (r *ReadModels) atRevision(ctx context.Context, coll *mongo.Collection, logical, id string, rev int64) error {
	raw, ok := r.stored.Peek(coll.Name() + "\x00" + id)
	if hc := r.hotColl(logical, coll); !ok && hc != nil && r.hotMode == HotTrusted {
		if d, held := r.hot.get(hc, id); held {
			raw, ok = d.raw, true
		}
	}
	cur := revOf(raw)
	if !ok {
		var err error
		if cur, err = revision(ctx, coll, id); err != nil {
			return err
		}
	}
	if cur != rev {
		return projections.ErrConflict
	}
	return nil
}

// RebuiltRevision is the revision a rebuild gives the documents it
// writes at a time: the milliseconds since 1970 times 2^20 (until the
// year 2262). The documents of the collection it replaces are at the
// revision of an earlier rebuild (or at 0) plus one a write, so they never
// reach it: a write folded on one of them that lands in the rebuilt
// collection after the switch fails its revision check, and its projector
// loads the rebuilt document instead of overwriting it.
func RebuiltRevision(at time.Time) int64 { return at.UnixMilli() << 20 }

// withRevision encodes doc with its revision: the document's elements, then
// the revision, appended to the encoded bytes rather than decoded and
// encoded again (this is every projected write).
func withRevision(doc any, rev int64) (bson.Raw, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return appendRevision(raw, rev), nil
}

// appendRevision returns the encoded document with the revision appended.
func appendRevision(raw bson.Raw, rev int64) bson.Raw {
	return bson.Raw(bsoncore.BuildDocumentFromElements(nil, raw[4:len(raw)-1], bsoncore.AppendInt64Element(nil, revField, rev)))
}

// insertOrReplace writes a document its writer found absent: with an
// insert, which on the embedded store costs a third of a replace (a replace
// looks the document up, then writes it, in two statements), shared with
// the other first writes to the collection in flight (a cohort's import
// creates thousands of documents); and as a replace should it exist after
// all.
func (r *ReadModels) insertOrReplace(ctx context.Context, coll *mongo.Collection, id string, d bson.Raw) error {
	err := r.insertNew(ctx, coll, d)
	if errors.Is(err, projections.ErrConflict) {
		return upsert(ctx, coll, id, d)
	}
	return err
}

// insertNew inserts a document, sharing the insert with the other first
// writes of the collection, or fails with ErrConflict if its id is taken.
func (r *ReadModels) insertNew(ctx context.Context, coll *mongo.Collection, d bson.Raw) error {
	a, ok := r.inserters.Load(coll.Name())
	if !ok {
		a, _ = r.inserters.LoadOrStore(coll.Name(), newAppender(coll))
	}
	err := a.(*appender).append(ctx, d)
	if errors.Is(err, commands.ErrConcurrentAppend) {
		return projections.ErrConflict
	}
	return err
}

// replace replaces or inserts the document with this id, sharing the bulk
// write with the other replaces of the collection in flight (replacer).
func (r *ReadModels) replace(ctx context.Context, coll *mongo.Collection, id string, d bson.Raw) error {
	g, ok := r.replacers.Load(coll.Name())
	if !ok {
		g, _ = r.replacers.LoadOrStore(coll.Name(), newReplacer(r, coll))
	}
	return g.(*replacer).do(ctx, &groupReq{doc: d, id: id})
}

// replacer sends the replaces of concurrent projector workers together:
// in bulk writes of at most storeManyChunk, one at a time in the process
// (bulkWrites), as StoreMany does, or, four or more with a stager, staged
// and moved in two transactions. Only where this process is the one
// writer of the read models (no Conditional): every document then has one
// write at a time (the projections' locks), so a batch never holds two of
// one document. In a bulk write the embedded store still takes a
// transaction per document, but one command, and one pass of its write
// gate, for many: a lone replace held the gate about 1.3 ms under load,
// where the store's own work was 0.16 ms.
type replacer struct {
	*group
	rm   *ReadModels
	coll *mongo.Collection
}

func newReplacer(rm *ReadModels, coll *mongo.Collection) *replacer {
	r := &replacer{rm: rm, coll: coll}
	most := storeManyChunk
	if rm.stager != nil {
		most = maxStagedBatch
	}
	r.group = newGroup(most, r.write)
	return r
}

// maxStagedBatch bounds a batch of replaces that is staged; stageAtLeast
// is the batch that goes through the stager (where there is one), whose
// two transactions then cost less than one each.
const (
	maxStagedBatch = 128
	stageAtLeast   = 4
)

func (r *replacer) write(ctx context.Context, batch []*groupReq) {
	if len(batch) == 1 {
		batch[0].err = upsert(ctx, r.coll, batch[0].id, batch[0].doc)
		return
	}
	if r.rm.stager != nil && len(batch) >= stageAtLeast {
		raws := make([]any, len(batch))
		for i, q := range batch {
			raws[i] = q.doc
		}
		err := r.rm.moveStaged(ctx, r.coll, raws)
		for _, q := range batch {
			q.err = err
		}
		return
	}
	models := make([]mongo.WriteModel, len(batch))
	for i, q := range batch {
		models[i] = mongo.NewReplaceOneModel().SetFilter(bson.D{{Key: "_id", Value: q.id}}).SetReplacement(q.doc).SetUpsert(true)
	}
	bulkWrites.Lock()
	_, err := r.coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	bulkWrites.Unlock()
	settle(batch, err, func(q *groupReq, we mongo.BulkWriteError) error {
		if mongo.IsDuplicateKeyError(we) { // two first writes raced, as in upsert
			return upsert(ctx, r.coll, q.id, q.doc)
		}
		return we
	})
}

// upsert replaces or inserts the document with this id. Two first writes of
// one id may race to insert; MongoDB retries the loser itself, FerretDB
// answers it with a duplicate-key error, so it is retried here once (the
// second attempt finds the document and replaces it).
func upsert(ctx context.Context, coll *mongo.Collection, id string, doc any) error {
	filter := bson.D{{Key: "_id", Value: id}}
	_, err := coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		_, err = coll.ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	}
	return err
}

// CollRevisionTokens holds the claims of read-model revisions (Tokens mode).
const CollRevisionTokens = "read_model_revisions"

// tokenStale is how old an unfulfilled claim may get before it is taken to
// belong to a projector that died between claiming and writing.
const tokenStale = 10 * time.Second

// tokenKeep is how many recent claims of a document are kept.
const tokenKeep = 64

type revisionToken struct {
	ID string    `bson:"_id"`
	At time.Time `bson:"at"`
}

// storeWithToken claims revision rev+1 of the document by inserting a token
// with a unique id, then writes the document: of racing writers exactly one
// claims it, and the others reload. A claim left by a dead writer is taken
// over once old (claimRevision).
//
// Whether the document is at rev is always asked of the store, never of
// the cached copy the writer folded on: a copy many revisions behind (a
// replica that has not written the document for a while) may claim a
// revision whose claim is long cleared away, and would replace every later
// write; and judged by such a copy, a fulfilled claim looks abandoned.
func (r *ReadModels) storeWithToken(ctx context.Context, collection, id string, d bson.Raw, rev int64) error {
	coll := r.coll(ctx, collection)
	return writeRevision(ctx, r.db.Collection(CollRevisionTokens), collection+"/"+id, rev,
		func(ctx context.Context) (int64, error) { return revision(ctx, coll, id) },
		func(ctx context.Context) error { return upsert(ctx, coll, id, d) },
		r.afterClaim)
}

// writeRevision writes revision rev+1 of a document, named name among the
// claims in tokens, once its claim is this writer's (see storeWithToken):
// current reads the document's revision from the store, write writes the
// new one. It fails with projections.ErrConflict when another writer holds
// the claim, or the document is no longer at rev. afterClaim, when set,
// runs between the claim and the write (tests).
func writeRevision(ctx context.Context, tokens *mongo.Collection, name string, rev int64,
	current func(context.Context) (int64, error), write func(context.Context) error, afterClaim func()) error {
	key := func(v int64) string { return fmt.Sprintf("%s@%d", name, v) }
	claim, gen, err := claimRevision(ctx, tokens, key(rev+1), rev, current)
	if err != nil {
		return err
	}
	if afterClaim != nil {
		afterClaim()
	}
	cur, err := current(ctx)
	if err == nil && cur != rev {
		err = projections.ErrConflict // claimed a revision long past (or not reached): not ours to write
	}
	if err != nil {
		_, _ = tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: claim.ID}, {Key: "at", Value: claim.At}})
		return err
	}
	if err := write(ctx); err != nil {
		return err
	}
	// The revision is written: the generations taken over from dead
	// writers can go (the first stays, and says the revision was claimed,
	// until the old claims go).
	for g := gen; g > 0; g-- {
		_, _ = tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimGeneration(key(rev+1), g)}})
	}
	// Old claims can go, but not the recent ones: a claim that is gone can be
	// made again, so a writer that loaded an old revision and stalled would
	// overwrite newer work. One that stalls across tokenKeep writes is
	// beyond belief.
	if rev >= tokenKeep {
		_, _ = tokens.DeleteOne(ctx, bson.D{{Key: "_id", Value: key(rev + 1 - tokenKeep)}})
	}
	return nil
}

// claimRevision inserts the claim, named name, of revision rev+1 of a
// document whose stored revision current reads, and returns it with its
// generation. A writer that dies
// between claiming and writing (a projector killed) leaves its claim: once
// the claim is tokenStale old and the document still at rev, the revision
// is claimed again under the claim's next generation, which again exactly
// one writer gets; so on, should that one die too.
//
// A dead claim is never deleted to be made again: several writers take
// over from it at once after a crash, and the embedded store deletes by
// filter in two steps (it finds the documents, then deletes them by _id),
// so one of them that found the dead claim could delete the claim another
// had just made in its place, and both would write the revision, one
// losing the other's update.
func claimRevision(ctx context.Context, tokens *mongo.Collection, name string, rev int64, current func(context.Context) (int64, error)) (revisionToken, int, error) {
	for gen := 0; ; gen++ {
		claim := revisionToken{ID: claimGeneration(name, gen), At: time.Now().UTC().Truncate(time.Millisecond)}
		_, err := tokens.InsertOne(ctx, claim)
		if err == nil || !mongo.IsDuplicateKeyError(err) {
			return claim, gen, err
		}
		var held revisionToken
		if tokens.FindOne(ctx, bson.D{{Key: "_id", Value: claim.ID}}).Decode(&held) != nil || time.Since(held.At) <= tokenStale {
			return claim, gen, projections.ErrConflict // a writer holds it
		}
		// An old claim whose document is still at rev was never fulfilled:
		// its writer died.
		if cur, err := current(ctx); err != nil || cur != rev {
			return claim, gen, projections.ErrConflict
		}
	}
}

// claimGeneration names generation gen of the claim name (the claim
// itself for 0).
func claimGeneration(name string, gen int) string {
	if gen == 0 {
		return name
	}
	return fmt.Sprintf("%s~%d", name, gen)
}

// revision is the revision of the document as the store has it now (0 if
// it does not exist).
func revision(ctx context.Context, coll *mongo.Collection, id string) (int64, error) {
	raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: revField, Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return revOf(raw), nil
}

// revOf reads a stored document's revision (any BSON number).
func revOf(raw bson.Raw) int64 {
	rev, _ := raw.Lookup(revField).AsInt64OK()
	return rev
}

// Find returns one page of documents matching the filter, in _id order (ids
// are UUIDv7, so that is creation order).
func (r *ReadModels) Find(ctx context.Context, collection string, f queries.Filter, into any) error {
	if served, err := r.findHot(ctx, collection, f, into); served || err != nil {
		return err
	}
	var and bson.A
	for k, v := range f.Equal {
		and = append(and, bson.D{{Key: k, Value: v}})
	}
	for k, v := range f.NotEqual {
		and = append(and, bson.D{{Key: k, Value: bson.D{{Key: "$ne", Value: v}}}})
	}
	if len(f.AnyOf) > 0 {
		var or bson.A
		for _, m := range f.AnyOf {
			var all bson.A
			for k, v := range m.Equal {
				all = append(all, bson.D{{Key: k, Value: v}})
			}
			for k, vs := range m.NotIn {
				all = append(all, bson.D{{Key: k, Value: bson.D{{Key: "$nin", Value: vs}}}})
			}
			if len(all) == 0 { // no condition: the alternative matches everything
				or = append(or, bson.D{})
				continue
			}
			or = append(or, bson.D{{Key: "$and", Value: all}})
		}
		and = append(and, bson.D{{Key: "$or", Value: or}})
	}
	if f.Term != "" && len(f.Search) > 0 {
		var or bson.A
		rx := bson.Regex{Pattern: literalPattern(f.Term), Options: "i"}
		for _, field := range f.Search {
			or = append(or, bson.D{{Key: field, Value: rx}})
		}
		and = append(and, bson.D{{Key: "$or", Value: or}})
	}
	if f.ActiveOnly {
		and = append(and, bson.D{{Key: "active", Value: true}})
	}
	if f.After != "" {
		and = append(and, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: f.After}}}})
	}
	filter := bson.D{}
	if len(and) > 0 {
		filter = bson.D{{Key: "$and", Value: and}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if f.Limit > 0 {
		opts.SetLimit(int64(f.Limit))
	}
	coll := r.coll(ctx, collection)
	var hc *hotColl
	if r.hotMode == HotTrusted {
		hc = r.hotColl(collection, coll)
	}
	if hc == nil {
		cur, err := coll.Find(ctx, filter, opts)
		if err != nil {
			return err
		}
		return cur.All(ctx, into)
	}
	// A page of a hot read model that memory did not serve (one larger
	// than memory holds, whose filter the documents held seemed to match
	// too rarely) is held as a page served by walking is: the next pages
	// of the list, judged by what memory holds lately, walk it again.
	// Left out, memory stayed as it was, and every later page of the list
	// read the whole collection.
	gens := r.hot.gensOf(hc)
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	var page []*hotDoc
	for cur.Next(ctx) {
		page = append(page, &hotDoc{raw: slices.Clone(cur.Current)})
	}
	if err := cur.Err(); err != nil {
		return err
	}
	r.hot.fillPage(hc, gens, page)
	return decodeAll(page, into)
}

// literalPattern is a regular expression that matches term literally. A
// BSON regex is a C string, so a NUL byte cannot be in it as such: it is
// written as the escape \x00, which matches it.
func literalPattern(term string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(term), "\x00", `\x00`)
}

// Credentials keeps password hashes in their own collection, outside the
// event store and the read models.
type Credentials struct{ coll *mongo.Collection }

var _ commands.Credentials = (*Credentials)(nil)

// NewCredentials returns the credentials store in db.
func NewCredentials(db *mongo.Database) *Credentials {
	return &Credentials{coll: db.Collection(CollCredentials)}
}

type credentialDoc struct {
	ID        string    `bson:"_id"`
	Hash      string    `bson:"hash"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// SetPasswordHash stores the user's hash, replacing any previous one.
func (c *Credentials) SetPasswordHash(ctx context.Context, userID, hash string) error {
	doc := credentialDoc{ID: userID, Hash: hash, UpdatedAt: time.Now().UTC()}
	return upsert(ctx, c.coll, userID, doc)
}

// ReplacePasswordHash stores hash in place of old, in one update filtered
// on old: of two changes that proved the same password, one replaces it.
// With old "" (none yet) it inserts the user's document, which the store
// refuses where one exists (and updates one left with no hash).
func (c *Credentials) ReplacePasswordHash(ctx context.Context, userID, old, hash string) (bool, error) {
	if old == "" {
		_, err := c.coll.InsertOne(ctx, credentialDoc{ID: userID, Hash: hash, UpdatedAt: time.Now().UTC()})
		if err == nil || !mongo.IsDuplicateKeyError(err) {
			return err == nil, err
		}
	}
	res, err := c.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "hash", Value: old}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "hash", Value: hash}, {Key: "updated_at", Value: time.Now().UTC()}}}})
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// PasswordHash returns the user's hash, or commands.ErrNoPassword.
func (c *Credentials) PasswordHash(ctx context.Context, userID string) (string, error) {
	var doc credentialDoc
	err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && doc.Hash == "") {
		return "", commands.ErrNoPassword
	}
	return doc.Hash, err
}
