package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// randomCohort is a random cohort history (capacities, allocations and
// their undoing, several to a commit) over a few supervisors and students,
// with their user streams.
func randomCohort(rng *rand.Rand) map[string][]events.Commit {
	hist := map[string][]events.Commit{}
	sups, studs := []string{"sup0", "sup1", "sup2"}, []string{"st0", "st1", "st2", "st3", "st4"}
	for _, id := range append(slices.Clone(sups), studs...) {
		role := events.RoleStudent
		if id[:3] == "sup" {
			role = events.RoleSupervisor
		}
		c := commit(id, 1, &events.UserCreated{Email: id + "@uni.example", Name: id, Roles: []string{role}})
		hist[id] = []events.Commit{userCommit(c)}
		for v := int64(2); rng.IntN(3) > 0; v += int64(len(c.Events)) { // renames, several to a commit at times
			var data []events.Data
			for k := range 1 + rng.IntN(2) {
				data = append(data, &events.UserUpdated{Name: fmt.Sprint(id, " ", v, k), Roles: []string{role}})
			}
			c = userCommit(commit(id, v, data...))
			hist[id] = append(hist[id], c)
		}
	}
	var cohort []events.Commit
	v := int64(1)
	for range 10 + rng.IntN(20) {
		var data []events.Data
		for range 1 + rng.IntN(3) {
			sup, st := sups[rng.IntN(len(sups))], studs[rng.IntN(len(studs))]
			switch rng.IntN(3) {
			case 0:
				data = append(data, &events.CapacitySet{SupervisorID: sup, Capacity: 1 + rng.IntN(5)})
			case 1:
				data = append(data, &events.StudentAllocated{StudentID: st, SupervisorID: sup, Via: events.ViaAssignment})
			default:
				data = append(data, &events.StudentUnallocated{StudentID: st, SupervisorID: sup, Reason: "undone"})
			}
		}
		cohort = append(cohort, cohortCommit(v, data...))
		v += int64(len(data))
	}
	hist[events.CohortStreamID] = cohort
	return hist
}

// userCommit is c as a commit of a user stream.
func userCommit(c events.Commit) events.Commit {
	c.StreamType = events.StreamUser
	for i := range c.Events {
		c.Events[i].StreamType = events.StreamUser
	}
	return c
}

// TestMultiDeliveryOrderLeavesNoTrace: the documents of a projection that
// gathers several streams are the same, to the last per-stream position,
// whether the commits arrive shuffled and duplicated (a live projector,
// filling gaps from the store) or one by one in stream order (a rebuild).
// A gap filled on a later commit used to record that commit's version in
// every document the filled commits targeted, where a rebuild records the
// version of the last commit that targeted each one (replay --verify then
// reported versions.cohort 48 vs 46).
func TestMultiDeliveryOrderLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	type build func(projections.Documents, projections.Streams) projections.Projection
	for name, b := range map[string]build{
		projections.CollStudents: func(d projections.Documents, s projections.Streams) projections.Projection {
			return projections.NewStudents(d, s)
		},
		projections.CollSupervisors: func(d projections.Documents, s projections.Streams) projections.Projection {
			return projections.NewSupervisors(d, s)
		},
	} {
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 5))
			hist := randomCohort(rng)
			live, rebuilt := &memDocs{docs: map[string][]byte{}}, &memDocs{docs: map[string][]byte{}}
			batched := &memDocs{docs: map[string][]byte{}}
			lp, rp, bp := b(live, memStreams{hist}), b(rebuilt, memStreams{hist}), b(batched, memStreams{hist}).(projections.StreamProjection)
			for _, c := range deliveries(rng, hist) {
				if err := lp.Handle(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			// Batched as a worker takes what is queued: a run of deliveries,
			// each stream's handed over together.
			for rest := deliveries(rng, hist); len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(12))
				var order []string
				byStream := map[string][]events.Commit{}
				for _, c := range rest[:n] {
					if _, seen := byStream[c.StreamID]; !seen {
						order = append(order, c.StreamID)
					}
					byStream[c.StreamID] = append(byStream[c.StreamID], c)
				}
				for _, id := range order {
					if err := bp.HandleStream(ctx, byStream[id]); err != nil {
						t.Fatal(err)
					}
				}
				rest = rest[n:]
			}
			streams := make([]string, 0, len(hist))
			for id := range hist {
				streams = append(streams, id)
			}
			slices.Sort(streams) // the rebuild's scan order: by stream, then version
			for _, id := range streams {
				for _, c := range hist[id] {
					if err := rp.Handle(ctx, c); err != nil {
						t.Fatal(err)
					}
				}
			}
			for how, got := range map[string]*memDocs{"live": live, "batched": batched} {
				if len(got.docs) != len(rebuilt.docs) {
					t.Fatalf("%s seed %d: %d %s documents, %d rebuilt", name, seed, len(got.docs), how, len(rebuilt.docs))
				}
				for key := range rebuilt.docs {
					l, r := decodeDoc(t, name, got, key), decodeDoc(t, name, rebuilt, key)
					if !reflect.DeepEqual(l, r) {
						t.Fatalf("%s seed %d: %s differs\n %s: %+v\n rebuilt: %+v", name, seed, key, how, l, r)
					}
				}
			}
		}
	}
}

