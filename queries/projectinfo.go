package queries

import (
	"context"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// ProjectInfo returns a student's project info (events.ProjectInfoID): the
// first draft of their chain, read by id. A student who has written none,
// and a viewer who may not see the draft, get ErrNotFound.
func (q Projects) ProjectInfo(ctx context.Context, v Viewer, studentID string) (Project, error) {
	for n := range events.ProjectInfoChain {
		var d projections.ProjectDoc
		found, err := q.Reader.Get(ctx, projections.CollProjects, events.ProjectInfoID(studentID, n), &d)
		switch {
		case err != nil:
			return Project{}, err
		case !found:
			return Project{}, ErrNotFound
		case d.Status == events.StatusDraft && d.OwnerID == studentID:
			if !visible(v, d) {
				return Project{}, ErrNotFound
			}
			return seen(v, d, d), nil
		}
	}
	return Project{}, ErrNotFound
}
