package cohort

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/capstone-pms/capstone/commands/allocation"
	"github.com/capstone-pms/capstone/events"
)

// randomBoard draws a cohort as the decider can reach it: supervisors with
// capacities (some without), students already placed, second examiners who
// are often supervisors too, students who supervise too (and may rank
// themselves), and candidates ranking supervisors, some of whom have no
// capacity.
func randomBoard(rng *rand.Rand) (State, []Candidate) {
	s := newState()
	apply := func(cmd Command) {
		evs, err := Decide(s, cmd)
		if err != nil {
			return // a refused command leaves the board as it was
		}
		for _, d := range evs {
			s = Evolve(s, events.Envelope{Data: d})
		}
	}
	nSup, nStu := 1+rng.IntN(5), rng.IntN(9)
	sup := func(j int) string { return fmt.Sprintf("v%d", j) }
	both := rng.IntN(nSup + 1) // students below it also supervise: v0 is s0
	stu := func(i int) string {
		if i < both {
			return sup(i)
		}
		return fmt.Sprintf("s%d", i)
	}
	for j := range nSup {
		if rng.IntN(5) > 0 {
			apply(SetCapacity{SupervisorID: sup(j), Capacity: rng.IntN(4)})
		}
	}
	for i := range nStu {
		if rng.IntN(3) == 0 {
			apply(AssignExaminer{StudentID: stu(i), ExaminerID: sup(rng.IntN(nSup + 1))}) // v<nSup> examines only
		}
		if rng.IntN(4) == 0 {
			apply(Allocate{StudentID: stu(i), SupervisorID: sup(rng.IntN(nSup)), Via: events.ViaAssignment})
		}
	}
	var candidates []Candidate
	for i := range nStu {
		c := Candidate{StudentID: stu(i)}
		for k := rng.IntN(allocation.MaxChoices + 1); k > 0; k-- {
			if id := sup(rng.IntN(nSup + 1)); !slices.Contains(c.Choices, id) {
				c.Choices = append(c.Choices, id)
			}
		}
		// A student often ranks first whoever examines them.
		if e := s.Examiner[c.StudentID]; e != "" && rng.IntN(2) == 0 && !slices.Contains(c.Choices, e) && len(c.Choices) < allocation.MaxChoices {
			c.Choices = append([]string{e}, c.Choices...)
		}
		candidates = append(candidates, c)
	}
	return s, candidates
}

// TestAllocationInputMatchesTheRules derives what the solver may do from the
// decider itself: the input lets a student go to a supervisor exactly when
// the cohort would accept that one placement. A rule added to the decider
// and not to the solver's input fails here.
func TestAllocationInputMatchesTheRules(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 3))
	for range 3000 {
		board, candidates := randomBoard(rng)
		in := allocationInput(board, candidates, AllocationOptions{}, 1)
		inInput := map[string]bool{}
		for _, st := range in.Students {
			inInput[st.ID] = true
		}
		barred := map[allocation.Bar]bool{}
		for _, b := range in.Bars {
			barred[b] = true
		}
		for _, c := range candidates {
			for _, sv := range in.Supervisors {
				evs, err := Decide(board, Allocate{StudentID: c.StudentID, SupervisorID: sv.ID, Via: events.ViaAllocation})
				decider := err == nil && len(evs) > 0
				solver := inInput[c.StudentID] && sv.Remaining > 0 && !barred[allocation.Bar{StudentID: c.StudentID, SupervisorID: sv.ID}]
				if decider != solver {
					t.Fatalf("seed %d: %s with %s: the cohort says %v (%v), the solver's input %v\nboard %+v",
						seed, c.StudentID, sv.ID, decider, err, solver, board)
				}
			}
		}
	}
}

// TestAllocationAlwaysApplies: whatever the cohort, the run the solver
// computes on it is accepted by ApplyRun, for every objective, with and
// without placement outside the lists. (A student ranking their examiner
// first used to make every real allocation answer allocation-stale.)
func TestAllocationAlwaysApplies(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 4))
	objectives := []allocation.Objective{allocation.Generous, allocation.Greedy, allocation.RankSum}
	applied := 0
	for i := range 3000 {
		board, candidates := randomBoard(rng)
		opts := AllocationOptions{Objective: objectives[rng.IntN(3)], AllowOutsideList: rng.IntN(2) == 0}
		res, run, err := planRun(board, candidates, opts, rng.Uint64N(MaxSeed+1), fmt.Sprintf("run-%d", i))
		if err != nil {
			t.Fatalf("seed %d, cohort %d: %v\nboard %+v\ncandidates %+v", seed, i, err, board, candidates)
		}
		if len(run.Placements) != len(res.Assignments) {
			t.Fatalf("seed %d: %d placements for %d assignments", seed, len(run.Placements), len(res.Assignments))
		}
		if len(run.Placements) == 0 {
			continue
		}
		if _, err := Decide(board, ApplyRun{Run: run}); err != nil {
			t.Fatalf("seed %d, cohort %d: the run is refused: %v\nrun %+v\nboard %+v\ncandidates %+v", seed, i, err, run.Placements, board, candidates)
		}
		applied++
	}
	if applied < 1000 {
		t.Fatalf("seed %d: only %d of 3000 cohorts had anyone to place", seed, applied)
	}
}

// TestApplyRunRefusesWhatTheRulesRefuse: a run naming a placed student, a
// student twice, a barred pair or more students than slots is stale.
func TestApplyRunRefusesWhatTheRulesRefuse(t *testing.T) {
	s := newState()
	for _, cmd := range []Command{SetCapacity{SupervisorID: "v1", Capacity: 1}, SetCapacity{SupervisorID: "v2", Capacity: 2},
		AssignExaminer{StudentID: "s1", ExaminerID: "v2"}, Allocate{StudentID: "s0", SupervisorID: "v2", Via: events.ViaAssignment}} {
		evs, err := Decide(s, cmd)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range evs {
			s = Evolve(s, events.Envelope{Data: d})
		}
	}
	for name, placements := range map[string][]events.Placement{
		"placed":       {{StudentID: "s0", SupervisorID: "v1"}},
		"twice":        {{StudentID: "s2", SupervisorID: "v2"}, {StudentID: "s2", SupervisorID: "v1"}},
		"examiner":     {{StudentID: "s1", SupervisorID: "v2"}},
		"over":         {{StudentID: "s2", SupervisorID: "v1"}, {StudentID: "s3", SupervisorID: "v1"}},
		"no capacity":  {{StudentID: "s2", SupervisorID: "v9"}},
		"self":         {{StudentID: "v1", SupervisorID: "v1"}},
		"placed, ok 2": {{StudentID: "s2", SupervisorID: "v2"}, {StudentID: "s0", SupervisorID: "v1"}},
	} {
		if _, err := Decide(s, ApplyRun{Run: events.AllocationRun{RunID: name, Placements: placements}}); err != ErrStaleRun {
			t.Errorf("%s: %v, want allocation-stale", name, err)
		}
	}
	ok := []events.Placement{{StudentID: "s1", SupervisorID: "v1"}, {StudentID: "s2", SupervisorID: "v2"}}
	if _, err := Decide(s, ApplyRun{Run: events.AllocationRun{RunID: "ok", Placements: ok}}); err != nil {
		t.Fatalf("a valid run: %v", err)
	}
}
