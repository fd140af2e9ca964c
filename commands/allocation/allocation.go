package allocation

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// MaxChoices is how many supervisors a student may rank; it matches the
// 1..5 distinct supervisors that PUT /v1/students/{id}/preferences accepts.
const MaxChoices = 5

// Student is one student to place. Choices are supervisor ids, rank 1 first;
// an empty list is allowed (the student ranked no one) and only matters when
// placement outside the list is allowed.
type Student struct {
	// ID identifies the student; unique within an Input.
	ID string
	// Choices are the ranked supervisor ids, at most MaxChoices, distinct.
	Choices []string
}

// Bar forbids one placement: the student may not be placed with the
// supervisor (their second examiner, say), within their list or outside it.
// A barred choice keeps its rank, so the ranks of the others are still the
// student's own.
type Bar struct {
	StudentID, SupervisorID string
}

// Supervisor is one supervisor with the slots still open. Remaining is the
// capacity left after existing acceptances and assignments, so the
// allocation only ever fills what is free and never reassigns anybody.
type Supervisor struct {
	// ID identifies the supervisor; unique within an Input.
	ID string
	// Remaining is the number of students that may still be assigned (>= 0).
	Remaining int
}

// Objective says which of the many maximum allocations is preferred. All
// objectives first place as many students as possible; they differ only in
// how they trade good ranks for some students against bad ranks for others.
type Objective string

// The supported objectives. The empty Objective means Generous.
const (
	// Generous minimises the number of 5th choices, then of 4th choices, and
	// so on: it protects the worst-off students first (a "generous" maximum
	// matching). It is the default because it is the easiest to defend to a
	// student who did not get their first choice.
	Generous Objective = "generous"
	// Greedy maximises the number of 1st choices, then of 2nd choices, and so
	// on (a "greedy", rank-maximal maximum matching): as many students as
	// possible get their favourite, even if a few get a worse rank for it.
	Greedy Objective = "greedy"
	// RankSum minimises the sum of the ranks, the usual compromise between
	// the two; it happily trades one 5th choice for two 1st choices.
	RankSum Objective = "rank-sum"
)

// Input is everything an allocation depends on. Nothing else (not the order
// of the lists, not the clock) influences the Result.
type Input struct {
	// Students to place; ids unique.
	Students []Student
	// Supervisors with their remaining capacity; ids unique.
	Supervisors []Supervisor
	// Bars are the placements the allocation must never make.
	Bars []Bar
	// Objective chooses among maximum allocations; empty means Generous.
	Objective Objective
	// Seed breaks ties between equally good allocations, reproducibly.
	Seed uint64
	// AllowOutsideList lets students who cannot be placed on any supervisor
	// they ranked go to any supervisor with a free slot who is not barred for
	// them (Rank 0). Such placements never cost another student a
	// within-list placement.
	AllowOutsideList bool
}

// Assignment places one student with one supervisor.
type Assignment struct {
	// StudentID is the student placed.
	StudentID string
	// SupervisorID is the supervisor they are placed with.
	SupervisorID string
	// Rank is the position of SupervisorID in the student's choices (1..5),
	// or 0 when the student was placed outside their list.
	Rank int
}

// Unplaced is a student the allocation could not place, with the reason in
// words a coordinator can act on (raise a capacity, allow placement outside
// the lists, or ask the student to rank more supervisors).
type Unplaced struct {
	// StudentID is the student left without a supervisor.
	StudentID string
	// Reason says why, e.g. "all 3 ranked supervisors are full".
	Reason string
}

// Profile summarises the quality of an allocation: the figures a coordinator
// compares between objectives or seeds before committing one.
type Profile struct {
	// ByRank counts assignments by rank; index 0 counts placements outside
	// the students' lists, indexes 1..5 the ranked ones.
	ByRank [MaxChoices + 1]int
	// OutsideList is the number of placements outside the lists (ByRank[0]).
	OutsideList int
	// Unplaced is the number of students left without a supervisor.
	Unplaced int
	// Students is the number of students in the input.
	Students int
	// Capacity is the total remaining capacity offered (saturating).
	Capacity int
}

// Result is an allocation and what is needed to reproduce and judge it.
type Result struct {
	// Assignments, sorted by StudentID; never nil.
	Assignments []Assignment
	// Unplaced students, sorted by StudentID; never nil.
	Unplaced []Unplaced
	// Profile summarises Assignments and Unplaced.
	Profile Profile
	// Objective is the objective used (Generous when the input left it empty).
	Objective Objective
	// Seed is the seed used, so the same allocation can be produced again.
	Seed uint64
}

// pcgStream is the second PCG seed word. It is fixed so that Input.Seed alone
// determines the shuffle; changing it would change every past allocation.
const pcgStream = 0x9e3779b97f4a7c15

