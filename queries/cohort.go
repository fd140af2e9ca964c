package queries

import (
	"context"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
)

// Supervisors answers questions about supervisors; every user may ask.
type Supervisors struct{ Reader Reader }

// List returns a page of the active supervisors, with capacity, allocated
// and remaining, after the cursor (an id).
func (q Supervisors) List(ctx context.Context, cursor string, limit int) (Page[projections.SupervisorDoc], error) {
	f := Filter{Equal: map[string]string{}, After: cursor, Limit: limit, ActiveOnly: true}
	return page(ctx, q.Reader, projections.CollSupervisors, f, func(d projections.SupervisorDoc) string { return d.ID })
}

// ListVersion is the version of the supervisors list that List serves now,
// when the reader can tell it (ListVersions).
func (q Supervisors) ListVersion(ctx context.Context) (string, bool) {
	if lv, ok := q.Reader.(ListVersions); ok {
		return lv.ListVersion(ctx, projections.CollSupervisors)
	}
	return "", false
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

// StudentOverview is a student's overview with their projects, cut down to
// what the viewer may see: the parts View leaves out are empty.
type StudentOverview struct {
	projections.StudentDoc
	Projects []Project
	View     visibility.StudentView
	// Marking is the student's marking (their accepted project's, or their
	// record's) as the viewer may see it; nil when they may see none of it.
	Marking *marking.Shown
	// Released is what was released to the student, when View.Grade lets
	// the viewer see it.
	Released *marking.Release
}

// Get returns the part of a student's overview the viewer may see, with
// the projects of theirs the viewer may see; to a viewer who may see none
// of it, the student does not exist.
func (q Students) Get(ctx context.Context, v Viewer, id string) (StudentOverview, error) {
	var doc projections.StudentDoc
	found, err := q.Reader.Get(ctx, projections.CollStudents, id, &doc)
	if err != nil {
		return StudentOverview{}, err
	}
	if !found || !doc.Active {
		return StudentOverview{}, ErrNotFound
	}
	projects, err := q.projects(ctx, doc)
	if err != nil {
		return StudentOverview{}, err
	}
	facts := visibility.Student{ID: doc.ID, SupervisorID: doc.SupervisorID, ExaminerID: doc.ExaminerID}
	for _, p := range projects {
		facts.Projects = append(facts.Projects, projectFacts(p))
	}
	out := StudentOverview{StudentDoc: doc, Projects: []Project{}, View: visibility.SeesStudent(v, facts)}
	if !out.View.Record {
		return StudentOverview{}, ErrNotFound
	}
	for _, p := range projects {
		if visible(v, p) {
			out.Projects = append(out.Projects, seen(v, p, p))
		}
	}
	if out.View.Grade {
		out.Marking, out.Released = studentMarking(v, doc, projects)
	}
	if !out.View.Placement {
		out.SupervisorID, out.Via, out.ExaminerID, out.ProjectID = "", "", "", ""
	}
	// The record's own marks reach the caller only through Marking and Released.
	out.Graded, out.Grade, out.Feedback, out.StudentDoc.Marking = false, 0, "", marking.Record{}
	if !out.View.Preferences {
		out.Preferences = nil
	}
	out.ProjectIDs = nil // every project id, visible or not: not for the caller
	return out, nil
}

// Unit is what is marked for a student: their accepted project, or, for
// a student placed without one (or graded before marking existed), their
// record.
type Unit struct {
	Project *projections.ProjectDoc // nil for the record
	Record  marking.Record
	// Facts are the ties the visibility rule asks about: the project's, or
	// for the record the student's placement (their supervisor and examiner
	// stand as its markers).
	Facts visibility.Project
}

// unitOf is a student's marking unit, given their accepted project (nil if
// none). A project that has seen no marking yet leaves a grade recorded on
// the record before marking existed showing, as it did.
func unitOf(doc projections.StudentDoc, accepted *projections.ProjectDoc) Unit {
	record := doc.Marking
	if record.Empty() && doc.Graded {
		record = marking.Legacy(doc.Grade, doc.Feedback) // a document not rebuilt since marking came
	}
	if accepted != nil && marking.OnProject(accepted.Marking, record) {
		return Unit{Project: accepted, Record: accepted.Marking, Facts: projectFacts(*accepted)}
	}
	return Unit{Record: record, Facts: visibility.Project{OwnerID: doc.ID, SupervisorID: doc.SupervisorID,
		ExaminerID: doc.ExaminerID, Status: events.StatusAccepted}}
}

// studentMarking is the student's marking as v may see it, and what was
// released to the student.
func studentMarking(v Viewer, doc projections.StudentDoc, projects []projections.ProjectDoc) (*marking.Shown, *marking.Release) {
	var accepted *projections.ProjectDoc
	for i := range projects {
		if projects[i].ID == doc.ProjectID && projects[i].Status == events.StatusAccepted {
			accepted = &projects[i]
		}
	}
	u := unitOf(doc, accepted)
	if u.Project == nil && u.Record.Empty() && doc.SupervisorID == "" {
		return nil, nil // placed with no one, never graded: nothing is marked
	}
	shown, ok := marking.Show(v, u.Facts, u.Record)
	if !ok {
		return nil, nil
	}
	return &shown, shown.Released
}

// projects reads a student's projects, leaving out the withdrawn ones.
func (q Students) projects(ctx context.Context, doc projections.StudentDoc) ([]projections.ProjectDoc, error) {
	var out []projections.ProjectDoc
	if doc.MoreProjects {
		// More than the document lists: from the projects read model.
		f := Filter{Equal: map[string]string{"owner_id": doc.ID}, NotEqual: map[string]string{"status": events.StatusWithdrawn}}
		err := q.Reader.Find(ctx, projections.CollProjects, f, &out)
		return out, err
	}
	for _, pid := range doc.ProjectIDs {
		var p projections.ProjectDoc
		ok, err := q.Reader.Get(ctx, projections.CollProjects, pid, &p)
		if err != nil {
			return nil, err
		}
		if ok && p.Status != events.StatusWithdrawn {
			out = append(out, p)
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
