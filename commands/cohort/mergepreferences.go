package cohort

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/internal/retry"
)

// mergeAttempts bounds how often a merge is made again on a ranking
// replaced meanwhile: each lost race means another merge landed.
const mergeAttempts = 50

// MergePreferences replaces a student's ranking with what merge makes of
// the ranking stored (the original frontend's shortlist fills some slots
// and keeps the others). The merge is made on the student's record as it
// is, not as a read model last saw it, and stored on the version it read:
// one made on a ranking that another request replaced meanwhile is made
// again on the new one, so merges sent together all land and none drops
// the slots another filled.
func (s *Service) MergePreferences(ctx context.Context, meta commands.Meta, studentID string,
	merge func(ctx context.Context, current []string) ([]string, error)) (commands.Result[Student], error) {
	for attempt := 0; ; attempt++ {
		st, version, err := commands.Load(ctx, s.X, StudentDecider, StudentStreamID(studentID))
		if err != nil {
			return commands.Result[Student]{}, err
		}
		ids, err := merge(ctx, slices.Clone(st.Preferences))
		if err != nil {
			return commands.Result[Student]{}, err
		}
		res, err := s.SetPreferences(ctx, meta, studentID, commands.ExpectVersion(version), ids)
		lost := errors.Is(err, commands.ErrPreconditionFailed) || errors.Is(err, commands.ErrVersionConflict)
		if !lost || attempt+1 == mergeAttempts {
			return res, err
		}
		retry.Backoff(ctx, attempt, time.Millisecond, 10)
	}
}
