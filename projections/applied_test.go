package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// deliveries is every commit once to three times, shuffled.
func deliveries(rng *rand.Rand, hist map[string][]events.Commit) []events.Commit {
	var out []events.Commit
	for _, cs := range hist {
		for _, c := range cs {
			for range 1 + rng.IntN(3) {
				out = append(out, c)
			}
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestModelApplied: after every delivery, in any order and with
// duplicates, Applied says a commit is shown exactly when the stream's
// document has reached its version.
func TestModelApplied(t *testing.T) {
	hist := history(4)
	ctx := context.Background()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		docs := &memDocs{docs: map[string][]byte{}}
		p := projections.NewProjects(docs, memStreams{hist})
		for _, c := range deliveries(rng, hist) {
			if err := p.Handle(ctx, c); err != nil {
				t.Fatal(err)
			}
			for id, cs := range hist {
				var doc projections.ProjectDoc
				_, _ = docs.Get(ctx, projections.CollProjects, id, &doc)
				for k := range cs {
					got, err := p.Applied(ctx, docs.Get, cs[k:k+1])
					if err != nil {
						t.Fatal(err)
					}
					if want := doc.Version >= cs[k].LastVersion(); got != want {
						t.Fatalf("seed %d: Applied(%s) = %v with the document at version %d", seed, cs[k].ID(), got, doc.Version)
					}
				}
			}
		}
	}
	// Commits of another stream type are not the model's concern.
	other := commit("u1", 1, &events.UserCreated{Email: "a@b.c", Name: "A", Roles: []string{events.RoleStudent}})
	other.StreamType = events.StreamUser
	p := projections.NewProjects(&memDocs{docs: map[string][]byte{}}, memStreams{})
	if p.Concerns([]events.Commit{other}) {
		t.Fatal("the projects model is concerned with a user commit")
	}
}

func cohortCommit(first int64, data ...events.Data) events.Commit {
	c := commit(events.CohortStreamID, first, data...)
	c.StreamType = events.StreamCohort
	for i := range c.Events {
		c.Events[i].StreamType = events.StreamCohort
	}
	return c
}

// TestMultiApplied: for a broadcast stream (the cohort) and a stream whose
// events target one document (a project naming its owner), Applied never
// says a commit is shown before every document it concerns has folded it,
// and says so once they have.
func TestMultiApplied(t *testing.T) {
	ctx := context.Background()
	hist := map[string][]events.Commit{}
	var cohort []events.Commit
	for i := range 6 {
		cohort = append(cohort, cohortCommit(int64(i+1), &events.StudentAllocated{StudentID: fmt.Sprint("s", i), SupervisorID: "sup", Via: events.ViaAssignment}))
	}
	hist[events.CohortStreamID] = cohort
	for i := range 6 {
		id := fmt.Sprint("p", i)
		hist[id] = []events.Commit{commit(id, 1, &events.ProjectCreated{OwnerID: fmt.Sprint("s", i), Title: "T"}),
			commit(id, 2, &events.ProjectEdited{Title: "U"})}
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 3))
		docs := &memDocs{docs: map[string][]byte{}}
		p := projections.NewStudents(docs, memStreams{hist})
		shown := func(c events.Commit) bool { // the truth, from the documents themselves
			for _, e := range c.Events {
				var d projections.StudentDoc
				var who string
				switch x := e.Data.(type) {
				case *events.StudentAllocated:
					who = x.StudentID
				case *events.ProjectCreated:
					who = x.OwnerID
				default:
					continue
				}
				if found, _ := docs.Get(ctx, projections.CollStudents, who, &d); !found {
					return false
				}
				if x, ok := e.Data.(*events.StudentAllocated); ok && d.SupervisorID != x.SupervisorID {
					return false
				}
				if _, ok := e.Data.(*events.ProjectCreated); ok && len(d.ProjectIDs) == 0 {
					return false
				}
			}
			return true
		}
		for _, c := range deliveries(rng, hist) {
			if err := p.Handle(ctx, c); err != nil {
				t.Fatal(err)
			}
			for _, cs := range hist {
				for k := range cs {
					got, err := p.Applied(ctx, docs.Get, cs[:k+1])
					if err != nil {
						t.Fatal(err)
					}
					if got && !shown(cs[k]) {
						t.Fatalf("seed %d: Applied(%s) before its document shows it", seed, cs[k].ID())
					}
				}
			}
		}
		for _, cs := range hist {
			if got, _ := p.Applied(ctx, docs.Get, cs); !got {
				t.Fatalf("seed %d: %s not applied after every delivery", seed, cs[len(cs)-1].ID())
			}
		}
	}
}