func decodeDoc(t *testing.T, coll string, m *memDocs, key string) any {
	t.Helper()
	var into any = &projections.StudentDoc{}
	if coll == projections.CollSupervisors {
		into = &projections.SupervisorDoc{}
	}
	if _, ok := m.docs[key]; !ok {
		t.Fatalf("%s missing", key)
	}
	if err := bson.Unmarshal(m.docs[key], into); err != nil {
		t.Fatal(err)
	}
	return into
}

// TestMultiHandlesAStreamInOneWrite: a user's renames handed over together
// (a hot stream, or a backlog the catch-up delivers at once) rewrite the
// user's document once, not once a commit, and leave it as one by one.
func TestMultiHandlesAStreamInOneWrite(t *testing.T) {
	ctx := context.Background()
	created := userCommit(commit("st0", 1, &events.UserCreated{Email: "st0@uni.example", Name: "st0", Roles: []string{events.RoleStudent}}))
	hist := []events.Commit{created}
	for v := int64(2); v < 12; v++ {
		hist = append(hist, userCommit(commit("st0", v, &events.UserUpdated{Name: fmt.Sprint("st0 ", v), Roles: []string{events.RoleStudent}})))
	}
	one, together := &memDocs{docs: map[string][]byte{}}, &memDocs{docs: map[string][]byte{}}
	streams := memStreams{map[string][]events.Commit{"st0": hist}}
	p, q := projections.NewStudents(one, streams), projections.NewStudents(together, streams)
	for _, c := range hist {
		if err := p.Handle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Handle(ctx, created); err != nil {
		t.Fatal(err)
	}
	before := together.puts
	if err := q.HandleStream(ctx, hist[1:]); err != nil {
		t.Fatal(err)
	}
	if n := together.puts - before; n != 1 {
		t.Errorf("%d writes for ten renames handed over together, want 1", n)
	}
	key := projections.CollStudents + "/st0"
	if l, r := decodeDoc(t, projections.CollStudents, one, key), decodeDoc(t, projections.CollStudents, together, key); !reflect.DeepEqual(l, r) {
		t.Fatalf("together: %+v\none by one: %+v", r, l)
	}
}

// TestMultiHandlesABroadcastStreamInOneWrite: the cohort's commits handed
// over together (an import's commits of capacities, queued behind its
// rows) write each supervisor's document once and the stream's checkpoint
// once, not each for every commit, and leave the documents as one by one.
func TestMultiHandlesABroadcastStreamInOneWrite(t *testing.T) {
	ctx := context.Background()
	sups := []string{"sup0", "sup1", "sup2"}
	var users []events.Commit
	for _, id := range sups {
		users = append(users, userCommit(commit(id, 1, &events.UserCreated{Email: id + "@uni.example", Name: id, Roles: []string{events.RoleSupervisor}})))
	}
	var cohort []events.Commit
	for v := int64(1); len(cohort) < 5; v += int64(len(sups)) {
		var data []events.Data
		for k, id := range sups {
			data = append(data, &events.CapacitySet{SupervisorID: id, Capacity: int(v) + k})
		}
		cohort = append(cohort, cohortCommit(v, data...))
	}
	hist := map[string][]events.Commit{events.CohortStreamID: cohort}
	for _, c := range users {
		hist[c.StreamID] = []events.Commit{c}
	}
	one, together := &memDocs{docs: map[string][]byte{}}, &memDocs{docs: map[string][]byte{}}
	p, q := projections.NewSupervisors(one, memStreams{hist}), projections.NewSupervisors(together, memStreams{hist})
	for _, c := range users {
		for _, pr := range []projections.Projection{p, q} {
			if err := pr.Handle(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range cohort {
		if err := p.Handle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	before := together.puts
	if err := q.HandleStream(ctx, cohort); err != nil {
		t.Fatal(err)
	}
	if n := together.puts - before; n != len(sups)+1 {
		t.Errorf("%d writes for %d commits of the cohort handed over together, want %d (each supervisor and the checkpoint once)", n, len(cohort), len(sups)+1)
	}
	if len(one.docs) != len(together.docs) {
		t.Fatalf("%d documents together, %d one by one", len(together.docs), len(one.docs))
	}
	for _, id := range sups {
		key := projections.CollSupervisors + "/" + id
		if l, r := decodeDoc(t, projections.CollSupervisors, one, key), decodeDoc(t, projections.CollSupervisors, together, key); !reflect.DeepEqual(l, r) {
			t.Fatalf("together: %+v\none by one: %+v", r, l)
		}
	}
	for key := range one.docs {
		if projections.IsCheckpoint(key[len(projections.CollSupervisors)+1:]) && string(one.docs[key]) != string(together.docs[key]) {
			t.Errorf("checkpoint %s: together %x, one by one %x", key, together.docs[key], one.docs[key])
		}
	}
	// Handed over again, with one more after them: only the new one is folded.
	more := cohortCommit(cohort[len(cohort)-1].LastVersion()+1, &events.CapacitySet{SupervisorID: "sup1", Capacity: 99})
	hist[events.CohortStreamID] = append(cohort, more)
	before = together.puts
	if err := q.HandleStream(ctx, append(slices.Clone(cohort), more)); err != nil {
		t.Fatal(err)
	}
	if n := together.puts - before; n != 2 {
		t.Errorf("%d writes for one new commit handed over with those folded already, want 2", n)
	}
	var doc projections.SupervisorDoc
	if _, _, err := together.Load(ctx, projections.CollSupervisors, "sup1", &doc); err != nil || doc.Capacity != 99 {
		t.Errorf("sup1 after the new commit: capacity %d (%v), want 99", doc.Capacity, err)
	}
}
