// Package cohort is the aggregate that holds every rule spanning students and
// supervisors: capacities, who supervises whom, who examines whom. It is one
// stream (events.CohortStreamID), so these rules hold under any concurrency:
// two acceptances racing for a supervisor's last slot cannot both be stored.
package cohort

import (
	"fmt"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// Allocation is how a student came to have their supervisor.
type Allocation struct {
	SupervisorID string    `json:"supervisor_id"`
	Via          string    `json:"via"`
	ProjectID    string    `json:"project_id,omitempty"`
	At           time.Time `json:"at"`
}

// State is the cohort's allocation board.
type State struct {
	Capacity   map[string]int        `json:"capacity"`    // supervisor -> slots
	Allocated  map[string]int        `json:"allocated"`   // supervisor -> students placed
	Supervisor map[string]Allocation `json:"supervisors"` // student -> allocation
	Examiner   map[string]string     `json:"examiners"`   // student -> examiner
	Runs       map[string]bool       `json:"runs"`        // allocation run ids applied
	// MarkingThreshold is how far apart two marks may be and still agree;
	// nil until the coordinator sets one (see Threshold).
	MarkingThreshold *int `json:"marking_threshold,omitempty"`
}

// Threshold is the cohort's marking threshold, the default until one is set.
func (s State) Threshold() int {
	if s.MarkingThreshold == nil {
		return events.DefaultMarkingThreshold
	}
	return *s.MarkingThreshold
}

// The rules of placing a student are stated once, here: every placement is
// checked against them (Allocate, ApplyRun), and the allocation's
// input is built from them (allocationInput), so the solver never proposes
// a placement that applying the run would refuse.

// Remaining is how many more students a supervisor can take.
func (s State) Remaining(supervisorID string) int {
	return max(0, s.Capacity[supervisorID]-s.Allocated[supervisorID])
}

// Placed reports whether a student already has a supervisor.
func (s State) Placed(studentID string) bool {
	_, ok := s.Supervisor[studentID]
	return ok
}

// bar is a supervisor a student may not be placed with, and why.
type bar struct {
	supervisorID string
	rule         *commands.Error
}

// bars are the supervisors a student may not be placed with: themselves (a
// student who also supervises), and their second examiner, who cannot also
// be their supervisor.
func (s State) bars(studentID string) []bar {
	out := []bar{{studentID, project.ErrSelfSupervision}}
	if e := s.Examiner[studentID]; e != "" {
		out = append(out, bar{e, ErrExaminerIsSupervisor})
	}
	return out
}

// Barred lists the supervisors a student may not be placed with.
func (s State) Barred(studentID string) []string {
	var out []string
	for _, b := range s.bars(studentID) {
		out = append(out, b.supervisorID)
	}
	return out
}

// mayPair refuses a supervisor the student may not be placed with.
func (s State) mayPair(studentID, supervisorID string) error {
	for _, b := range s.bars(studentID) {
		if b.supervisorID == supervisorID {
			return b.rule
		}
	}
	return nil
}

// SetCapacity sets a supervisor's slots.
type SetCapacity struct {
	SupervisorID string
	Capacity     int
}

// Allocate gives a student a supervisor. With Replace (a coordinator's
// reassignment) an existing allocation is moved; otherwise it is refused.
type Allocate struct {
	StudentID, SupervisorID, Via, ProjectID string
	Replace                                 bool
}

// Unallocate frees a student's slot. With ProjectID set, only an allocation
// made through that project is freed (a withdrawn or failed acceptance).
type Unallocate struct {
	StudentID, ProjectID, Reason string
}

// ApplyRun applies an allocation run, all or nothing.
type ApplyRun struct{ Run events.AllocationRun }

// AssignExaminer names a student's second examiner.
type AssignExaminer struct{ StudentID, ExaminerID string }

// SetMarkingThreshold sets how far apart (0 to 100) two marks may be and
// still agree on their mean.
type SetMarkingThreshold struct{ Threshold int }

// MaxCapacity bounds a supervisor's slots (a typo guard).
const MaxCapacity = 1000

// Refusals of the cohort.
var (
	ErrCapacityReached = &commands.Error{Kind: commands.KindConflict, Code: "capacity-reached",
		Message: "the supervisor has no slot left"}
	ErrAlreadyPlaced = &commands.Error{Kind: commands.KindConflict, Code: "student-already-placed",
		Message: "the student already has a supervisor"}
	ErrExaminerIsSupervisor = &commands.Error{Kind: commands.KindRule, Code: "examiner-is-supervisor",
		Message: "a student's second examiner cannot be their supervisor"}
	ErrSelfExamination = &commands.Error{Kind: commands.KindRule, Code: "cannot-examine-self",
		Message: "a student cannot be their own second examiner"}
	ErrCapacityBelowAllocated = &commands.Error{Kind: commands.KindRule, Code: "capacity-below-allocated",
		Message: "the capacity cannot be lower than the number of students already placed"}
	ErrStaleRun = &commands.Error{Kind: commands.KindConflict, Code: "allocation-stale",
		Message: "the cohort changed while the allocation was computed; run it again"}
)

// Command is a command of the cohort aggregate. It is closed: only the
// command types of this package implement it, each deciding itself, so the
// compiler refuses any other and Decide has no unknown command to refuse.
type Command interface {
	decide(State) ([]events.Data, error)
}

// Decider is the cohort aggregate.
var Decider = commands.Decider[State, Command]{
	StreamType: events.StreamCohort,
	Schema:     "cohort/2",
	Initial:    func(string) State { return newState() },
	Evolve:     Evolve,
	EvolveAll:  EvolveAll,
	Decide:     Decide,
	Retries:    100,
}

func newState() State {
	return State{Capacity: map[string]int{}, Allocated: map[string]int{}, Supervisor: map[string]Allocation{},
		Examiner: map[string]string{}, Runs: map[string]bool{}}
}

// Decide checks a command against the board.
func Decide(s State, c Command) ([]events.Data, error) { return c.decide(s) }

func (c SetCapacity) decide(s State) ([]events.Data, error) {
	switch {
	case c.Capacity < 0 || c.Capacity > MaxCapacity:
		return nil, commands.Invalid(commands.FieldError{Field: "capacity", Message: fmt.Sprintf("must be between 0 and %d", MaxCapacity)})
	case c.Capacity < s.Allocated[c.SupervisorID]:
		return nil, withDetail(ErrCapacityBelowAllocated, fmt.Sprintf("%d students are placed with this supervisor", s.Allocated[c.SupervisorID]))
	case c.Capacity == s.Capacity[c.SupervisorID]:
		if _, known := s.Capacity[c.SupervisorID]; known {
			return nil, nil
		}
	}
	return []events.Data{&events.CapacitySet{SupervisorID: c.SupervisorID, Capacity: c.Capacity}}, nil
}

func (c Allocate) decide(s State) ([]events.Data, error) {
	var out []events.Data
	remaining := s.Remaining(c.SupervisorID)
	if a, ok := s.Supervisor[c.StudentID]; ok {
		switch {
		case a.SupervisorID == c.SupervisorID && (a.ProjectID == c.ProjectID || c.Replace):
			return nil, nil // already done: a retry, or a reassignment to the same supervisor
		case !c.Replace:
			return nil, ErrAlreadyPlaced
		}
		out = append(out, &events.StudentUnallocated{StudentID: c.StudentID, SupervisorID: a.SupervisorID, Reason: "reassigned"})
	}
	if err := s.mayPair(c.StudentID, c.SupervisorID); err != nil {
		return nil, err
	}
	if remaining == 0 {
		return nil, withDetail(ErrCapacityReached, fmt.Sprintf("all %d slots are taken", s.Capacity[c.SupervisorID]))
	}
	return append(out, &events.StudentAllocated{StudentID: c.StudentID, SupervisorID: c.SupervisorID, Via: c.Via, ProjectID: c.ProjectID}), nil
}

func (c Unallocate) decide(s State) ([]events.Data, error) {
	a, ok := s.Supervisor[c.StudentID]
	if !ok || (c.ProjectID != "" && a.ProjectID != c.ProjectID) {
		return nil, nil
	}
	return []events.Data{&events.StudentUnallocated{StudentID: c.StudentID, SupervisorID: a.SupervisorID, Reason: c.Reason}}, nil
}

func (c ApplyRun) decide(s State) ([]events.Data, error) {
	if s.Runs[c.Run.RunID] {
		return nil, nil
	}
	left, seen := map[string]int{}, map[string]bool{}
	for _, p := range c.Run.Placements {
		if s.Placed(p.StudentID) || seen[p.StudentID] || s.mayPair(p.StudentID, p.SupervisorID) != nil {
			return nil, ErrStaleRun
		}
		seen[p.StudentID] = true
		if _, seen := left[p.SupervisorID]; !seen {
			left[p.SupervisorID] = s.Remaining(p.SupervisorID)
		}
		if left[p.SupervisorID]--; left[p.SupervisorID] < 0 {
			return nil, ErrStaleRun
		}
	}
	run := c.Run
	return []events.Data{&run}, nil
}

func (c AssignExaminer) decide(s State) ([]events.Data, error) {
	if a, ok := s.Supervisor[c.StudentID]; ok && a.SupervisorID == c.ExaminerID {
		return nil, ErrExaminerIsSupervisor
	}
	if c.ExaminerID == c.StudentID {
		return nil, ErrSelfExamination
	}
	if s.Examiner[c.StudentID] == c.ExaminerID {
		return nil, nil
	}
	return []events.Data{&events.ExaminerAssigned{StudentID: c.StudentID, ExaminerID: c.ExaminerID}}, nil
}

func (c SetMarkingThreshold) decide(s State) ([]events.Data, error) {
	switch {
	case c.Threshold < 0 || c.Threshold > 100:
		return nil, commands.Invalid(commands.FieldError{Field: "threshold", Message: "must be a whole number from 0 to 100"})
	case s.MarkingThreshold != nil && *s.MarkingThreshold == c.Threshold:
		return nil, nil
	}
	return []events.Data{&events.MarkingThresholdSet{Threshold: c.Threshold}}, nil
}

// Evolve folds one event into the board. It copies the maps it changes, so a
// state shared by a cache is never modified in place.
func Evolve(s State, e events.Envelope) State {
	b := board{State: s}
	b.apply(e)
	return b.State
}

// EvolveAll folds events into the board as Evolve would one after the
// other, copying each map it changes once for them all: a commit of a
// supervisors file's hundred capacities copied the whole map of
// capacities a hundred times.
func EvolveAll(s State, es []events.Envelope) State {
	b := board{State: s}
	for _, e := range es {
		b.apply(e)
	}
	return b.State
}

// board is a State being evolved: each of its maps is copied the first
// time it is changed (owned says which are copies of its own), and
// changed in place after that.
type board struct {
	State
	owned uint8
}

// The maps of a board, as bits of owned.
const (
	ownCapacity uint8 = 1 << iota
	ownAllocated
	ownSupervisor
	ownExaminer
	ownRuns
)

// own returns m, copied first unless the board owns it already.
func own[K comparable, V any](b *board, bit uint8, m *map[K]V) map[K]V {
	if b.owned&bit == 0 {
		*m = clone(*m)
		b.owned |= bit
	}
	return *m
}

func (b *board) apply(e events.Envelope) {
	switch d := e.Data.(type) {
	case *events.CapacitySet:
		own(b, ownCapacity, &b.Capacity)[d.SupervisorID] = d.Capacity
	case *events.StudentAllocated:
		own(b, ownSupervisor, &b.Supervisor)[d.StudentID] = Allocation{SupervisorID: d.SupervisorID, Via: d.Via, ProjectID: d.ProjectID, At: e.RecordedAt}
		own(b, ownAllocated, &b.Allocated)[d.SupervisorID]++
	case *events.StudentUnallocated:
		if a, ok := b.Supervisor[d.StudentID]; ok {
			delete(own(b, ownSupervisor, &b.Supervisor), d.StudentID)
			own(b, ownAllocated, &b.Allocated)[a.SupervisorID]--
		}
	case *events.AllocationRun:
		sup, alloc := own(b, ownSupervisor, &b.Supervisor), own(b, ownAllocated, &b.Allocated)
		for _, p := range d.Placements {
			sup[p.StudentID] = Allocation{SupervisorID: p.SupervisorID, Via: events.ViaAllocation, At: e.RecordedAt}
			alloc[p.SupervisorID]++
		}
		own(b, ownRuns, &b.Runs)[d.RunID] = true
	case *events.ExaminerAssigned:
		own(b, ownExaminer, &b.Examiner)[d.StudentID] = d.ExaminerID
	case *events.MarkingThresholdSet:
		t := d.Threshold
		b.MarkingThreshold = &t
	}
}

func withDetail(e *commands.Error, detail string) *commands.Error {
	c := *e
	c.Message = e.Message + ": " + detail
	return &c
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
