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
