package projections_test

import (
	"context"
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
		c.StreamType, c.Events[0].StreamType = events.StreamUser, events.StreamUser
		hist[id] = []events.Commit{c}
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
			lp, rp := b(live, memStreams{hist}), b(rebuilt, memStreams{hist})
			for _, c := range deliveries(rng, hist) {
				if err := lp.Handle(ctx, c); err != nil {
					t.Fatal(err)
				}
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
			if len(live.docs) != len(rebuilt.docs) {
				t.Fatalf("%s seed %d: %d live documents, %d rebuilt", name, seed, len(live.docs), len(rebuilt.docs))
			}
			for key := range rebuilt.docs {
				l, r := decodeDoc(t, name, live, key), decodeDoc(t, name, rebuilt, key)
				if !reflect.DeepEqual(l, r) {
					t.Fatalf("%s seed %d: %s differs\n live:    %+v\n rebuilt: %+v", name, seed, key, l, r)
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
