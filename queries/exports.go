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
	Label    string // a grade given in words, standing for Grade
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

// Grades lists every student with an agreed mark, by e-mail: the final
// grades, released or not (the export is the coordinator's), with the
// feedback that goes with each (marking.Record.FinalFeedback).
func (q Exports) Grades(ctx context.Context, v Viewer) ([]GradeRow, error) {
	units, err := Marking{Reader: q.Reader}.Units(ctx, v)
	if err != nil {
		return nil, err
	}
	var out []GradeRow
	for _, u := range units {
		if a := u.Record.Agreed; a != nil {
			out = append(out, GradeRow{Student: personOf(u.Student), Grade: a.Mark, Label: a.Label, Feedback: u.Record.FinalFeedback()})
		}
	}
	return out, nil
}

// MarkRow is one student's marking, whole.
type MarkRow struct {
	Student              Person
	ProjectID, Title     string // empty for a mark on the student's record
	State                string
	Supervisor, Examiner Person
	SupervisorMark       *int
	SupervisorFeedback   string
	ExaminerMark         *int
	ExaminerFeedback     string
	AgreedMark           *int
	AgreedBy             string // events.AgreedByMarkers, ...
	ModerationComment    string
	Feedback             string // the coordinator's, for a mark they set
	ReleasedMark         *int   // what the student sees (nil before a release)
	// AgreedLabel and ReleasedLabel are a grade the coordinator gave in
	// words, which stands for the mark.
	AgreedLabel, ReleasedLabel string
}

// Marks lists every student's marking, by student e-mail: both marks, the
// agreed mark, the state and the feedback.
func (q Exports) Marks(ctx context.Context, v Viewer) ([]MarkRow, error) {
	units, err := Marking{Reader: q.Reader}.Units(ctx, v)
	if err != nil {
		return nil, err
	}
	people := map[string]Person{}
	out := make([]MarkRow, 0, len(units))
	for _, u := range units {
		r := u.Record
		row := MarkRow{Student: personOf(u.Student), State: r.State()}
		if u.Project != nil {
			row.ProjectID, row.Title = u.Project.ID, u.Project.Title
		}
		if row.Supervisor, err = q.person(ctx, people, u.Facts.SupervisorID); err != nil {
			return nil, err
		}
		if row.Examiner, err = q.person(ctx, people, u.Facts.ExaminerID); err != nil {
			return nil, err
		}
		if m := r.Supervisor; m != nil {
			row.SupervisorMark, row.SupervisorFeedback = &m.Mark, m.Feedback
		}
		if m := r.Examiner; m != nil {
			row.ExaminerMark, row.ExaminerFeedback = &m.Mark, m.Feedback
		}
		if a := r.Agreed; a != nil {
			row.AgreedMark, row.AgreedBy, row.ModerationComment, row.Feedback = &a.Mark, a.Via, a.Comment, a.Feedback
			row.AgreedLabel = a.Label
		}
		if rel := r.Released; rel != nil {
			row.ReleasedMark, row.ReleasedLabel = &rel.Mark, rel.Label
		}
		out = append(out, row)
	}
	return out, nil
}

func personOf(s projections.StudentDoc) Person {
	return Person{Code: s.Profile.Code, Email: s.Email, Name: s.Name}
}

func (q Exports) person(ctx context.Context, cache map[string]Person, id string) (Person, error) {
	if id == "" {
		return Person{}, nil
	}
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
