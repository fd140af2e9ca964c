package user

import (
	"context"
	"errors"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// CoordinatorsState is who the coordinators stream counts as coordinators.
//
// It may count fewer than there are, never more: a user is added only after
// their own stream shows the role, and removed before their stream loses
// it. So while it counts one, there is one, and refusing to remove the last
// it counts can never leave nobody to administer the cohort. Removed keeps,
// per user, the version of their stream at their last removal: an addition
// confirmed at that version or before is stale (the role was being taken
// away as it was confirmed) and is ignored.
type CoordinatorsState struct {
	Seeded  bool             `json:"seeded"`
	Members map[string]int64 `json:"members"`
	Removed map[string]int64 `json:"removed"`
}

// SeedCoordinators starts the stream with the coordinators confirmed when
// it is first needed; a no-op once it is seeded.
type SeedCoordinators struct{ Members []events.Coordinator }

// AddCoordinator counts a user whose stream shows the role at Version.
type AddCoordinator events.Coordinator

// RemoveCoordinator is asked before a coordinator (at Version of their
// stream) loses the role or the account.
type RemoveCoordinator events.Coordinator

// ErrLastCoordinator refuses taking the role, or the account, of the last
// coordinator: nobody would be left to administer the cohort.
var ErrLastCoordinator = &commands.Error{Kind: commands.KindRule, Code: "last-coordinator",
	Message: "this is the last coordinator: make someone else a coordinator first"}

var errNotSeeded = errors.New("the coordinators stream is not seeded yet")

// CoordinatorsCommand is a command of the coordinators aggregate. It is
// closed: only the command types of this package implement it, each
// deciding itself.
type CoordinatorsCommand interface {
	decide(CoordinatorsState) ([]events.Data, error)
}

// CoordinatorsDecider is the aggregate of the rule that one coordinator
// always remains.
var CoordinatorsDecider = commands.Decider[CoordinatorsState, CoordinatorsCommand]{
	StreamType: events.StreamCoordinators,
	Schema:     "coordinators/1",
	Initial: func(string) CoordinatorsState {
		return CoordinatorsState{Members: map[string]int64{}, Removed: map[string]int64{}}
	},
	Evolve: EvolveCoordinators,
	Decide: DecideCoordinators,
}

// DecideCoordinators checks a change of the coordinators against the rule.
func DecideCoordinators(s CoordinatorsState, c CoordinatorsCommand) ([]events.Data, error) {
	return c.decide(s)
}

func (c SeedCoordinators) decide(s CoordinatorsState) ([]events.Data, error) {
	if s.Seeded {
		return nil, nil
	}
	return []events.Data{&events.CoordinatorsSeeded{Members: c.Members}}, nil
}

func (c AddCoordinator) decide(s CoordinatorsState) ([]events.Data, error) {
	switch {
	case !s.Seeded:
		return nil, errNotSeeded
	case c.Version <= s.Removed[c.UserID] || c.Version <= s.Members[c.UserID]:
		return nil, nil // stale, or already counted
	}
	return []events.Data{&events.CoordinatorAdded{Coordinator: events.Coordinator(c)}}, nil
}

func (c RemoveCoordinator) decide(s CoordinatorsState) ([]events.Data, error) {
	if !s.Seeded {
		return nil, errNotSeeded
	}
	others := len(s.Members)
	if _, member := s.Members[c.UserID]; member {
		others--
	} else if c.Version <= s.Removed[c.UserID] {
		return nil, nil // a retry
	}
	if others == 0 {
		return nil, ErrLastCoordinator
	}
	// Recorded even for a user it did not count: it makes an addition
	// confirmed meanwhile stale.
	return []events.Data{&events.CoordinatorRemoved{Coordinator: events.Coordinator(c)}}, nil
}

// EvolveCoordinators folds one event into the state. It copies the maps it
// changes, so a state shared by a cache is never modified in place.
func EvolveCoordinators(s CoordinatorsState, e events.Envelope) CoordinatorsState {
	switch d := e.Data.(type) {
	case *events.CoordinatorsSeeded:
		s.Seeded, s.Members = true, map[string]int64{}
		for _, m := range d.Members {
			s.Members[m.UserID] = m.Version
		}
	case *events.CoordinatorAdded:
		s.Members = cloneWith(s.Members, d.UserID, d.Version)
	case *events.CoordinatorRemoved:
		s.Members = cloneWith(s.Members, d.UserID, 0)
		delete(s.Members, d.UserID)
		s.Removed = cloneWith(s.Removed, d.UserID, max(s.Removed[d.UserID], d.Version))
	}
	return s
}

func cloneWith(m map[string]int64, k string, v int64) map[string]int64 {
	out := make(map[string]int64, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// seedCoordinators starts the coordinators stream, the first time it is
// needed, with the coordinators the read side knows, each confirmed.
func (s *Service) seedCoordinators(ctx context.Context, meta commands.Meta) error {
	st, _, err := commands.Load(ctx, s.X, CoordinatorsDecider, events.CoordinatorsStreamID)
	if err != nil || st.Seeded {
		return err
	}
	members, err := s.confirmCoordinators(ctx, nil)
	if err != nil {
		return err
	}
	_, err = CoordinatorsDecider.Execute(ctx, s.X, events.CoordinatorsStreamID, SeedCoordinators{Members: members}, meta)
	return err
}

// confirmCoordinators lists the coordinators the read side knows, but for
// those in known, and keeps those whose own stream shows the role.
func (s *Service) confirmCoordinators(ctx context.Context, known map[string]int64) ([]events.Coordinator, error) {
	if s.ListCoordinators == nil {
		return nil, nil
	}
	ids, err := s.ListCoordinators(ctx)
	if err != nil {
		return nil, err
	}
	var out []events.Coordinator
	for _, id := range ids {
		if _, ok := known[id]; ok {
			continue
		}
		u, version, err := commands.Load(ctx, s.X, Decider, id)
		if err != nil {
			return nil, err
		}
		if u.Active() && u.HasRole(events.RoleCoordinator) {
			out = append(out, events.Coordinator{UserID: id, Version: version})
		}
	}
	return out, nil
}

// grantCoordinator counts a user whose stream now shows the role. Failing
// only leaves them uncounted (which is safe), until the stream is mended.
func (s *Service) grantCoordinator(ctx context.Context, meta commands.Meta, id string, version int64) {
	err := s.seedCoordinators(ctx, meta)
	if err == nil {
		_, err = CoordinatorsDecider.Execute(ctx, s.X, events.CoordinatorsStreamID, AddCoordinator{UserID: id, Version: version}, meta)
	}
	if err != nil {
		s.X.Log.WarnContext(ctx, "count a new coordinator", "user", id, "err", err)
	}
}

// revokeCoordinator records that a coordinator (at version of their stream)
// is about to lose the role or the account, or refuses the last one. The
// stream may count fewer coordinators than there are (a change that failed
// halfway leaves one uncounted): before refusing, it counts those the read
// side knows, confirmed on their own streams, and asks again.
func (s *Service) revokeCoordinator(ctx context.Context, meta commands.Meta, id string, version int64) error {
	if err := s.seedCoordinators(ctx, meta); err != nil {
		return err
	}
	remove := RemoveCoordinator{UserID: id, Version: version}
	_, err := CoordinatorsDecider.Execute(ctx, s.X, events.CoordinatorsStreamID, remove, meta)
	if !errors.Is(err, ErrLastCoordinator) {
		return err
	}
	st, _, err := commands.Load(ctx, s.X, CoordinatorsDecider, events.CoordinatorsStreamID)
	if err != nil {
		return err
	}
	missing, err := s.confirmCoordinators(ctx, st.Members)
	if err != nil {
		return err
	}
	mended := false
	for _, m := range missing {
		if m.UserID == id {
			continue
		}
		res, err := CoordinatorsDecider.Execute(ctx, s.X, events.CoordinatorsStreamID, AddCoordinator(m), meta)
		if err != nil {
			return err
		}
		mended = mended || res.Commit != nil
	}
	if !mended {
		return ErrLastCoordinator
	}
	_, err = CoordinatorsDecider.Execute(ctx, s.X, events.CoordinatorsStreamID, remove, meta)
	return err
}
