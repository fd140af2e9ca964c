package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// memDocs is an in-memory read-model store. Documents go through BSON, as
// they do in MongoDB, so a projection cannot keep state it did not store.
type memDocs struct {
	mu   sync.Mutex
	docs map[string][]byte
	revs map[string]int64
	puts int
	// unconditional stores whatever revision is given, as the all-in-one
	// service's read models do; slow is how long a load takes.
	unconditional bool
	slow          time.Duration
	loads         int
}

// creatingDocs is memDocs that creates documents (projections.Creator).
type creatingDocs struct{ *memDocs }

func (m creatingDocs) Create(_ context.Context, coll, id string, doc any) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.docs[coll+"/"+id]; ok {
		return projections.ErrConflict
	}
	if m.revs == nil {
		m.revs = map[string]int64{}
	}
	m.docs[coll+"/"+id], m.revs[coll+"/"+id] = raw, 1
	m.puts++
	return nil
}

func (m *memDocs) Load(_ context.Context, coll, id string, into any) (bool, int64, error) {
	m.mu.Lock()
	raw, ok := m.docs[coll+"/"+id]
	rev := m.revs[coll+"/"+id]
	m.loads++
	m.mu.Unlock()
	time.Sleep(m.slow)
	if !ok {
		return false, 0, nil
	}
	return true, rev, bson.Unmarshal(raw, into)
}

func (m *memDocs) Store(_ context.Context, coll, id string, doc any, rev int64) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs == nil {
		m.revs = map[string]int64{}
	}
	if m.revs[coll+"/"+id] != rev && !m.unconditional {
		return projections.ErrConflict
	}
	m.docs[coll+"/"+id] = raw
	m.revs[coll+"/"+id] = rev + 1
	m.puts++
	return nil
}

func (m *memDocs) Get(ctx context.Context, coll, id string, into any) (bool, error) {
	found, _, err := m.Load(ctx, coll, id, into)
	return found, err
}

// memStreams serves commits as the event store would.
type memStreams struct{ commits map[string][]events.Commit }

func (m memStreams) ReadStream(_ context.Context, id string, opts events.ReadOptions) ([]events.Commit, error) {
	var out []events.Commit
	for _, c := range m.commits[id] {
		if c.FirstVersion >= max(opts.From, 1) && (opts.UntilVersion == 0 || c.FirstVersion <= opts.UntilVersion) {
			out = append(out, c)
		}
	}
	return out, nil
}

var t0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

func commit(stream string, first int64, data ...events.Data) events.Commit {
	c := events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: first, RecordedAt: t0.Add(time.Duration(first) * time.Minute)}
	for i, d := range data {
		c.Events = append(c.Events, events.Envelope{ID: fmt.Sprint(stream, first, i), StreamID: stream, StreamType: events.StreamProject,
			Version: first + int64(i), Type: d.EventType(), SchemaVersion: 1, Data: d, RecordedAt: c.RecordedAt})
	}
	return c
}

// history builds a few project streams with multi-event commits.
func history(streams int) map[string][]events.Commit {
	out := map[string][]events.Commit{}
	for s := range streams {
		id := fmt.Sprintf("p%d", s)
		cs := []events.Commit{commit(id, 1, &events.ProjectCreated{OwnerID: "u1", Title: "t0"})}
		v := int64(2)
		for j := range 6 {
			if j%3 == 2 {
				cs = append(cs, commit(id, v, &events.ProjectEdited{Title: fmt.Sprint("t", j)}, &events.ProjectEdited{Title: fmt.Sprint("u", j), Aim: "a"}))
				v += 2
			} else {
				cs = append(cs, commit(id, v, &events.ProjectEdited{Title: fmt.Sprint("t", j)}))
				v++
			}
		}
		if s%2 == 1 {
			cs = append(cs, commit(id, v, &events.ProjectWithdrawn{}))
		}
		out[id] = cs
	}
	return out
}

// fold is the reference: every event of the stream applied in order.
func fold(cs []events.Commit) projections.ProjectDoc {
	var d projections.ProjectDoc
	for _, c := range cs {
		for _, e := range c.Events {
			d, _ = projections.FoldProject(d, e)
		}
	}
	return d
}

