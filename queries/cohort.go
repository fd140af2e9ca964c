package queries

import (
	"context"

	"github.com/capstone-pms/capstone/projections"
)

// Supervisors answers questions about supervisors; every user may ask.
type Supervisors struct{ Reader Reader }

// MaxSupervisors bounds the supervisors list (a cohort has tens).
const MaxSupervisors = 1000

// List returns every active supervisor, with capacity, allocated and remaining.
func (q Supervisors) List(ctx context.Context) ([]projections.SupervisorDoc, error) {
	var out []projections.SupervisorDoc
	err := q.Reader.Find(ctx, projections.CollSupervisors, Filter{Equal: map[string]string{}, Limit: MaxSupervisors, ActiveOnly: true}, &out)
	if out == nil {
		out = []projections.SupervisorDoc{}
	}
	return out, err
}

// Get returns one active supervisor.
func (q Supervisors) Get(ctx context.Context, id string) (projections.SupervisorDoc, error) {
	var doc projections.SupervisorDoc
	found, err := q.Reader.Get(ctx, projections.CollSupervisors, id, &doc)
	if err != nil {
		return doc, err
	}
	if !found || !doc.Active {
		return doc, ErrNotFound
	}
	return doc, nil
}

// Students answers questions about a student's overview.
type Students struct{ Reader Reader }

// StudentOverview is a student's overview with their projects.
type StudentOverview struct {
	projections.StudentDoc
	Projects []projections.ProjectDoc
}

// Get returns the overview to the student, a coordinator, or the student's
// supervisor or examiner; everyone else is told it does not exist.
func (q Students) Get(ctx context.Context, v Viewer, id string) (StudentOverview, error) {
	var doc projections.StudentDoc
	found, err := q.Reader.Get(ctx, projections.CollStudents, id, &doc)
	if err != nil {
		return StudentOverview{}, err
	}
	if !found || !doc.Active {
		return StudentOverview{}, ErrNotFound
	}
	if !IsCoordinator(v) && v.UserID != id && v.UserID != doc.SupervisorID && v.UserID != doc.ExaminerID {
		return StudentOverview{}, ErrNotFound
	}
	out := StudentOverview{StudentDoc: doc, Projects: []projections.ProjectDoc{}}
	for _, pid := range doc.ProjectIDs {
		var p projections.ProjectDoc
		ok, err := q.Reader.Get(ctx, projections.CollProjects, pid, &p)
		if err != nil {
			return StudentOverview{}, err
		}
		if ok && p.Status != "withdrawn" {
			out.Projects = append(out.Projects, p)
		}
	}
	return out, nil
}

// MaxStudents bounds a cohort read whole (for an allocation run).
const MaxStudents = 20000

// All returns every active student's overview document (no projects).
func (q Students) All(ctx context.Context) ([]projections.StudentDoc, error) {
	var out []projections.StudentDoc
	err := q.Reader.Find(ctx, projections.CollStudents, Filter{Equal: map[string]string{}, Limit: MaxStudents, ActiveOnly: true}, &out)
	return out, err
}