// TestAppliedLog: a waiter is woken when the stream reaches its version,
// not before; Has reports what was recorded; a wait given up is forgotten.
func TestAppliedLog(t *testing.T) {
	l := projections.NewAppliedLog(projections.NewProjects(nil, nil), projections.NewStudents(nil, nil))
	c := func(stream string, first int64) events.Commit { return commit(stream, first, &events.ProjectEdited{}) }
	wake := make(chan struct{}, 1)
	cancel := l.Notify("projects", "p1", 3, wake)
	defer cancel()
	l.Record("projects", c("p1", 2))
	l.Record("students", c("p1", 1)) // another projection
	l.Record("students", c("p1", 2))
	l.Record("projects", c("p2", 3)) // another stream
	select {
	case <-wake:
		t.Fatal("woken before the stream reached the version")
	case <-time.After(20 * time.Millisecond):
	}
	if l.Has("projects", "p1", 3) || !l.Has("projects", "p1", 2) || !l.Has("students", "p1", 2) {
		t.Fatal("Has disagrees with what was recorded")
	}
	l.Record("projects", c("p1", 4))
	select {
	case <-wake:
	case <-time.After(time.Second):
		t.Fatal("not woken when the stream passed the version")
	}
	l.Record("projects", c("p1", 1)) // an old redelivery does not move the head back
	if !l.Has("projects", "p1", 4) {
		t.Fatal("an older commit moved the head back")
	}

	// Many waiters and recorders at once (run under -race in CI).
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(2)
		stream := fmt.Sprint("s", i%5)
		go func() {
			defer wg.Done()
			w := make(chan struct{}, 1)
			stop := l.Notify("projects", stream, 10, w)
			defer stop()
			if l.Has("projects", stream, 10) {
				return
			}
			select {
			case <-w:
			case <-time.After(5 * time.Second):
				t.Error("a waiter was never woken")
			}
		}()
		go func() { defer wg.Done(); l.Record("projects", c(stream, int64(1+i/5))) }()
	}
	wg.Wait()
}

// TestAppliedLogKnowsOnlyWhatIsWhole: a projection that fills gaps has
// applied a stream up to any commit it applied; one that does not (a
// student's overview, for a project's stream) has applied only what came
// without a gap: handling a project's edit says nothing of its creation,
// which the bus may have lost and the catch-up must still bring.
func TestAppliedLogKnowsOnlyWhatIsWhole(t *testing.T) {
	l := projections.NewAppliedLog(projections.NewProjects(nil, nil), projections.NewStudents(nil, nil))
	c := func(stream string, first int64) events.Commit { return commit(stream, first, &events.ProjectEdited{}) }
	l.Record("projects", c("p1", 3))
	l.Record("students", c("p1", 3))
	if !l.Has("projects", "p1", 1) {
		t.Fatal("a model that applied version 3 has applied version 1 too")
	}
	if l.Has("students", "p1", 1) || l.Has("students", "p1", 3) {
		t.Fatal("the overview is said to have applied a project's creation it never handled")
	}
	l.Record("students", c("p1", 1))
	l.Record("students", c("p1", 2))
	if !l.Has("students", "p1", 2) || l.Has("students", "p1", 3) {
		t.Fatal("the overview's head should be 2: version 3 came before 1 and 2, and is forgotten")
	}
	l.Record("students", c("p1", 3))
	if !l.Has("students", "p1", 3) {
		t.Fatal("version 3 follows 2")
	}
	// The cohort is broadcast: the overview follows it with a checkpoint
	// and fills its gaps.
	cohort := commit("cohort", 5, &events.CapacitySet{})
	cohort.StreamType = events.StreamCohort
	l.Record("students", cohort)
	if !l.Has("students", "cohort", 4) {
		t.Fatal("a broadcast stream's gap is filled")
	}
}