// TestProjectionConverges delivers every commit in a random order, with
// duplicates, and checks each document equals the fold of its stream.
func TestProjectionConverges(t *testing.T) {
	hist := history(5)
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var deliveries []events.Commit
		for _, cs := range hist {
			for _, c := range cs {
				for range 1 + rng.IntN(3) { // each commit once to three times
					deliveries = append(deliveries, c)
				}
			}
		}
		rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		docs := &memDocs{docs: map[string][]byte{}}
		p := projections.NewProjects(docs, memStreams{hist})
		for _, c := range deliveries {
			if err := p.Handle(context.Background(), c); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		for id, cs := range hist {
			var got projections.ProjectDoc
			if ok, _ := docs.Get(context.Background(), projections.CollProjects, id, &got); !ok {
				t.Fatalf("seed %d: %s missing", seed, id)
			}
			if want := fold(cs); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: %s\n got %+v\nwant %+v", seed, id, got, want)
			}
		}
	}
}

// TestProjectionIgnoresDuplicates: a redelivered commit writes nothing.
func TestProjectionIgnoresDuplicates(t *testing.T) {
	hist := history(1)
	docs := &memDocs{docs: map[string][]byte{}}
	p := projections.NewProjects(docs, memStreams{hist})
	for _, c := range hist["p0"] {
		if err := p.Handle(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	puts := docs.puts
	for _, c := range hist["p0"] {
		if err := p.Handle(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if docs.puts != puts {
		t.Fatalf("redelivery wrote %d documents", docs.puts-puts)
	}
}

// TestProjectionGapNotYetStored: a commit whose predecessors the store cannot
// give yet is an error (to be retried), never a skipped version.
func TestProjectionGapNotYetStored(t *testing.T) {
	hist := history(1)
	docs := &memDocs{docs: map[string][]byte{}}
	p := projections.NewProjects(docs, memStreams{map[string][]events.Commit{}})
	err := p.Handle(context.Background(), hist["p0"][2])
	if err == nil {
		t.Fatal("a gap the store cannot fill was accepted")
	}
	if ok, _ := docs.Get(context.Background(), projections.CollProjects, "p0", &projections.ProjectDoc{}); ok {
		t.Fatal("a document was written past a gap")
	}
	if !strings.Contains(err.Error(), "p0") {
		t.Fatalf("the error does not name the stream: %v", err)
	}
}

// TestProjectionsSkipOtherStreams: each projection folds only its stream type.
func TestProjectionsSkipOtherStreams(t *testing.T) {
	docs := &memDocs{docs: map[string][]byte{}}
	users := projections.NewUsers(docs, memStreams{})
	if err := users.Handle(context.Background(), history(1)["p0"][0]); err != nil {
		t.Fatal(err)
	}
	if docs.puts != 0 {
		t.Fatal("the users projection wrote a project")
	}
}

// TestReplicasRacingOnOneDocument: two projector replicas (two projection
// instances, no shared lock) apply commits of different streams that concern
// one student document at the same time; revisions keep every change.
func TestReplicasRacingOnOneDocument(t *testing.T) {
	docs := &memDocs{docs: map[string][]byte{}}
	streams := memStreams{commits: map[string][]events.Commit{}}
	a, b := projections.NewStudents(docs, streams), projections.NewStudents(docs, streams)
	mk := func(stream, typ string, d events.Data) events.Commit {
		c := events.Commit{StreamID: stream, StreamType: typ, FirstVersion: 1, RecordedAt: t0}
		c.Events = []events.Envelope{{StreamID: stream, StreamType: typ, Version: 1, Type: d.EventType(), Data: d, RecordedAt: t0}}
		streams.commits[stream] = []events.Commit{c}
		return c
	}
	var commits []events.Commit
	commits = append(commits, mk("u1", events.StreamUser, &events.UserCreated{Email: "a@b.c", Name: "A", Roles: []string{events.RoleStudent}}))
	commits = append(commits, mk("student:u1", events.StreamStudent, &events.PreferencesSet{SupervisorIDs: []string{"s1"}}))
	for i := range 30 {
		commits = append(commits, mk(fmt.Sprint("p", i), events.StreamProject, &events.ProjectCreated{OwnerID: "u1", Title: "t"}))
	}
	var wg sync.WaitGroup
	for i, c := range commits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := a
			if i%2 == 1 {
				p = b
			}
			if err := p.Handle(context.Background(), c); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var got projections.StudentDoc
	if ok, _ := docs.Get(context.Background(), projections.CollStudents, "u1", &got); !ok {
		t.Fatal("no document")
	}
	if len(got.ProjectIDs) != 30 || len(got.Preferences) != 1 || got.Name != "A" {
		t.Fatalf("lost updates: %d projects, preferences %v, name %q", len(got.ProjectIDs), got.Preferences, got.Name)
	}
}

// TestProjectionHandlesAStreamInOneWrite: commits of one stream handed over
// together, in any order and with duplicates, are folded with one write;
// batches with gaps between them converge like single commits do.
func TestProjectionHandlesAStreamInOneWrite(t *testing.T) {
	hist := history(1)
	cs := hist["p0"]
	docs := &memDocs{docs: map[string][]byte{}}
	p := projections.StreamProjection(projections.NewProjects(docs, memStreams{hist}))
	batch := append(slices.Clone(cs), cs[3], cs[0])
	slices.Reverse(batch)
	if err := p.HandleStream(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var got projections.ProjectDoc
	if ok, _ := docs.Get(context.Background(), projections.CollProjects, "p0", &got); !ok || !reflect.DeepEqual(got, fold(cs)) {
		t.Fatalf("after one batch: %+v, want %+v", got, fold(cs))
	}
	if docs.puts != 1 {
		t.Errorf("%d writes for one batch, want 1", docs.puts)
	}

	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 2))
		docs := &memDocs{docs: map[string][]byte{}}
		p := projections.StreamProjection(projections.NewProjects(docs, memStreams{hist}))
		deliveries := slices.Clone(cs)
		rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
		for len(deliveries) > 0 {
			n := 1 + rng.IntN(len(deliveries))
			if err := p.HandleStream(context.Background(), deliveries[:n]); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			deliveries = deliveries[n:]
		}
		var got projections.ProjectDoc
		if ok, _ := docs.Get(context.Background(), projections.CollProjects, "p0", &got); !ok || !reflect.DeepEqual(got, fold(cs)) {
			t.Fatalf("seed %d: %+v, want %+v", seed, got, fold(cs))
		}
	}

	// A gap inside a batch that the store cannot fill yet writes nothing.
	empty := &memDocs{docs: map[string][]byte{}}
	p = projections.NewProjects(empty, memStreams{map[string][]events.Commit{}})
	if err := p.HandleStream(context.Background(), []events.Commit{cs[0], cs[2]}); err == nil || empty.puts != 0 {
		t.Fatalf("a batch with a gap: err %v, %d writes; want an error and none", err, empty.puts)
	}
}

// TestStudentDocumentStaysSmall: a student with many projects, their
// commits delivered in any order and repeated: the student's document lists
// the first ListedProjects projects once, sorted, says whether there are
// more, and keeps no version per project stream; it is the document the
// projects' creations give in order (a rebuild's), and it stops growing.
func TestStudentDocumentStaysSmall(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	n := 50 + rng.IntN(200)
	hist := map[string][]events.Commit{}
	var ids []string
	for range n {
		id := fmt.Sprintf("p%05d", rng.IntN(100000))
		if _, dup := hist[id]; dup {
			continue
		}
		ids = append(ids, id)
		hist[id] = []events.Commit{commit(id, 1, &events.ProjectCreated{OwnerID: "s1", Title: "T"}), commit(id, 2, &events.ProjectEdited{Title: "U"})}
	}
	slices.Sort(ids)
	docs := &memDocs{docs: map[string][]byte{}}
	p := projections.NewStudents(docs, memStreams{hist})
	for _, c := range deliveries(rng, hist) {
		if err := p.Handle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var d projections.StudentDoc
	if found, err := docs.Get(ctx, projections.CollStudents, "s1", &d); !found || err != nil {
		t.Fatalf("no student document: %v", err)
	}
	listed := min(len(ids), projections.ListedProjects)
	if !slices.Equal(d.ProjectIDs, ids[:listed]) || d.MoreProjects != (len(ids) > listed) {
		t.Fatalf("seed %d: lists %d ids, more %v; want the first %d of %d, sorted, each once", seed, len(d.ProjectIDs), d.MoreProjects, listed, len(ids))
	}
	if len(d.Versions) != 0 {
		t.Fatalf("the student's document keeps %d stream versions for its %d projects, want none", len(d.Versions), n)
	}
	// In order, as a rebuild folds them, the same document; and delivered
	// again, nothing is written.
	inOrder := &memDocs{docs: map[string][]byte{}}
	q := projections.NewStudents(inOrder, memStreams{hist})
	for _, id := range ids {
		if err := q.Handle(ctx, hist[id][0]); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(inOrder.docs["students/s1"], docs.docs["students/s1"]) {
		t.Fatalf("seed %d: delivered in another order, the document differs from a rebuild's", seed)
	}
	puts := docs.puts
	for _, id := range ids {
		if err := p.Handle(ctx, hist[id][0]); err != nil {
			t.Fatal(err)
		}
	}
	if docs.puts != puts {
		t.Fatalf("seed %d: %d writes for creations delivered again, want none", seed, docs.puts-puts)
	}
}

// TestModelCreatesAFirstDocumentWithoutALookup: a stream's first commit
// creates its document without loading it first; the same commit delivered
// again, after later ones were applied, finds the document there (the
// create is refused), loads it and leaves it as it was, though the store
// checks no revision on an ordinary write (the all-in-one service's).
func TestModelCreatesAFirstDocumentWithoutALookup(t *testing.T) {
	mem := &memDocs{docs: map[string][]byte{}, unconditional: true}
	docs := creatingDocs{mem}
	cs := history(1)["p0"]
	p := projections.NewProjects(docs, memStreams{commits: history(1)})
	ctx := context.Background()
	if err := p.Handle(ctx, cs[0]); err != nil {
		t.Fatal(err)
	}
	if mem.loads != 0 || mem.puts != 1 {
		t.Fatalf("the first commit took %d loads and %d writes, want 0 and 1", mem.loads, mem.puts)
	}
	for _, c := range cs[1:] {
		if err := p.Handle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Handle(ctx, cs[0]); err != nil { // delivered again
		t.Fatal(err)
	}
	var got projections.ProjectDoc
	if ok, _ := mem.Get(ctx, projections.CollProjects, "p0", &got); !ok {
		t.Fatal("no document")
	}
	if want := fold(cs); !reflect.DeepEqual(want, got) {
		t.Fatalf("after the first commit came again: %+v, want %+v", got, want)
	}
}

// TestMultiCreatesAFirstDocumentWithoutALookup: a student's document,
// which several streams' commits fold into, is created by the user's first
// commit without a lookup; when another stream's commit created it first
// (a project of the student's projected before the user), the create is
// refused, the document is loaded, and nothing either commit folded is lost.
func TestMultiCreatesAFirstDocumentWithoutALookup(t *testing.T) {
	userCommit := func(id string) events.Commit {
		d := &events.UserCreated{Email: id + "@b.c", Name: "Name of " + id, Roles: []string{events.RoleStudent}}
		c := events.Commit{StreamID: id, StreamType: events.StreamUser, FirstVersion: 1, RecordedAt: t0}
		c.Events = []events.Envelope{{StreamID: id, StreamType: events.StreamUser, Version: 1, Type: d.EventType(), Data: d, RecordedAt: t0}}
		return c
	}
	ctx := context.Background()
	for _, projectFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("project first: ", projectFirst), func(t *testing.T) {
			mem := &memDocs{docs: map[string][]byte{}, unconditional: true}
			streams := memStreams{commits: map[string][]events.Commit{}}
			p := projections.NewStudents(creatingDocs{mem}, streams)
			user := userCommit("u1")
			project := commit("q1", 1, &events.ProjectCreated{OwnerID: "u1", Title: "t"})
			streams.commits["u1"], streams.commits["q1"] = []events.Commit{user}, []events.Commit{project}
			order := []events.Commit{user, project, user} // the user's commit delivered twice
			if projectFirst {
				order = []events.Commit{project, user, user}
			}
			if err := p.Handle(ctx, order[0]); err != nil {
				t.Fatal(err)
			}
			if !projectFirst && mem.loads != 0 {
				t.Errorf("the user's first commit loaded the document %d times, want none", mem.loads)
			}
			for _, c := range order[1:] {
				if err := p.Handle(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			var got projections.StudentDoc
			if ok, _ := mem.Get(ctx, projections.CollStudents, "u1", &got); !ok {
				t.Fatal("no document")
			}
			if got.Name != "Name of u1" || !slices.Equal(got.ProjectIDs, []string{"q1"}) {
				t.Fatalf("the student's document: name %q, projects %v; want both commits folded", got.Name, got.ProjectIDs)
			}
		})
	}
}
