package queries

import (
	"context"
	"sort"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
)

// Marking answers questions about the cohort's marking.
type Marking struct{ Reader Reader }

// StudentUnit is one student's marking unit with the student.
type StudentUnit struct {
	Student projections.StudentDoc
	Unit
}

// Units lists the marking unit of every student who has one (placed, or
// graded before), by student e-mail, to a viewer who sees every record: the
// one list the coordinator's overview and the exports are read from, so they
// cannot disagree.
func (q Marking) Units(ctx context.Context, v Viewer) ([]StudentUnit, error) {
	if !visibility.SeesAll(v) {
		return nil, ErrForbidden
	}
	students, err := Students{Reader: q.Reader}.All(ctx)
	if err != nil {
		return nil, err
	}
	var out []StudentUnit
	for _, s := range students {
		var accepted *projections.ProjectDoc
		if s.ProjectID != "" {
			var p projections.ProjectDoc
			found, err := q.Reader.Get(ctx, projections.CollProjects, s.ProjectID, &p)
			if err != nil {
				return nil, err
			}
			if found && p.Status == events.StatusAccepted {
				accepted = &p
			}
		}
		u := unitOf(s, accepted)
		if u.Project == nil && u.Record.Empty() && s.SupervisorID == "" {
			continue
		}
		out = append(out, StudentUnit{Student: s, Unit: u})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Student.Email < out[j].Student.Email })
	return out, nil
}

// Overview is the coordinator's view of the cohort's marking.
type Overview struct {
	Threshold int
	// Counts is how many students' marks are in each state (marking.States
	// but Waiting, which only markers are told).
	Counts map[string]int
	// Moderation lists the projects waiting for the coordinator.
	Moderation []StudentUnit
	// Outstanding lists, per marker, the projects whose mark they owe.
	Outstanding []Outstanding
	// NoExaminer lists the accepted projects no second examiner marks yet.
	NoExaminer []StudentUnit
}

// Outstanding is one marker's marks still to come.
type Outstanding struct {
	MarkerID   string
	Marker     string // events.MarkerSupervisor or MarkerExaminer
	ProjectIDs []string
}

// Overview counts the cohort's marking by state, and lists what waits for
// the coordinator (moderation) and for the markers.
func (q Marking) Overview(ctx context.Context, v Viewer) (Overview, error) {
	units, err := q.Units(ctx, v)
	if err != nil {
		return Overview{}, err
	}
	threshold, err := q.Threshold(ctx)
	if err != nil {
		return Overview{}, err
	}
	out := Overview{Threshold: threshold, Counts: map[string]int{}, Moderation: []StudentUnit{}, Outstanding: []Outstanding{}, NoExaminer: []StudentUnit{}}
	for _, s := range marking.States {
		if s != marking.Waiting {
			out.Counts[s] = 0
		}
	}
	owed := map[[2]string][]string{}
	for _, u := range units {
		state := u.Record.State()
		out.Counts[state]++
		if u.Project == nil {
			continue // the coordinator's own to set
		}
		if state == marking.Moderation {
			out.Moderation = append(out.Moderation, u)
		}
		if u.Project.ExaminerID == "" {
			out.NoExaminer = append(out.NoExaminer, u)
		}
		if state != marking.ToMark && state != marking.Submitted {
			continue
		}
		for _, m := range []struct{ role, id string }{
			{events.MarkerSupervisor, u.Project.SupervisorID}, {events.MarkerExaminer, u.Project.ExaminerID}} {
			if m.id != "" && u.Record.Of(m.role) == nil {
				k := [2]string{m.id, m.role}
				owed[k] = append(owed[k], u.Project.ID)
			}
		}
	}
	for k, ids := range owed {
		sort.Strings(ids)
		out.Outstanding = append(out.Outstanding, Outstanding{MarkerID: k[0], Marker: k[1], ProjectIDs: ids})
	}
	sort.Slice(out.Outstanding, func(i, j int) bool {
		a, b := out.Outstanding[i], out.Outstanding[j]
		return a.MarkerID < b.MarkerID || a.MarkerID == b.MarkerID && a.Marker < b.Marker
	})
	return out, nil
}

// Marked is one project a marker marks, as they may see it.
type Marked struct {
	Project
	// Marker is how the viewer marks it (events.MarkerSupervisor or MarkerExaminer).
	Marker string
}

// Mine returns a page of the accepted projects the viewer marks (as their
// supervisor or their second examiner), each cut as the rule says.
func (q Marking) Mine(ctx context.Context, v Viewer, cursor string, limit int) (Page[Marked], error) {
	grants := visibility.MarkerGrants(v)
	if len(grants) == 0 {
		return Page[Marked]{}, ErrForbidden
	}
	filter := Filter{Equal: map[string]string{"status": events.StatusAccepted}, After: cursor, Limit: limit}
	for _, g := range grants {
		filter.AnyOf = append(filter.AnyOf, Match{Equal: map[string]string{relationFields[g]: v.UserID}})
	}
	docs, err := page(ctx, q.Reader, projections.CollProjects, filter, func(d projections.ProjectDoc) string { return d.ID })
	if err != nil {
		return Page[Marked]{}, err
	}
	out := Page[Marked]{Items: make([]Marked, 0, len(docs.Items)), NextCursor: docs.NextCursor}
	for _, d := range docs.Items {
		out.Items = append(out.Items, Marked{Project: seen(v, d, d), Marker: string(visibility.MarkerOf(v, projectFacts(d)))})
	}
	return out, nil
}

// Threshold is the cohort's marking threshold (the default until one is set).
func (q Marking) Threshold(ctx context.Context) (int, error) {
	var doc projections.CohortDoc
	found, err := q.Reader.Get(ctx, projections.CollCohort, events.CohortStreamID, &doc)
	if err != nil || !found {
		return events.DefaultMarkingThreshold, err
	}
	return doc.MarkingThreshold, nil
}
