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
