package cohort_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// The cohort's rules, each as given/when/then rows on the cohort decider:
// capacities, placements (by proposal, by the coordinator, by a run), the
// bars on who may supervise or examine whom, and second examiners. The
// marking threshold's rows are in marking_test.go.

type cohortCase = decidertest.Case[cohort.Command]

func runCohort(t *testing.T, cases []cohortCase) {
	t.Helper()
	decidertest.Run(t, cohort.Decider, events.CohortStreamID, cases)
}

func capacity(supervisorID string, n int) *events.CapacitySet {
	return &events.CapacitySet{SupervisorID: supervisorID, Capacity: n}
}

func allocated(studentID, supervisorID, via, projectID string) *events.StudentAllocated {
	return &events.StudentAllocated{StudentID: studentID, SupervisorID: supervisorID, Via: via, ProjectID: projectID}
}

func unallocated(studentID, supervisorID, reason string) *events.StudentUnallocated {
	return &events.StudentUnallocated{StudentID: studentID, SupervisorID: supervisorID, Reason: reason}
}

func examiner(studentID, examinerID string) *events.ExaminerAssigned {
	return &events.ExaminerAssigned{StudentID: studentID, ExaminerID: examinerID}
}

// detailed is a refusal whose message names the numbers behind it, as the
// decider words it.
func detailed(e *commands.Error, detail string) *commands.Error {
	c := *e
	c.Message = e.Message + ": " + detail
	return &c
}

func given(history ...events.Data) []events.Data { return history }

// and is base followed by more, in a slice of its own: rows that extend
// one base never write into each other's history.
func and(base []events.Data, more ...events.Data) []events.Data { return slices.Concat(base, more) }

// TestDecideCapacity: a supervisor's slots are 0 to MaxCapacity and never
// fewer than the students already placed with them.
func TestDecideCapacity(t *testing.T) {
	set := func(n int) cohort.SetCapacity { return cohort.SetCapacity{SupervisorID: "v1", Capacity: n} }
	onePlaced := given(capacity("v1", 2), allocated("s1", "v1", events.ViaProposal, "p1"))
	runCohort(t, []cohortCase{
		{Name: "set", When: set(3), Then: given(capacity("v1", 3))},
		{Name: "none is recorded, so the supervisor is offered with no slot", When: set(0), Then: given(capacity("v1", 0))},
		{Name: "the largest", When: set(cohort.MaxCapacity), Then: given(capacity("v1", cohort.MaxCapacity))},
		{Name: "the same again changes nothing", Given: given(capacity("v1", 3)), When: set(3)},
		{Name: "none again changes nothing", Given: given(capacity("v1", 0)), When: set(0)},
		{Name: "raised", Given: onePlaced, When: set(5), Then: given(capacity("v1", 5))},
		{Name: "lowered to the students placed", Given: onePlaced, When: set(1), Then: given(capacity("v1", 1))},
		{Name: "lowered below the students placed", Given: onePlaced, When: set(0),
			Err: detailed(cohort.ErrCapacityBelowAllocated, "1 students are placed with this supervisor")},
		{Name: "a student moved away frees the slot to lower", Given: and(onePlaced, unallocated("s1", "v1", "project withdrawn")),
			When: set(0), Then: given(capacity("v1", 0))},
		{Name: "another supervisor's students do not count", Given: and(onePlaced, capacity("v2", 1)),
			When: cohort.SetCapacity{SupervisorID: "v2", Capacity: 0}, Then: given(capacity("v2", 0))},
		{Name: "negative", When: set(-1), Err: decidertest.ErrInvalid, Fields: []string{"capacity"}},
		{Name: "over the largest", When: set(cohort.MaxCapacity + 1), Err: decidertest.ErrInvalid, Fields: []string{"capacity"}},
	})
}

