package queries

import (
	"context"
	"errors"

	"github.com/capstone-pms/capstone/projections"
)

// Supervisees returns a page of the students placed with a supervisor,
// after the cursor (an id), as the viewer may see them: each overview is
// Get's, and a student whose placement the viewer may not see is left out.
// The supervisor themself and coordinators see every one; anyone else only
// those whose placement is theirs to see (themselves, the students they
// examine). A page holds limit students, or is the last; its cursor is the
// id of the last student it shows, never of one left out (a page of a
// list cut before the viewer's check would have carried the id of a
// student the viewer may not see, on a page with none shown). A supervisor
// the read model has never had is ErrNotFound.
func (q Students) Supervisees(ctx context.Context, v Viewer, supervisorID, cursor string, limit int) (Page[StudentOverview], error) {
	found, err := q.Reader.Get(ctx, projections.CollSupervisors, supervisorID, &struct{}{})
	if err != nil {
		return Page[StudentOverview]{}, err
	}
	if !found {
		return Page[StudentOverview]{}, ErrNotFound
	}
	limit = clampLimit(limit)
	out := Page[StudentOverview]{Items: []StudentOverview{}}
	// The supervisor's students are read MaxLimit at a time, whatever the
	// page's size, so that a viewer who may see few of them costs one read
	// of the store, not one per page.
	f := Filter{Equal: map[string]string{"supervisor_id": supervisorID}, ActiveOnly: true, After: cursor, Limit: MaxLimit}
	for {
		docs, err := page(ctx, q.Reader, projections.CollStudents, f, func(d projections.StudentDoc) string { return d.ID })
		if err != nil {
			return Page[StudentOverview]{}, err
		}
		for _, d := range docs.Items {
			o, err := q.Get(ctx, v, d.ID)
			switch {
			case errors.Is(err, ErrNotFound):
				continue
			case err != nil:
				return Page[StudentOverview]{}, err
			case !o.View.Placement || o.SupervisorID != supervisorID:
				continue
			}
			if len(out.Items) == limit {
				out.NextCursor = out.Items[limit-1].ID
				return out, nil
			}
			out.Items = append(out.Items, o)
		}
		if docs.NextCursor == "" {
			return out, nil
		}
		f.After = docs.NextCursor
	}
}

// Contact is how a person appears in someone else's record.
type Contact struct {
	ID    string
	Name  string
	Email string
}

// Contacts returns who supervises and who examines the student of an
// overview: the name and e-mail of the people its placement names, so they
// are nil when the viewer may not see the placement, or it names nobody.
func (q Students) Contacts(ctx context.Context, o StudentOverview) (supervisor, examiner *Contact, err error) {
	if !o.View.Placement {
		return nil, nil, nil
	}
	if supervisor, err = q.contact(ctx, projections.CollSupervisors, o.SupervisorID); err != nil {
		return nil, nil, err
	}
	examiner, err = q.contact(ctx, projections.CollUsers, o.ExaminerID)
	return supervisor, examiner, err
}

// contact reads who id is from a read model whose documents have a name
// and an e-mail (the supervisors directory, the users); nil for no id.
func (q Students) contact(ctx context.Context, collection, id string) (*Contact, error) {
	if id == "" {
		return nil, nil
	}
	var d struct {
		Name  string `bson:"name"`
		Email string `bson:"email"`
	}
	found, err := q.Reader.Get(ctx, collection, id, &d)
	if err != nil || !found {
		return nil, err
	}
	return &Contact{ID: id, Name: d.Name, Email: d.Email}, nil
}
