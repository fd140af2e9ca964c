package cohort

import (
	"context"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// A place is held only by a student. A student who leaves (deleted, or the
// role taken away) gives it back: the user's change is stored first, then
// ReleaseStudent frees the place (user.Service.StudentLeft). A placement
// racing the departure is checked the other way round: the place is taken
// first, then the student is looked up again, and the place given back if
// they are gone. Whichever of the two writes comes second sees the other,
// so no place stays held by someone who is not a student.

// ReleaseStudent gives back the place of a student who left, recording why
// on the cohort; a student not placed changes nothing.
func (s *Service) ReleaseStudent(ctx context.Context, meta commands.Meta, studentID, reason string) error {
	_, err := Decider.Execute(ctx, s.X, events.CohortStreamID, Unallocate{StudentID: studentID, Reason: reason}, meta)
	return err
}

// stillStudent refuses a student who is no longer an active one, read from
// their stream as it is now (never from a batch's memory of roles found).
func (s *Service) stillStudent(ctx context.Context, studentID string) error {
	if reason, err := s.whyLeft(ctx, studentID); err != nil || reason == "" {
		return err
	}
	return errNotA(events.RoleStudent, "student")
}

// whyLeft reads studentID's stream as it is now and says why they are no
// longer an active student, or "" while they are one.
func (s *Service) whyLeft(ctx context.Context, studentID string) (string, error) {
	u, _, err := commands.Load(ctx, s.X, user.Decider, studentID)
	switch {
	case err != nil:
		return "", err
	case u.Deleted:
		return user.ReasonStudentDeleted, nil
	case !u.Active() || !u.HasRole(events.RoleStudent):
		return user.ReasonNotAStudent, nil
	}
	return "", nil
}

// keepIfStillStudent is called once a place is taken for studentID: if the
// student left meanwhile, the place is given back and the refusal returned.
func (s *Service) keepIfStillStudent(ctx context.Context, meta commands.Meta, studentID string) error {
	reason, err := s.whyLeft(ctx, studentID)
	if err != nil || reason == "" {
		return err
	}
	if rerr := s.ReleaseStudent(context.WithoutCancel(ctx), meta, studentID, reason); rerr != nil {
		s.X.Log.ErrorContext(ctx, "give back the place of a student who left", "student", studentID, "err", rerr)
	}
	return errNotA(events.RoleStudent, "student")
}

// MendDepartures gives back the places still held by students who left
// when the release that follows a departure never happened: the process
// died between the user's change and the cohort's, or the cohort's append
// failed (user.Service only logs that, the user's change being stored).
// The placed students the read side does not list as active students
// (ListCandidates, which may lag) are suspects; each is looked up on their
// own stream, and only one who did leave is released, with the reason. It
// returns how many such places it found. Running it again, or in two
// processes at once, releases nothing twice: a student not placed changes
// nothing.
func (s *Service) MendDepartures(ctx context.Context, meta commands.Meta) (int, error) {
	if s.ListCandidates == nil {
		return 0, nil
	}
	board, _, err := s.Board(ctx)
	if err != nil || len(board.Supervisor) == 0 {
		return 0, err
	}
	active, err := s.ListCandidates(ctx)
	if err != nil {
		return 0, err
	}
	listed := make(map[string]bool, len(active))
	for _, c := range active {
		listed[c.StudentID] = true
	}
	released := 0
	for studentID := range board.Supervisor {
		if listed[studentID] {
			continue
		}
		reason, err := s.whyLeft(ctx, studentID)
		if err != nil {
			return released, err
		}
		if reason == "" {
			continue // a student the read side has not shown yet
		}
		if err := s.ReleaseStudent(ctx, meta, studentID, reason); err != nil {
			return released, err
		}
		released++
	}
	return released, nil
}
