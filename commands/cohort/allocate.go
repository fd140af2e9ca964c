package cohort

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/allocation"
	"github.com/capstone-pms/capstone/events"
)

// Candidate is a student the allocation may place, with their ranking.
// Candidates come from the read side (Service.ListCandidates), which may lag
// a moment behind the streams: that is safe, as the run leaves out anyone
// the cohort's own board shows placed, and the board refuses a run it has
// moved past.
type Candidate struct {
	StudentID string
	Choices   []string
}

// AllocationOptions choose how a run trades off.
type AllocationOptions struct {
	DryRun    bool
	Objective allocation.Objective
	// Seed breaks ties; nil draws a fresh one, reported in the result. It is
	// at most MaxSeed.
	Seed             *uint64
	AllowOutsideList bool
}

// MaxSeed is the largest allocation seed, 2^53 - 1. A seed is recorded in
// the run's event and shown to the coordinator to reproduce the run, so it
// must survive both the store (whose integers are signed 64-bit) and JSON
// (whose numbers many clients read as doubles, exact only up to 2^53): a
// larger one would be refused by the store or come back as another seed.
const MaxSeed = 1<<53 - 1

// ErrSeedOutOfRange refuses a seed the run could not record exactly.
var ErrSeedOutOfRange = commands.Invalid(commands.FieldError{Field: "seed", Message: fmt.Sprintf("must be a whole number from 0 to %d", uint64(MaxSeed))})

// AllocationOutcome is a computed (and, unless dry, applied) run.
type AllocationOutcome struct {
	RunID  string
	Result allocation.Result
	// Applied is false for a dry run.
	Applied bool
}

// Allocate places the students who have no supervisor yet, from their
// rankings (ListCandidates) and the supervisors' remaining slots, and
// applies the run as one event (unless dry). Existing acceptances and
// assignments are kept: they are not candidates, and their slots are not
// offered. If the cohort changes while the run is computed, it is computed
// again on the new state.
func (s *Service) Allocate(ctx context.Context, meta commands.Meta, opts AllocationOptions) (AllocationOutcome, error) {
	seed := rand.Uint64N(MaxSeed + 1)
	if opts.Seed != nil {
		if *opts.Seed > MaxSeed {
			return AllocationOutcome{}, ErrSeedOutOfRange
		}
		seed = *opts.Seed
	}
	if s.ListCandidates == nil {
		return AllocationOutcome{}, errors.New("allocate: no list of candidates is wired")
	}
	candidates, err := s.ListCandidates(ctx)
	if err != nil {
		return AllocationOutcome{}, fmt.Errorf("list the allocation's candidates: %w", err)
	}
	for attempt := 0; ; attempt++ {
		board, _, err := s.Board(ctx)
		if err != nil {
			return AllocationOutcome{}, err
		}
		out := AllocationOutcome{RunID: uuid.Must(uuid.NewV7()).String()}
		var run events.AllocationRun
		out.Result, run, err = planRun(board, candidates, opts, seed, out.RunID)
		if err != nil {
			return AllocationOutcome{}, err
		}
		if opts.DryRun || len(run.Placements) == 0 {
			return out, nil
		}
		_, err = Decider.Execute(ctx, s.X, events.CohortStreamID, ApplyRun{Run: run}, meta)
		if errors.Is(err, ErrStaleRun) && attempt < 3 {
			continue
		}
		if err != nil {
			return AllocationOutcome{}, err
		}
		out.Applied = true
		s.keepStudentsPlaced(ctx, meta, run)
		return out, nil
	}
}

// planRun computes a run on the board and the event that applies it.
func planRun(board State, candidates []Candidate, opts AllocationOptions, seed uint64, runID string) (allocation.Result, events.AllocationRun, error) {
	res, err := allocation.Allocate(allocationInput(board, candidates, opts, seed))
	if err != nil {
		return allocation.Result{}, events.AllocationRun{}, err
	}
	run := events.AllocationRun{RunID: runID, Objective: string(res.Objective), Seed: int64(res.Seed),
		ByRank: res.Profile.ByRank[1:], OutsideList: res.Profile.OutsideList, Unplaced: res.Profile.Unplaced}
	for _, a := range res.Assignments {
		run.Placements = append(run.Placements, events.Placement{StudentID: a.StudentID, SupervisorID: a.SupervisorID, Rank: a.Rank})
	}
	return res, run, nil
}

// allocationInput is what the solver is told of the board, built from the
// placement rules ApplyRun checks: the students not yet placed, every
// supervisor's remaining slots, and the placements barred. A ranked
// supervisor without a capacity is offered with no slot rather than left
// out of the ranking, so the ranks after it stay the student's own.
func allocationInput(board State, candidates []Candidate, opts AllocationOptions, seed uint64) allocation.Input {
	in := allocation.Input{Objective: opts.Objective, Seed: seed, AllowOutsideList: opts.AllowOutsideList}
	offered := map[string]bool{}
	offer := func(id string) {
		if !offered[id] {
			offered[id] = true
			in.Supervisors = append(in.Supervisors, allocation.Supervisor{ID: id, Remaining: board.Remaining(id)})
		}
	}
	for id := range board.Capacity {
		offer(id)
	}
	for _, c := range candidates {
		if board.Placed(c.StudentID) {
			continue
		}
		for _, id := range c.Choices {
			offer(id)
		}
		in.Students = append(in.Students, allocation.Student{ID: c.StudentID, Choices: c.Choices})
	}
	for _, st := range in.Students {
		for _, sup := range board.Barred(st.ID) {
			if offered[sup] {
				in.Bars = append(in.Bars, allocation.Bar{StudentID: st.ID, SupervisorID: sup})
			}
		}
	}
	return in
}

// keepStudentsPlaced gives back the places of a run's students who left
// while it was computed from the (lagging) read side: the candidates listed
// may include a student deleted a moment before. Such a placement stays in
// the run's record, and the release after it says why.
func (s *Service) keepStudentsPlaced(ctx context.Context, meta commands.Meta, run events.AllocationRun) {
	for _, p := range run.Placements {
		if err := s.keepIfStillStudent(ctx, meta, p.StudentID); err != nil {
			if _, refused := commands.AsError(err); !refused {
				s.X.Log.ErrorContext(ctx, "look up a student the allocation placed", "student", p.StudentID, "err", err)
			}
		}
	}
}
