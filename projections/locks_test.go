package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// TestInstancesInOneProcessShareDocumentLocks: a rebuild's catch-up applies
// commits the live projector applies too, through instances of its own, to
// the same documents. On the all-in-one service nothing checks a revision,
// so the two must not write one document at once: an instance that loaded
// a document before the other stored it would store its older fold over
// the newer one. With the instances sharing their locks, every document
// ends as the fold of its whole stream, whoever finishes last.
func TestInstancesInOneProcessShareDocumentLocks(t *testing.T) {
	for trial := range 20 {
		docs := &memDocs{docs: map[string][]byte{}, unconditional: true, slow: 200 * time.Microsecond}
		hist := history(1)
		streams := memStreams{commits: hist}
		u := "u1"
		student := func(stream string, d events.Data) events.Commit {
			c := events.Commit{StreamID: stream, StreamType: events.StreamUser, FirstVersion: 1, RecordedAt: t0}
			c.Events = []events.Envelope{{StreamID: stream, StreamType: events.StreamUser, Version: 1, Type: d.EventType(), Data: d, RecordedAt: t0}}
			return c
		}
		created := student(u, &events.UserCreated{Email: "a@b.c", Name: "A", Roles: []string{events.RoleStudent}})
		streams.commits[u] = []events.Commit{created}
		var projects []events.Commit
		for i := range 12 {
			c := commit(fmt.Sprint("q", i), 1, &events.ProjectCreated{OwnerID: u, Title: "t"})
			streams.commits[c.StreamID] = []events.Commit{c}
			projects = append(projects, c)
		}
		locks := projections.NewLocks()
		set := func() (projects, students projections.Projection) {
			all := projections.AllSharing(docs, streams, locks)
			return all[1], all[3] // projects, students
		}
		liveProjects, liveStudents := set()
		catchProjects, catchStudents := set()
		ctx := context.Background()
		if err := liveStudents.Handle(ctx, created); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		apply := func(p projections.Projection, commits []events.Commit) {
			defer wg.Done()
			for _, c := range commits {
				if err := p.Handle(ctx, c); err != nil {
					t.Error(err)
				}
			}
		}
		// The live projector applies the whole project stream and every
		// project's creation; the catch-up, an older part of each.
		all := hist["p0"]
		wg.Add(4)
		go apply(liveProjects, all)
		go apply(catchProjects, all[:3])
		go apply(liveStudents, projects[:8])
		go apply(catchStudents, projects[4:])
		wg.Wait()

		var got projections.ProjectDoc
		if ok, _ := docs.Get(ctx, projections.CollProjects, "p0", &got); !ok {
			t.Fatal("no project document")
		}
		if diff := cmp.Diff(fold(all), got); diff != "" {
			t.Fatalf("trial %d: the project document is not its stream's fold (-want +got):\n%s", trial, diff)
		}
		var st projections.StudentDoc
		if ok, _ := docs.Get(ctx, projections.CollStudents, u, &st); !ok {
			t.Fatal("no student document")
		}
		if len(st.ProjectIDs) != len(projects) {
			t.Fatalf("trial %d: the student document lists %d of %d projects: an instance stored over the other's write", trial, len(st.ProjectIDs), len(projects))
		}
	}
}

// batchingDocs is memDocs with StoreMany, which waits for release once it
// has said so on entered.
type batchingDocs struct {
	*memDocs
	entered, release chan struct{}
}

func (b batchingDocs) StoreMany(ctx context.Context, coll string, docs []projections.StoredDoc) ([]string, error) {
	b.entered <- struct{}{}
	<-b.release
	for _, d := range docs {
		if err := b.Store(ctx, coll, d.ID, d.Doc, d.Rev); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// TestBatchHoldsOnlyItsDocuments: while a commit of capacities stores its
// supervisors' documents together, another supervisor's document is
// written, and one of its own waits for it. Its locks were 64 by a hash of
// the id, most of which a batch of a hundred documents held: an import's
// capacities then stalled every supervisor's document behind them.
func TestBatchHoldsOnlyItsDocuments(t *testing.T) {
	ctx := context.Background()
	docs := batchingDocs{memDocs: &memDocs{docs: map[string][]byte{}, unconditional: true},
		entered: make(chan struct{}), release: make(chan struct{})}
	created := func(id string) events.Commit {
		return userCommit(commit(id, 1, &events.UserCreated{Email: id + "@uni.example", Name: id, Roles: []string{events.RoleSupervisor}}))
	}
	hist := map[string][]events.Commit{}
	var capacities []events.Data
	for i := range 640 {
		id := fmt.Sprint("sup", i)
		hist[id] = []events.Commit{created(id)}
		capacities = append(capacities, &events.CapacitySet{SupervisorID: id, Capacity: 1 + i%5})
	}
	cohort := cohortCommit(1, capacities...)
	hist[events.CohortStreamID] = []events.Commit{cohort}
	p := projections.NewSupervisors(docs, memStreams{hist})
	for i := range 640 {
		if err := p.Handle(ctx, hist[fmt.Sprint("sup", i)][0]); err != nil {
			t.Fatal(err)
		}
	}
	batch := make(chan error, 1)
	go func() { batch <- p.Handle(ctx, cohort) }()
	select {
	case <-docs.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the commit of capacities was not stored together")
	}

	other := make(chan error, 1)
	go func() { other <- p.Handle(ctx, created("other")) }()
	select {
	case err := <-other:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("another supervisor's document waited for the batch")
	}
	renamed := userCommit(commit("sup7", 2, &events.UserUpdated{Name: "Seven", Roles: []string{events.RoleSupervisor}}))
	hist["sup7"] = append(hist["sup7"], renamed)
	own := make(chan error, 1)
	go func() { own <- p.Handle(ctx, renamed) }()
	select {
	case err := <-own:
		t.Fatalf("a document of the batch was written while the batch held it (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(docs.release)
	for _, c := range []chan error{batch, own} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	var doc projections.SupervisorDoc
	if _, _, err := docs.Load(ctx, projections.CollSupervisors, "sup7", &doc); err != nil || doc.Name != "Seven" || doc.Capacity != 3 {
		t.Errorf("sup7: %q with capacity %d (%v), want Seven with 3", doc.Name, doc.Capacity, err)
	}
	if ok, _, err := docs.Load(ctx, projections.CollSupervisors, "other", &doc); !ok || err != nil {
		t.Errorf("the other supervisor's document is missing (%v)", err)
	}
}
