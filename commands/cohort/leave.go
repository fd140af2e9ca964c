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
	u, _, err := commands.Load(ctx, s.X, user.Decider, studentID)
	if err != nil {
		return err
	}
	if !u.Active() || !u.HasRole(events.RoleStudent) {
		return errNotA(events.RoleStudent, "student")
	}
	return nil
}

// keepIfStillStudent is called once a place is taken for studentID: if the
// student left meanwhile, the place is given back and the refusal returned.
func (s *Service) keepIfStillStudent(ctx context.Context, meta commands.Meta, studentID string) error {
	err := s.stillStudent(ctx, studentID)
	if _, refused := commands.AsError(err); !refused {
		return err
	}
	reason := user.ReasonNotAStudent
	if u, _, lerr := commands.Load(ctx, s.X, user.Decider, studentID); lerr == nil && u.Deleted {
		reason = user.ReasonStudentDeleted
	}
	if rerr := s.ReleaseStudent(context.WithoutCancel(ctx), meta, studentID, reason); rerr != nil {
		s.X.Log.ErrorContext(ctx, "give back the place of a student who left", "student", studentID, "err", rerr)
	}
	return err
}
