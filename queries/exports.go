package queries

import (
	"context"
	"sort"

	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
)

// Person identifies someone in an export the way the original system did.
type Person struct{ Code, Email, Name string }

// AssignmentRow is a student and their supervisor.
type AssignmentRow struct{ Student, Supervisor Person }

// GradeRow is a student's final grade.
type GradeRow struct {
	Student  Person
	Grade    int
	Feedback string
}

// Exports reads what the coordinator downloads, in the import formats.
// They hold the whole cohort, so only a viewer who sees every record gets
// them.
type Exports struct{ Reader Reader }

// Assignments lists every student with a supervisor, by student e-mail.
func (q Exports) Assignments(ctx context.Context, v Viewer) ([]AssignmentRow, error) {
	if !visibility.SeesAll(v) {
		return nil, ErrForbidden
	}
	students, err := Students{Reader: q.Reader}.All(ctx)
	if err != nil {
		return nil, err
	}
	people := map[string]Person{}
	var out []AssignmentRow
	for _, s := range students {
		if s.SupervisorID == "" {
			continue
		}
		sup, err := q.person(ctx, people, s.SupervisorID)
		if err != nil {
			return nil, err
		}
		out = append(out, AssignmentRow{Student: Person{Code: s.Profile.Code, Email: s.Email, Name: s.Name}, Supervisor: sup})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Student.Email < out[j].Student.Email })
	return out, nil
}

// Grades lists every graded student, by e-mail.
func (q Exports) Grades(ctx context.Context, v Viewer) ([]GradeRow, error) {
	if !visibility.SeesAll(v) {
		return nil, ErrForbidden
	}
	students, err := Students{Reader: q.Reader}.All(ctx)
	if err != nil {
		return nil, err
	}
	var out []GradeRow
	for _, s := range students {
		if s.Graded {
			out = append(out, GradeRow{Student: Person{Code: s.Profile.Code, Email: s.Email, Name: s.Name}, Grade: s.Grade, Feedback: s.Feedback})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Student.Email < out[j].Student.Email })
	return out, nil
}

func (q Exports) person(ctx context.Context, cache map[string]Person, id string) (Person, error) {
	if p, ok := cache[id]; ok {
		return p, nil
	}
	var u projections.UserDoc
	if _, err := q.Reader.Get(ctx, projections.CollUsers, id, &u); err != nil {
		return Person{}, err
	}
	p := Person{Code: u.Profile.Code, Email: u.Email, Name: u.Name}
	cache[id] = p
	return p, nil
}