// TestAppliedLogForgetsWhatIsOld: under a steady load the log holds what
// was applied within its horizon, however long the load lasts: ten minutes
// of new streams (each recorded by two projections) and of a few streams
// written again and again leave it no larger than its first minute did.
// What it forgot is only not known any more; what moves is kept.
func TestAppliedLogForgetsWhatIsOld(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
	l := projections.NewAppliedLog(projections.NewProjects(nil, nil), projections.NewStudents(nil, nil))
	now := t0
	l.SetClock(func() time.Time { return now })
	perSecond, hot := 1+rng.IntN(20), 1+rng.IntN(10)
	c := func(stream string, first int64) events.Commit { return commit(stream, first, &events.ProjectEdited{}) }
	atMinute := 0
	for s := range 600 {
		for i := range perSecond {
			stream := fmt.Sprintf("new-%d-%d", s, i)
			l.Record("projects", c(stream, 1))
			l.Record("students", c(stream, 1))
		}
		for h := range hot {
			l.Record("projects", c(fmt.Sprint("hot-", h), int64(s+1)))
		}
		if s == 59 {
			atMinute = l.Len()
		}
		now = now.Add(time.Second)
	}
	if n := l.Len(); n > atMinute+perSecond+hot {
		t.Fatalf("%d new streams a second and %d written again: %d streams after ten minutes, %d after the first", perSecond, hot, n, atMinute)
	}
	if l.Has("projects", "new-0-0", 1) {
		t.Fatal("a head not moved for ten minutes is still remembered")
	}
	if !l.Has("projects", "new-599-0", 1) || !l.Has("students", "new-599-0", 1) || !l.Has("projects", "hot-0", 600) {
		t.Fatal("a head moved in the last second is forgotten")
	}
	// Forgetting is only not knowing: a later commit of a forgotten stream
	// is remembered again (a gap-filling projection's), or not at all.
	l.Record("projects", c("new-0-0", 2))
	if !l.Has("projects", "new-0-0", 2) {
		t.Fatal("a forgotten stream's next commit was not recorded")
	}
}

// TestAppliedLogGivesBackWaitersRoom: once every wait is over, the log
// holds no more than it did before them, however many streams were waited
// for at once (an allocation's answer waits for thousands).
func TestAppliedLogGivesBackWaitersRoom(t *testing.T) {
	l := projections.NewAppliedLog(projections.NewProjects(nil, nil))
	before := liveHeap()
	n := 50000 + rand.IntN(50000)
	wake := make(chan struct{}, 1)
	cancels := make([]func(), 0, n)
	for i := range n {
		cancels = append(cancels, l.Notify("projects", fmt.Sprint("stream-", i), 1, wake))
	}
	for _, cancel := range cancels[100:] { // given up
		cancel()
	}
	for i := range 100 { // the last ones end by the commit
		l.Record("projects", commit(fmt.Sprint("stream-", i), 1, &events.ProjectEdited{}))
	}
	cancels = nil
	if after := liveHeap(); after > before+1<<20 {
		t.Fatalf("after %d waits, all over, the log holds %d KiB more than before them", n, (after-before)>>10)
	}
	runtime.KeepAlive(l)
}