// TestDecideAllocate: a student is placed with one supervisor at a time,
// within the supervisor's slots, never with themselves or their second
// examiner; a coordinator's reassignment moves them.
func TestDecideAllocate(t *testing.T) {
	propose := func(student, supervisor, projectID string) cohort.Allocate {
		return cohort.Allocate{StudentID: student, SupervisorID: supervisor, Via: events.ViaProposal, ProjectID: projectID}
	}
	reassign := func(student, supervisor string) cohort.Allocate {
		return cohort.Allocate{StudentID: student, SupervisorID: supervisor, Via: events.ViaAssignment, Replace: true}
	}
	slots := given(capacity("v1", 1), capacity("v2", 1))
	s1AtV1 := and(slots, allocated("s1", "v1", events.ViaProposal, "p1"))
	full := detailed(cohort.ErrCapacityReached, "all 1 slots are taken")
	runCohort(t, []cohortCase{
		{Name: "placed in a free slot", Given: slots, When: propose("s1", "v1", "p1"),
			Then: given(allocated("s1", "v1", events.ViaProposal, "p1"))},
		{Name: "placed by the coordinator", Given: slots, When: reassign("s1", "v1"),
			Then: given(allocated("s1", "v1", events.ViaAssignment, ""))},
		{Name: "the last slot is taken", Given: s1AtV1, When: propose("s2", "v1", "p2"), Err: full},
		{Name: "a supervisor with no capacity has no slot", When: propose("s1", "v9", "p1"),
			Err: detailed(cohort.ErrCapacityReached, "all 0 slots are taken")},
		{Name: "a freed slot is taken again", Given: and(s1AtV1, unallocated("s1", "v1", "project withdrawn")),
			When: propose("s2", "v1", "p2"), Then: given(allocated("s2", "v1", events.ViaProposal, "p2"))},
		{Name: "a retried acceptance changes nothing", Given: s1AtV1, When: propose("s1", "v1", "p1")},
		{Name: "placed already, with another", Given: s1AtV1, When: propose("s1", "v2", "p2"), Err: cohort.ErrAlreadyPlaced},
		{Name: "placed already, with the same one through another project", Given: and(slots, capacity("v1", 2),
			allocated("s1", "v1", events.ViaProposal, "p1")), When: propose("s1", "v1", "p2"), Err: cohort.ErrAlreadyPlaced},
		{Name: "placed already by a run", Given: and(slots, &events.AllocationRun{RunID: "r1",
			Placements: []events.Placement{{StudentID: "s1", SupervisorID: "v1", Rank: 1}}}),
			When: propose("s1", "v1", "p1"), Err: cohort.ErrAlreadyPlaced},
		{Name: "reassigned", Given: s1AtV1, When: reassign("s1", "v2"),
			Then: given(unallocated("s1", "v1", "reassigned"), allocated("s1", "v2", events.ViaAssignment, ""))},
		{Name: "reassigned to the same one changes nothing", Given: s1AtV1, When: reassign("s1", "v1")},
		{Name: "reassigned to a full one", Given: and(s1AtV1, allocated("s2", "v2", events.ViaProposal, "p2")),
			When: reassign("s1", "v2"), Err: full},
		{Name: "with themselves", Given: slots, When: propose("v1", "v1", "p1"), Err: project.ErrSelfSupervision},
		{Name: "reassigned to themselves", Given: given(capacity("v1", 1), capacity("v2", 1), allocated("v1", "v2", events.ViaAssignment, "")),
			When: reassign("v1", "v1"), Err: project.ErrSelfSupervision},
		{Name: "with their second examiner", Given: and(slots, examiner("s1", "v1")), When: propose("s1", "v1", "p1"),
			Err: cohort.ErrExaminerIsSupervisor},
		{Name: "reassigned to their second examiner", Given: and(s1AtV1, examiner("s1", "v2")), When: reassign("s1", "v2"),
			Err: cohort.ErrExaminerIsSupervisor},
		{Name: "a bar is told before a full supervisor", Given: and(s1AtV1, examiner("s2", "v1")), When: propose("s2", "v1", "p2"),
			Err: cohort.ErrExaminerIsSupervisor},
		{Name: "another student's examiner is no bar", Given: and(slots, examiner("s2", "v1")), When: propose("s1", "v1", "p1"),
			Then: given(allocated("s1", "v1", events.ViaProposal, "p1"))},
	})
}

