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
// rankings and the supervisors' remaining slots, and applies the run as one
// event (unless dry). Existing acceptances and assignments are kept: they
// are not candidates, and their slots are not offered. If the cohort changes
// while the run is computed, it is computed again on the new state.
func (s *Service) Allocate(ctx context.Context, meta commands.Meta, candidates []Candidate, opts AllocationOptions) (AllocationOutcome, error) {
	seed := rand.Uint64N(MaxSeed + 1)
	if opts.Seed != nil {
		if *opts.Seed > MaxSeed {
			return AllocationOutcome{}, ErrSeedOutOfRange
		}
		seed = *opts.Seed
	}
	for attempt := 0; ; attempt++ {
		board, _, err := s.Board(ctx)
		if err != nil {
			return AllocationOutcome{}, err
		}
		in := allocation.Input{Objective: opts.Objective, Seed: seed, AllowOutsideList: opts.AllowOutsideList}
		for id := range board.Capacity {
			in.Supervisors = append(in.Supervisors, allocation.Supervisor{ID: id, Remaining: board.Remaining(id)})
		}
		for _, c := range candidates {
			if _, placed := board.Supervisor[c.StudentID]; placed {
				continue
			}
			var choices []string
			for _, id := range c.Choices {
				if _, known := board.Capacity[id]; known {
					choices = append(choices, id) // a supervisor without a capacity has no slot to offer
				}
			}
			in.Students = append(in.Students, allocation.Student{ID: c.StudentID, Choices: choices})
		}
		res, err := allocation.Allocate(in)
		if err != nil {
			return AllocationOutcome{}, err
		}
		out := AllocationOutcome{RunID: uuid.Must(uuid.NewV7()).String(), Result: res}
		if opts.DryRun || len(res.Assignments) == 0 {
			return out, nil
		}
		run := events.AllocationRun{RunID: out.RunID, Objective: string(res.Objective), Seed: int64(res.Seed),
			ByRank: res.Profile.ByRank[1:], OutsideList: res.Profile.OutsideList, Unplaced: res.Profile.Unplaced}
		for _, a := range res.Assignments {
			run.Placements = append(run.Placements, events.Placement{StudentID: a.StudentID, SupervisorID: a.SupervisorID, Rank: a.Rank})
		}
		m := meta
		m.IfMatch = nil
		_, err = commands.Execute(ctx, s.X, Decider, events.CohortStreamID, any(ApplyRun{Run: run}), m)
		if errors.Is(err, ErrStaleRun) && attempt < 3 {
			continue
		}
		if err != nil {
			return AllocationOutcome{}, err
		}
		out.Applied = true
		return out, nil
	}
}
