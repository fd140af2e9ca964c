package cohort_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/events"
)

// supervisorsFile is a service on a memory store that holds n supervisors,
// and the capacities of a file naming them all.
func supervisorsFile(tb testing.TB, n int) (*cohort.Service, []cohort.SetCapacity) {
	store := decidertest.NewEvents()
	x := commands.NewExecutor(store, nil, nil, events.NewRegistry(events.All()...), slog.New(slog.NewTextHandler(io.Discard, nil)))
	items := make([]cohort.SetCapacity, n)
	for i := range items {
		id := fmt.Sprintf("sup-%04d", i)
		items[i] = cohort.SetCapacity{SupervisorID: id, Capacity: 9 + i%8}
		if err := store.Append(context.Background(), events.Commit{StreamID: id, StreamType: events.StreamUser, FirstVersion: 1,
			Events: []events.Envelope{{StreamID: id, StreamType: events.StreamUser, Version: 1,
				Data: &events.UserCreated{Email: id + "@uni.example", Name: id, Roles: []string{events.RoleSupervisor}}}}}); err != nil {
			tb.Fatal(err)
		}
	}
	return &cohort.Service{X: x}, items
}

// BenchmarkCapacitiesFile: the capacities of a 400-row supervisors file,
// set as an import sets them (SetCapacities), on a fresh cohort.
func BenchmarkCapacitiesFile(b *testing.B) {
	ctx := context.Background()
	meta := commands.Meta{Actor: events.Actor{UserID: "coord", Roles: []string{events.RoleCoordinator}}}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		svc, items := supervisorsFile(b, 400)
		b.StartTimer()
		if _, err := svc.SetCapacities(ctx, meta, items); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvolveAllIsEvolveOneByOne: folding a commit's events at once
// (EvolveAll, which copies each map it changes once) gives the board that
// folding them one by one gives, and, like Evolve, never changes the
// board it was given (the cache's): random events over a small cohort,
// in commits of random sizes.
func TestEvolveAllIsEvolveOneByOne(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	pick := func(prefix string) string { return fmt.Sprint(prefix, rng.IntN(6)) }
	event := func(i int) events.Data {
		switch rng.IntN(6) {
		case 0:
			return &events.CapacitySet{SupervisorID: pick("v"), Capacity: rng.IntN(5)}
		case 1:
			return &events.StudentAllocated{StudentID: pick("s"), SupervisorID: pick("v"), Via: events.ViaProposal, ProjectID: pick("p")}
		case 2:
			return &events.StudentUnallocated{StudentID: pick("s"), SupervisorID: pick("v")}
		case 3:
			run := &events.AllocationRun{RunID: fmt.Sprint("r", i)}
			for range rng.IntN(3) {
				run.Placements = append(run.Placements, events.Placement{StudentID: pick("s"), SupervisorID: pick("v")})
			}
			return run
		case 4:
			return &events.ExaminerAssigned{StudentID: pick("s"), ExaminerID: pick("e")}
		default:
			return &events.MarkingThresholdSet{Threshold: rng.IntN(30)}
		}
	}
	for round := range 200 {
		one := cohort.Decider.Initial(events.CohortStreamID)
		all := one
		for c := range 1 + rng.IntN(8) {
			var commit []events.Envelope
			for i := range rng.IntN(12) {
				commit = append(commit, events.Envelope{Data: event(c*100 + i), Version: int64(c*100 + i)})
			}
			given, _ := json.Marshal(all)
			next := cohort.EvolveAll(all, commit)
			if after, _ := json.Marshal(all); string(after) != string(given) {
				t.Fatalf("seed %d, round %d: EvolveAll changed the board it was given:\n%s\nnow\n%s", seed, round, given, after)
			}
			all = next
			for _, e := range commit {
				one = cohort.Evolve(one, e)
			}
			if diff := cmp.Diff(one, all); diff != "" {
				t.Fatalf("seed %d, round %d, commit %d: EvolveAll differs from Evolve one by one (-one +all):\n%s", seed, round, c, diff)
			}
		}
	}
}

// TestCapacitiesFileCopiesTheBoardOnce: a 400-row supervisors file's
// capacities allocate about half a MB (their events, and the map of
// capacities copied once a commit and once its decision), not the 7 MB
// they took while every capacity copied the whole map twice.
func TestCapacitiesFileCopiesTheBoardOnce(t *testing.T) {
	res := testing.Benchmark(BenchmarkCapacitiesFile)
	t.Logf("a 400-row file's capacities: %d B and %d allocations", res.AllocedBytesPerOp(), res.AllocsPerOp())
	if res.AllocedBytesPerOp() > 2<<20 {
		t.Errorf("a 400-row file's capacities allocated %d B, want at most 2 MiB", res.AllocedBytesPerOp())
	}
}