// TestDecideUnallocate: freeing a slot names the supervisor it frees; one
// given through a project frees only a placement made through that
// project, so a failed or withdrawn acceptance never frees another.
func TestDecideUnallocate(t *testing.T) {
	placed := given(capacity("v1", 1), allocated("s1", "v1", events.ViaProposal, "p1"))
	runCohort(t, []cohortCase{
		{Name: "freed", Given: placed, When: cohort.Unallocate{StudentID: "s1", Reason: "moved"},
			Then: given(unallocated("s1", "v1", "moved"))},
		{Name: "freed through its project", Given: placed, When: cohort.Unallocate{StudentID: "s1", ProjectID: "p1", Reason: "project withdrawn"},
			Then: given(unallocated("s1", "v1", "project withdrawn"))},
		{Name: "another project frees nothing", Given: placed, When: cohort.Unallocate{StudentID: "s1", ProjectID: "p2", Reason: "project withdrawn"}},
		{Name: "a placement without a project is not a project's to free", Given: given(capacity("v1", 1),
			allocated("s1", "v1", events.ViaAssignment, "")), When: cohort.Unallocate{StudentID: "s1", ProjectID: "p1"}},
		{Name: "a student not placed changes nothing", Given: placed, When: cohort.Unallocate{StudentID: "s2", Reason: "moved"}},
		{Name: "freed twice changes nothing", Given: and(placed, unallocated("s1", "v1", "moved")),
			When: cohort.Unallocate{StudentID: "s1", Reason: "moved"}},
	})
}

// TestDecideApplyRun: a run is applied whole or not at all; it is refused as
// stale when the board has moved past it (a student placed meanwhile, a
// slot taken, a bar assigned), and a run applied once changes nothing again.
func TestDecideApplyRun(t *testing.T) {
	board := given(capacity("v1", 1), capacity("v2", 2), examiner("s1", "v2"), allocated("s0", "v2", events.ViaAssignment, ""))
	run := func(id string, placements ...events.Placement) cohort.ApplyRun {
		return cohort.ApplyRun{Run: events.AllocationRun{RunID: id, Objective: "generous", Placements: placements}}
	}
	at := func(student, supervisor string) events.Placement {
		return events.Placement{StudentID: student, SupervisorID: supervisor, Rank: 1}
	}
	valid := run("r1", at("s1", "v1"), at("s2", "v2"))
	runCohort(t, []cohortCase{
		{Name: "applied", Given: board, When: valid, Then: given(&valid.Run)},
		{Name: "applied again changes nothing", Given: and(board, &valid.Run), When: valid},
		{Name: "a student placed meanwhile", Given: board, When: run("r2", at("s0", "v1")), Err: cohort.ErrStaleRun},
		{Name: "one student placed meanwhile among others", Given: board, When: run("r2", at("s2", "v2"), at("s0", "v1")), Err: cohort.ErrStaleRun},
		{Name: "a student placed twice", Given: board, When: run("r2", at("s2", "v2"), at("s2", "v1")), Err: cohort.ErrStaleRun},
		{Name: "with their second examiner", Given: board, When: run("r2", at("s1", "v2")), Err: cohort.ErrStaleRun},
		{Name: "with themselves", Given: board, When: run("r2", at("v1", "v1")), Err: cohort.ErrStaleRun},
		{Name: "more students than slots", Given: board, When: run("r2", at("s2", "v1"), at("s3", "v1")), Err: cohort.ErrStaleRun},
		{Name: "a slot taken meanwhile", Given: and(board, allocated("s4", "v2", events.ViaProposal, "p4")),
			When: run("r2", at("s2", "v2")), Err: cohort.ErrStaleRun},
		{Name: "a supervisor with no capacity", Given: board, When: run("r2", at("s2", "v9")), Err: cohort.ErrStaleRun},
	})
}