// TestAppliedLogHeadsAreSmall: a full log's heads, every projection's of
// every stream, take little room: every commit is handed to every
// projection, so each stream it remembers has a head of each.
func TestAppliedLogHeadsAreSmall(t *testing.T) {
	set := projections.All(nil, nil)
	l := projections.NewAppliedLog(set...)
	n := 5000 + rand.IntN(projections.AppliedLogSize-5000)
	commits := make([]events.Commit, n)
	for i := range commits {
		commits[i] = commit(fmt.Sprintf("student:%08x-0000-4000-8000-%012x%s", i, rand.Uint64()>>16, strings.Repeat("x", rand.IntN(40))), 1, &events.ProjectEdited{})
	}
	before := liveHeap()
	for _, c := range commits {
		for _, p := range set {
			l.Record(p.Name(), c)
		}
	}
	per := float64(liveHeap()-before) / float64(n)
	if l.Len() != n {
		t.Fatalf("%d streams recorded, %d held", n, l.Len())
	}
	t.Logf("%.0f bytes a stream's %d heads, for %d streams", per, len(set), n)
	if per > 256 {
		t.Fatalf("%.0f bytes a stream's %d heads, for %d streams", per, len(set), n)
	}
	for _, p := range set {
		if !l.Has(p.Name(), commits[0].StreamID, 1) || l.Has(p.Name(), commits[0].StreamID+"x", 1) {
			t.Fatalf("the log knows the wrong streams of %s", p.Name())
		}
	}
	runtime.KeepAlive(commits)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAppliedLogAsAModel: any sequence of records and questions, on a
// clock that moves on by random steps, gets the answers of the log's rules
// kept naively (every stream with its heads and its last move, made by any
// projection's head; at each record, forget what moved before the horizon,
// then the oldest moved past the size): a head is known up to its version
// exactly while its stream is among the size last moved within the horizon
// of the last record. Small sizes and few streams make eviction, staleness
// and the compaction of the moves happen all the time; larger ones with a slow
// clock and a pause now and then, the map's being given back; a few
// streams on a slow clock, the moves' compaction while nothing is old.
func TestAppliedLogAsAModel(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := range 18 {
		size, step := 1+rng.IntN(300), 3*time.Second
		streams := 1 + rng.IntN(3*size)
		switch round % 3 {
		case 1: // heads past movesCompactAt, whose map is then given back
			size, step = 1+rng.IntN(3000), 20*time.Millisecond
			streams = 1 + rng.IntN(3*size)
		case 2: // a few streams moved again and again: stale moves pile up
			size, step, streams = 1+rng.IntN(3000), 20*time.Millisecond, 1+rng.IntN(20)
		}
		projects, students := projections.NewProjects(nil, nil), projections.NewStudents(nil, nil)
		fills := map[string]projections.GapFiller{"projects": projects, "students": students}
		l := projections.NewAppliedLogOf(size, projects, students)
		now := t0
		l.SetClock(func() time.Time { return now })
		// A stream's heads, one per projection, with its last move.
		type stream struct {
			versions map[string]int64
			at       int64
			seq      int
		}
		model, seq := map[string]stream{}, 0
		forget := func() {
			for k, h := range model {
				if h.at < now.UnixNano()-int64(time.Minute) {
					delete(model, k)
				}
			}
		}
		for op := range 20000 {
			switch rng.IntN(4) {
			case 0:
				now = now.Add(time.Duration(rng.Int64N(int64(step))))
				if rng.IntN(1000) == 0 { // a pause in the writes
					now = now.Add(time.Minute + time.Duration(rng.Int64N(int64(time.Minute))))
				}
			case 1, 2:
				projection := []string{"projects", "students"}[rng.IntN(2)]
				id := fmt.Sprint("s", rng.IntN(streams))
				// Around the head, so that a stream moves again and again.
				c := commit(id, max(1, model[id].versions[projection]-2+rng.Int64N(5)), &events.ProjectEdited{})
				if rng.IntN(4) == 0 {
					c.StreamType = events.StreamCohort
				}
				l.Record(projection, c)
				forget()
				h, ok := model[id]
				if !ok {
					h = stream{versions: map[string]int64{}}
				}
				if head := h.versions[projection]; head >= c.LastVersion() || c.FirstVersion > head+1 && !fills[projection].FillsGaps(c.StreamType) {
					break
				}
				seq++
				h.versions[projection], h.at, h.seq = c.LastVersion(), now.UnixNano(), seq
				model[id] = h
				if len(model) > size {
					oldest := ""
					for k, h := range model {
						if oldest == "" || h.seq < model[oldest].seq {
							oldest = k
						}
					}
					delete(model, oldest)
				}
			case 3:
				projection := []string{"projects", "students"}[rng.IntN(2)]
				id := fmt.Sprint("s", rng.IntN(streams))
				version := 1 + rng.Int64N(model[id].versions[projection]+3)
				got := l.Has(projection, id, version)
				h, ok := model[id]
				if want := ok && h.versions[projection] >= version; got != want {
					t.Fatalf("seed %d, round %d, op %d (size %d, %d streams): Has(%s, %s, %d) = %v, want %v (the model's heads %+v, known %v)",
						seed, round, op, size, streams, projection, id, version, got, want, h, ok)
				}
			}
			if l.Len() != len(model) {
				t.Fatalf("seed %d, round %d, op %d: the log holds %d streams, the model %d", seed, round, op, l.Len(), len(model))
			}
		}
	}
}
