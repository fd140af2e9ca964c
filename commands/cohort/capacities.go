package cohort

import (
	"context"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// MaxCapacitiesAtOnce bounds the capacities SetCapacities stores in one
// commit (the store bounds a commit's events).
const MaxCapacitiesAtOnce = 100

// setCapacities is SetCapacity for many supervisors in one commit: each
// capacity is still its own CapacitySet event, decided by the same rule on
// the board as the ones before it leave it, so the history and the outcome
// are those of setting them one after the other. A refused capacity is
// left out, and the others are stored.
type setCapacities struct {
	items []SetCapacity
	// refused is each item's refusal, filled by decide (which the executor
	// may call again on a newer board after a lost race: each call starts
	// afresh).
	refused []error
	changed []bool
}

func (c *setCapacities) decide(s State) ([]events.Data, error) {
	c.refused, c.changed = make([]error, len(c.items)), make([]bool, len(c.items))
	var out []events.Data
	b := board{State: s} // the capacities are copied once, not once an item
	for i, item := range c.items {
		data, err := item.decide(b.State)
		if err != nil {
			c.refused[i] = err
			continue
		}
		for _, d := range data {
			b.apply(events.Envelope{Data: d})
		}
		c.changed[i] = len(data) > 0
		out = append(out, data...)
	}
	return out, nil
}

// CapacityOutcome is one capacity's outcome in SetCapacities.
type CapacityOutcome struct {
	Changed bool
	Err     error // the refusal of this capacity alone
}

// SetCapacities sets the slots of many supervisors (coordinator), one
// commit for each MaxCapacitiesAtOnce of them instead of one each (a
// supervisors file). Each is refused alone as SetCapacity would refuse it
// (a user who is not a supervisor, a capacity out of range or below the
// students placed), and the others are set; err is an error of the store.
func (s *Service) SetCapacities(ctx context.Context, meta commands.Meta, items []SetCapacity) ([]CapacityOutcome, error) {
	out := make([]CapacityOutcome, 0, len(items))
	for len(items) > 0 {
		n := min(len(items), MaxCapacitiesAtOnce)
		part, err := s.setCapacities(ctx, meta, items[:n])
		if err != nil {
			return nil, err
		}
		out, items = append(out, part...), items[n:]
	}
	return out, nil
}

func (s *Service) setCapacities(ctx context.Context, meta commands.Meta, items []SetCapacity) ([]CapacityOutcome, error) {
	out := make([]CapacityOutcome, len(items))
	cmd := &setCapacities{}
	var at []int // the index in items of each of cmd's
	for i, item := range items {
		if err := s.requireRole(ctx, item.SupervisorID, events.RoleSupervisor, "supervisor_id"); err != nil {
			if _, refused := commands.AsError(err); !refused {
				return nil, err
			}
			out[i].Err = err
			continue
		}
		cmd.items = append(cmd.items, item)
		at = append(at, i)
	}
	if len(cmd.items) == 0 {
		return out, nil
	}
	if _, err := Decider.Execute(ctx, s.X, events.CohortStreamID, cmd, meta); err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = CapacityOutcome{Changed: cmd.changed[j], Err: cmd.refused[j]}
	}
	return out, nil
}