// TestDecideAssignExaminer: a student's second examiner is never their
// supervisor nor themselves.
func TestDecideAssignExaminer(t *testing.T) {
	placed := given(capacity("v1", 1), allocated("s1", "v1", events.ViaProposal, "p1"))
	runCohort(t, []cohortCase{
		{Name: "assigned", Given: placed, When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "e1"}, Then: given(examiner("s1", "e1"))},
		{Name: "assigned before a placement", When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "v1"}, Then: given(examiner("s1", "v1"))},
		{Name: "the same again changes nothing", Given: and(placed, examiner("s1", "e1")), When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "e1"}},
		{Name: "replaced", Given: and(placed, examiner("s1", "e1")), When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "e2"},
			Then: given(examiner("s1", "e2"))},
		{Name: "their supervisor", Given: placed, When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "v1"}, Err: cohort.ErrExaminerIsSupervisor},
		{Name: "their supervisor until they were moved", Given: and(placed, unallocated("s1", "v1", "moved")),
			When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "v1"}, Then: given(examiner("s1", "v1"))},
		{Name: "themselves", When: cohort.AssignExaminer{StudentID: "s1", ExaminerID: "s1"}, Err: cohort.ErrSelfExamination},
		{Name: "another student's supervisor", Given: placed, When: cohort.AssignExaminer{StudentID: "s2", ExaminerID: "v1"},
			Then: given(examiner("s2", "v1"))},
	})
}

// TestBoardFold: the board folded from a history counts each supervisor's
// placed students, however they were placed and moved, and Evolve never
// changes a state it was given (a cached state is shared).
func TestBoardFold(t *testing.T) {
	history := given(capacity("v1", 2), capacity("v2", 3),
		allocated("s1", "v1", events.ViaProposal, "p1"),
		&events.AllocationRun{RunID: "r1", Placements: []events.Placement{{StudentID: "s2", SupervisorID: "v2"}, {StudentID: "s3", SupervisorID: "v2"}}},
		examiner("s4", "v1"),
		unallocated("s3", "v2", "reassigned"), allocated("s3", "v1", events.ViaAssignment, ""))
	board := decidertest.Fold(cohort.Decider, events.CohortStreamID, history)
	if diff := cmp.Diff(map[string]int{"v1": 2, "v2": 1}, board.Allocated); diff != "" {
		t.Errorf("placed per supervisor (-want +got):\n%s", diff)
	}
	for sup, want := range map[string]int{"v1": 0, "v2": 2, "v9": 0} {
		if got := board.Remaining(sup); got != want {
			t.Errorf("Remaining(%s) = %d, want %d", sup, got, want)
		}
	}
	for student, want := range map[string]bool{"s1": true, "s2": true, "s3": true, "s4": false} {
		if got := board.Placed(student); got != want {
			t.Errorf("Placed(%s) = %v, want %v", student, got, want)
		}
	}
	if a := board.Supervisor["s2"]; a.SupervisorID != "v2" || a.Via != events.ViaAllocation {
		t.Errorf("s2 placed by the run: %+v", a)
	}
	if diff := cmp.Diff([]string{"s4", "v1"}, board.Barred("s4")); diff != "" {
		t.Errorf("Barred(s4) (-want +got):\n%s", diff)
	}
	if !board.Runs["r1"] {
		t.Error("the run is not remembered")
	}

	before := decidertest.Fold(cohort.Decider, events.CohortStreamID, history)
	allocatedBefore, supervisorsBefore := maps.Clone(before.Allocated), maps.Clone(before.Supervisor)
	for _, d := range given(capacity("v1", 9), allocated("s5", "v2", events.ViaProposal, "p5"), unallocated("s1", "v1", "x"),
		examiner("s1", "e1"), &events.AllocationRun{RunID: "r2", Placements: []events.Placement{{StudentID: "s6", SupervisorID: "v2"}}}) {
		cohort.Evolve(before, events.Envelope{Data: d})
	}
	if !maps.Equal(allocatedBefore, before.Allocated) || !maps.Equal(supervisorsBefore, before.Supervisor) ||
		before.Capacity["v1"] != 2 || before.Examiner["s1"] != "" || before.Runs["r2"] {
		t.Errorf("Evolve changed the state it was given: %+v", before)
	}
}