// Allocate places students with supervisors: as many as possible within
// their lists, then (when allowed) as many as possible outside them, then
// the best placement for the objective, ties broken by the seed. Inputs that
// cannot describe a real cohort are refused with a *commands.Error of kind
// KindInvalid whose message and Fields name every offending id, so the HTTP
// layer answers 400 without a mapping of its own; inputs too big for exact
// costs are refused with ErrTooLarge.
func Allocate(in Input) (Result, error) {
	obj, err := validate(in)
	if err != nil {
		return Result{}, err
	}
	p := newProblem(in, obj)
	w, err := newWeights(obj, p.base(), len(in.Students), p.nodes(), in.AllowOutsideList)
	if err != nil {
		return Result{}, err
	}
	net := p.build(w)
	net.g.minCostMaxFlow(source, sink)
	return p.result(net), nil
}

// problem is a validated input in the seeded order the network is built in.
type problem struct {
	in       Input
	obj      Objective
	students []int          // indexes into in.Students, in network order
	sups     []int          // indexes into in.Supervisors, in network order
	supIndex map[string]int // supervisor id -> index into in.Supervisors
	capacity int            // total remaining capacity, saturating
	// barred[i] are the in.Supervisors indexes student i may not go to.
	barred []map[int]bool
	// hubOf[i] is the outside-list hub of input student i: students who
	// may go to the same supervisors share one (hub 0: any supervisor).
	// hubBars[h] are the supervisors hub h does not lead to.
	hubOf   []int
	hubBars [][]int
}

// newProblem sorts students and supervisors by id, so the input order does
// not matter, and then shuffles them with the seed, so the id order does not
// decide ties either.
func newProblem(in Input, obj Objective) *problem {
	p := &problem{in: in, obj: obj, supIndex: make(map[string]int, len(in.Supervisors))}
	p.students = canonical(len(in.Students), func(i int) string { return in.Students[i].ID })
	p.sups = canonical(len(in.Supervisors), func(i int) string { return in.Supervisors[i].ID })
	rng := rand.New(rand.NewPCG(in.Seed, pcgStream))
	rng.Shuffle(len(p.students), func(i, j int) { p.students[i], p.students[j] = p.students[j], p.students[i] })
	rng.Shuffle(len(p.sups), func(i, j int) { p.sups[i], p.sups[j] = p.sups[j], p.sups[i] })
	for i, s := range in.Supervisors {
		p.supIndex[s.ID] = i
		p.capacity = saturatingAdd(p.capacity, s.Remaining)
	}
	p.barred = make([]map[int]bool, len(in.Students))
	studentIndex := make(map[string]int, len(in.Students))
	for i, s := range in.Students {
		studentIndex[s.ID] = i
	}
	for _, b := range in.Bars {
		i := studentIndex[b.StudentID]
		if p.barred[i] == nil {
			p.barred[i] = map[int]bool{}
		}
		p.barred[i][p.supIndex[b.SupervisorID]] = true
	}
	p.groupHubs()
	return p
}

// may reports whether input student i may be placed with input supervisor j.
func (p *problem) may(i, j int) bool { return !p.barred[i][j] }

// groupHubs gives every student the outside-list hub of the supervisors
// they may take: those barred from the same supervisors with free slots
// share one, in network order, so a cohort whose bars are its examiners
// needs a hub per examiner, not an edge per student and supervisor.
func (p *problem) groupHubs() {
	p.hubOf = make([]int, len(p.in.Students))
	p.hubBars = [][]int{nil}
	ids := map[string]int{"": 0}
	for _, i := range p.students {
		var bars []int
		for _, j := range p.sups {
			if p.barred[i][j] && p.in.Supervisors[j].Remaining > 0 {
				bars = append(bars, j)
			}
		}
		key := fmt.Sprint(bars)
		if len(bars) == 0 {
			key = ""
		}
		h, ok := ids[key]
		if !ok {
			h = len(p.hubBars)
			ids[key] = h
			p.hubBars = append(p.hubBars, bars)
		}
		p.hubOf[i] = h
	}
}

// canonical returns 0..n-1 sorted by the id of each index.
func canonical(n int, id func(int) string) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(id(a), id(b)) })
	return order
}

// base is one more than the most students that can be placed, so that a count
// of placements at one rank never carries into the next power of the base.
func (p *problem) base() int64 {
	return int64(min(len(p.in.Students), p.capacity)) + 1
}

// nodes is the number of nodes of the network.
func (p *problem) nodes() int {
	return int(firstStudent) + len(p.students) + len(p.sups) + len(p.hubBars) - 1
}

// rankOf returns the 1-based position of supervisor in the student's
// choices, or 0 when it is not among them.
func rankOf(s Student, supervisor string) int {
	return slices.Index(s.Choices, supervisor) + 1
}

// saturatingAdd adds non-negative ints without wrapping around.
func saturatingAdd(a, b int) int {
	if b > 0 && a > int(^uint(0)>>1)-b {
		return int(^uint(0) >> 1)
	}
	return a + b
}

// sortByStudent orders a result list by student id.
func sortByStudent[T any](xs []T, id func(T) string) {
	slices.SortFunc(xs, func(a, b T) int { return cmp.Compare(id(a), id(b)) })
}
