// Package readside answers, from the read models, the questions a use case
// of the write side asks before it decides: the students an allocation run
// may place, the coordinators the coordinators stream is seeded and mended
// with. The use cases declare these ports (cohort.Service.ListCandidates,
// user.Service.ListCoordinators) and treat the answers as possibly stale,
// checking each against their own streams; cmd wires these adapters in.
package readside

import (
	"context"

	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// Candidates lists every active student with their ranking, from the
// students read model, for cohort.Service.ListCandidates.
func Candidates(students queries.Students) func(ctx context.Context) ([]cohort.Candidate, error) {
	return func(ctx context.Context) ([]cohort.Candidate, error) {
		docs, err := students.All(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]cohort.Candidate, len(docs))
		for i, d := range docs {
			out[i] = cohort.Candidate{StudentID: d.ID, Choices: d.Preferences}
		}
		return out, nil
	}
}

// Coordinators lists the active coordinators in the users read model,
// every page of them, for user.Service.ListCoordinators.
func Coordinators(users queries.Users) func(ctx context.Context) ([]string, error) {
	return func(ctx context.Context) ([]string, error) {
		var ids []string
		f := queries.UserFilter{Role: events.RoleCoordinator, Limit: queries.MaxLimit}
		for {
			page, err := users.List(ctx, events.Actor{UserID: events.SystemActor.UserID, Roles: []string{events.RoleCoordinator}}, f)
			if err != nil {
				return nil, err
			}
			for _, d := range page.Items {
				ids = append(ids, d.ID)
			}
			if page.NextCursor == "" {
				return ids, nil
			}
			f.Cursor = page.NextCursor
		}
	}
}