// TestCohortRulesHoldWhateverTheCommands drives the decider with random
// commands over a small cohort (so that they collide) and checks, after
// every decision, what the cohort promises: no supervisor has more students
// than slots, the count of placed students is theirs, nobody supervises or
// examines themselves, and no second examiner supervises their student. A
// refusal decides no events.
func TestCohortRulesHoldWhateverTheCommands(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 14))
	// Students s0..s5; supervisors v0..v3; v0 and v1 are also students.
	person := func() string {
		if n := rng.IntN(10); n < 6 {
			return fmt.Sprint("s", n)
		} else {
			return fmt.Sprint("v", n-6)
		}
	}
	student := func() string {
		if rng.IntN(4) == 0 {
			return fmt.Sprint("v", rng.IntN(2))
		}
		return fmt.Sprint("s", rng.IntN(6))
	}
	supervisor := func() string { return fmt.Sprint("v", rng.IntN(4)) }
	vias := []string{events.ViaProposal, events.ViaAssignment}
	command := func(i int) cohort.Command {
		switch rng.IntN(7) {
		case 0:
			return cohort.SetCapacity{SupervisorID: supervisor(), Capacity: rng.IntN(4) - rng.IntN(2)}
		case 1, 2:
			return cohort.Allocate{StudentID: student(), SupervisorID: supervisor(), Via: vias[rng.IntN(2)],
				ProjectID: fmt.Sprint("p", rng.IntN(3)), Replace: rng.IntN(3) == 0}
		case 3:
			c := cohort.Unallocate{StudentID: student(), Reason: "test"}
			if rng.IntN(2) == 0 {
				c.ProjectID = fmt.Sprint("p", rng.IntN(3))
			}
			return c
		case 4:
			return cohort.AssignExaminer{StudentID: student(), ExaminerID: person()}
		case 5:
			var run events.AllocationRun
			run.RunID = fmt.Sprint("r", i)
			for range rng.IntN(4) {
				run.Placements = append(run.Placements, events.Placement{StudentID: student(), SupervisorID: supervisor(), Rank: 1})
			}
			return cohort.ApplyRun{Run: run}
		default:
			return cohort.SetMarkingThreshold{Threshold: rng.IntN(30)}
		}
	}
	accepted := 0
	for round := range 300 {
		board := cohort.Decider.Initial(events.CohortStreamID)
		for i := range 60 {
			cmd := command(i)
			out, err := cohort.Decide(board, cmd)
			if err != nil {
				if len(out) > 0 {
					t.Fatalf("seed %d, round %d: %#v was refused (%v) with events %v", seed, round, cmd, err, out)
				}
				continue
			}
			accepted += len(out)
			for _, d := range out {
				board = cohort.Evolve(board, events.Envelope{Data: d})
			}
			if problem := brokenRule(board); problem != "" {
				t.Fatalf("seed %d, round %d: after %#v: %s\nboard %+v", seed, round, cmd, problem, board)
			}
		}
	}
	if accepted < 3000 {
		t.Fatalf("seed %d: only %d events were decided: the commands hardly exercise the rules", seed, accepted)
	}
}

// brokenRule names a promise of the cohort that board breaks, "" if none.
func brokenRule(board cohort.State) string {
	count := map[string]int{}
	for student, a := range board.Supervisor {
		count[a.SupervisorID]++
		switch {
		case a.SupervisorID == student:
			return student + " supervises themselves"
		case board.Examiner[student] == a.SupervisorID:
			return student + "'s second examiner " + a.SupervisorID + " is their supervisor"
		}
	}
	for student, e := range board.Examiner {
		if e == student {
			return student + " examines themselves"
		}
	}
	for sup, n := range board.Allocated {
		switch {
		case n != count[sup]:
			return fmt.Sprintf("%s counts %d students, %d are placed with them", sup, n, count[sup])
		case n > board.Capacity[sup]:
			return fmt.Sprintf("%s has %d students for %d slots", sup, n, board.Capacity[sup])
		}
	}
	for sup, n := range count {
		if board.Allocated[sup] != n {
			return fmt.Sprintf("%s has %d students placed, counted %d", sup, n, board.Allocated[sup])
		}
	}
	return ""
}
