package user_test

import (
	"math/rand/v2"
	"testing"

	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

func coordinator(id string, v int64) events.Coordinator {
	return events.Coordinator{UserID: id, Version: v}
}

func TestDecideCoordinators(t *testing.T) {
	seeded := func(members ...events.Coordinator) *events.CoordinatorsSeeded {
		return &events.CoordinatorsSeeded{Members: members}
	}
	added := func(id string, v int64) *events.CoordinatorAdded {
		return &events.CoordinatorAdded{Coordinator: coordinator(id, v)}
	}
	removed := func(id string, v int64) *events.CoordinatorRemoved {
		return &events.CoordinatorRemoved{Coordinator: coordinator(id, v)}
	}
	two := []events.Data{seeded(coordinator("a", 1), coordinator("b", 3))}
	decidertest.Run(t, user.CoordinatorsDecider, events.CoordinatorsStreamID, []decidertest.Case[user.CoordinatorsCommand]{
		{Name: "seed", When: user.SeedCoordinators{Members: []events.Coordinator{coordinator("a", 1)}}, Then: []events.Data{seeded(coordinator("a", 1))}},
		{Name: "seed with nobody", When: user.SeedCoordinators{}, Then: []events.Data{seeded()}},
		{Name: "seed again is a no-op", Given: two, When: user.SeedCoordinators{Members: []events.Coordinator{coordinator("c", 1)}}},

		{Name: "add", Given: two, When: user.AddCoordinator(coordinator("c", 2)), Then: []events.Data{added("c", 2)}},
		{Name: "add someone counted is a no-op", Given: two, When: user.AddCoordinator(coordinator("b", 3))},
		{Name: "add at a newer version", Given: two, When: user.AddCoordinator(coordinator("b", 5)), Then: []events.Data{added("b", 5)}},
		{Name: "add confirmed before a removal is stale", Given: append(two, removed("b", 3)), When: user.AddCoordinator(coordinator("b", 3))},
		{Name: "add confirmed after a removal", Given: append(two, removed("b", 3)), When: user.AddCoordinator(coordinator("b", 4)), Then: []events.Data{added("b", 4)}},

		{Name: "remove one of two", Given: two, When: user.RemoveCoordinator(coordinator("a", 1)), Then: []events.Data{removed("a", 1)}},
		{Name: "remove the last", Given: append(two, removed("a", 1)), When: user.RemoveCoordinator(coordinator("b", 3)), Err: user.ErrLastCoordinator},
		{Name: "remove the only one seeded", Given: []events.Data{seeded(coordinator("a", 1))}, When: user.RemoveCoordinator(coordinator("a", 1)), Err: user.ErrLastCoordinator},
		// One it does not count still leaves the others: the removal is
		// recorded, so an addition confirmed meanwhile is stale.
		{Name: "remove one not counted", Given: two, When: user.RemoveCoordinator(coordinator("c", 2)), Then: []events.Data{removed("c", 2)}},
		{Name: "remove one not counted when none is", Given: []events.Data{seeded()}, When: user.RemoveCoordinator(coordinator("c", 2)), Err: user.ErrLastCoordinator},
		{Name: "remove again is a no-op", Given: append(append(two, added("c", 2)), removed("a", 1)), When: user.RemoveCoordinator(coordinator("a", 1))},
		{Name: "remove again later", Given: append(append(two, added("c", 2)), removed("a", 1)), When: user.RemoveCoordinator(coordinator("a", 4)), Then: []events.Data{removed("a", 4)}},
	})
	// Nothing but seeding before the stream is seeded.
	for _, cmd := range []user.CoordinatorsCommand{user.AddCoordinator(coordinator("a", 1)), user.RemoveCoordinator(coordinator("a", 1))} {
		if _, err := user.DecideCoordinators(user.CoordinatorsDecider.Initial(events.CoordinatorsStreamID), cmd); err == nil {
			t.Errorf("%T on an unseeded stream was accepted", cmd)
		}
	}
}

// TestCoordinatorsNeverNone drives the coordinators decider with random
// seeds, additions and removals of a few users at random versions, and
// checks after every decision the rule it keeps: once it counts a
// coordinator it never counts none, and nobody is counted at a version
// their last removal has passed (an addition confirmed while the role was
// being taken away is stale).
func TestCoordinatorsNeverNone(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 15))
	pick := func() events.Coordinator {
		return coordinator(string(rune('a'+rng.IntN(4))), int64(1+rng.IntN(8)))
	}
	removals := 0
	for round := range 500 {
		s := user.CoordinatorsDecider.Initial(events.CoordinatorsStreamID)
		for range 40 {
			var cmd user.CoordinatorsCommand
			switch rng.IntN(5) {
			case 0:
				var members []events.Coordinator
				for range rng.IntN(3) {
					members = append(members, pick())
				}
				cmd = user.SeedCoordinators{Members: members}
			case 1, 2:
				cmd = user.AddCoordinator(pick())
			default:
				cmd = user.RemoveCoordinator(pick())
			}
			counted := len(s.Members)
			out, err := user.DecideCoordinators(s, cmd)
			if err != nil && len(out) > 0 {
				t.Fatalf("seed %d, round %d: %#v refused (%v) with events", seed, round, cmd, err)
			}
			for _, d := range out {
				if _, ok := d.(*events.CoordinatorRemoved); ok {
					removals++
				}
				s = user.EvolveCoordinators(s, events.Envelope{Data: d})
			}
			if counted > 0 && len(s.Members) == 0 {
				t.Fatalf("seed %d, round %d: %#v left no coordinator counted", seed, round, cmd)
			}
			for id, v := range s.Members {
				if v <= s.Removed[id] {
					t.Fatalf("seed %d, round %d: %s counted at version %d, removed at %d", seed, round, id, v, s.Removed[id])
				}
			}
		}
	}
	if removals < 1000 {
		t.Fatalf("seed %d: only %d removals were decided: the commands hardly exercise the rule", seed, removals)
	}
}
