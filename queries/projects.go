package queries

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
)

// Projects answers questions about projects.
type Projects struct {
	Reader  Reader
	Streams Streams
}

// ProjectFilter selects projects for a list.
type ProjectFilter struct {
	Status       string
	SupervisorID string
	StudentID    string
	Query        string
	Cursor       string
	Limit        int
}

// PastState selects a past state: as of a time, or at a version (one of them).
type PastState struct {
	AsOf      time.Time
	AtVersion int64
}

// projectFacts is what the visibility rule knows of a project.
func projectFacts(d projections.ProjectDoc) visibility.Project {
	return visibility.Project{OwnerID: d.OwnerID, SupervisorID: d.SupervisorID, ExaminerID: d.ExaminerID, Status: d.Status}
}

// visible reports whether the viewer may see the project.
func visible(v Viewer, d projections.ProjectDoc) bool {
	return visibility.SeesProject(v, projectFacts(d))
}

// relationFields are the read-model fields that name a project's people.
var relationFields = map[visibility.Relation]string{
	visibility.Owner: "owner_id", visibility.Supervisor: "supervisor_id", visibility.Examiner: "examiner_id",
}

// visibleFilter is the visibility rule as a store filter: one alternative
// per grant (nil when the viewer sees every project).
func visibleFilter(v Viewer) []Match {
	all, grants := visibility.ProjectGrants(v)
	if all {
		return nil
	}
	out := []Match{}
	for _, g := range grants {
		m := Match{Equal: map[string]string{relationFields[g.Relation]: v.UserID}}
		if len(g.Except) > 0 {
			m.NotIn = map[string][]string{"status": g.Except}
		}
		out = append(out, m)
	}
	return out
}

// Project is a project as one viewer may see it: Shown is its marking cut
// down by the rule (with its state as they may know it), nil when they may
// see none of it. The document's own, whole record is left empty, so that
// nothing the viewer may not see can be shown by mistake.
type Project struct {
	projections.ProjectDoc
	Shown *marking.Shown
}

// seen cuts a project document (as it is now, or as it was) for the
// viewer, by what the project now is to them. An accepted project is being
// marked even before the first mark (to-mark); a project never accepted
// has no marking to show.
func seen(v Viewer, d, now projections.ProjectDoc) Project {
	out := Project{ProjectDoc: d}
	out.ProjectDoc.Marking = marking.Record{}
	if d.Status != events.StatusAccepted && d.Marking.Empty() {
		return out
	}
	if shown, ok := d.Marking.For(visibility.SeesMarks(v, projectFacts(now), now.Marking.Facts())); ok {
		out.Shown = &shown
	}
	return out
}

// Get returns a project the viewer may see. With minVersion > 0 it shows at
// least that version (the caller's own write), folding from the event store
// what the read model lacks.
func (q Projects) Get(ctx context.Context, v Viewer, id string, minVersion int64) (Project, error) {
	var doc projections.ProjectDoc
	found, err := q.Reader.Get(ctx, projections.CollProjects, id, &doc)
	if err != nil {
		return Project{}, err
	}
	doc, found, err = upTo(ctx, q.Streams, id, doc, found, doc.Version, minVersion, projections.FoldProject)
	if ahead := (*VersionNotFoundError)(nil); err != nil && !errors.As(err, &ahead) {
		return Project{}, err
	}
	// Who may see it comes first: a missing version says nothing to others.
	if !found || doc.Status == events.StatusWithdrawn || !visible(v, doc) {
		return Project{}, ErrNotFound
	}
	return seen(v, doc, doc), err
}

// Past rebuilds the project as it was at a time or version by folding its
// stream. Who may see it, and which of its marks, is decided by the
// project as it is now.
func (q Projects) Past(ctx context.Context, v Viewer, id string, at PastState) (Project, error) {
	evs, now, err := q.stream(ctx, v, id)
	if err != nil {
		return Project{}, err
	}
	if latest := evs[len(evs)-1].Version; at.AtVersion > latest {
		return Project{}, &VersionNotFoundError{Want: at.AtVersion, Latest: latest}
	}
	var doc projections.ProjectDoc
	exists := false
	for _, e := range marking.Known(visibility.SeesMarks(v, projectFacts(now), now.Marking.Facts()), evs) {
		if (at.AtVersion > 0 && e.Version > at.AtVersion) || (!at.AsOf.IsZero() && e.RecordedAt.After(at.AsOf)) {
			break
		}
		doc, exists = projections.FoldProject(doc, e)
	}
	if !exists {
		return Project{}, &NotYetExistingError{AsOf: at.AsOf, CreatedAt: evs[0].RecordedAt}
	}
	return seen(v, doc, now), nil
}

// NotYetExistingError answers a time before a project existed: it is not
// that there is nothing there (the caller may see it now), but that there
// was nothing yet.
type NotYetExistingError struct {
	AsOf, CreatedAt time.Time
}

func (e *NotYetExistingError) Error() string {
	return fmt.Sprintf("it did not exist yet at %s: it was created at %s",
		e.AsOf.UTC().Format(time.RFC3339Nano), e.CreatedAt.UTC().Format(time.RFC3339Nano))
}

// List returns a page of the projects the viewer may see.
func (q Projects) List(ctx context.Context, v Viewer, f ProjectFilter) (Page[Project], error) {
	docs, err := q.list(ctx, v, f)
	if err != nil {
		return Page[Project]{}, err
	}
	return seenPage(v, docs), nil
}

func seenPage(v Viewer, docs Page[projections.ProjectDoc]) Page[Project] {
	out := Page[Project]{Items: make([]Project, len(docs.Items)), NextCursor: docs.NextCursor}
	for i, d := range docs.Items {
		out.Items[i] = seen(v, d, d)
	}
	return out
}

func (q Projects) list(ctx context.Context, v Viewer, f ProjectFilter) (Page[projections.ProjectDoc], error) {
	filter := Filter{Equal: map[string]string{}, NotEqual: map[string]string{"status": events.StatusWithdrawn},
		After: f.Cursor, Limit: f.Limit, Search: []string{"title", "description"}, Term: f.Query}
	for field, val := range map[string]string{"status": f.Status, "supervisor_id": f.SupervisorID, "owner_id": f.StudentID} {
		if val != "" {
			filter.Equal[field] = val
		}
	}
	filter.AnyOf = visibleFilter(v)
	if visibility.OwnOnly(v) && (f.StudentID == "" || f.StudentID == v.UserID) {
		if p, ok, err := q.ownList(ctx, v.UserID, f, filter.Limit); ok || err != nil {
			return p, err
		}
	}
	return page(ctx, q.Reader, projections.CollProjects, filter, func(d projections.ProjectDoc) string { return d.ID })
}

// ownList serves a student's own projects from their overview document: a
// few lookups by _id instead of a scan of every project (the embedded store
// serves only _id lookups from an index). ok is false when the student has
// no overview yet, or when the page goes past the projects the overview
// lists (projections.ListedProjects), and the caller falls back to the scan.
func (q Projects) ownList(ctx context.Context, studentID string, f ProjectFilter, limit int) (Page[projections.ProjectDoc], bool, error) {
	var st projections.StudentDoc
	found, err := q.Reader.Get(ctx, projections.CollStudents, studentID, &st)
	if err != nil || !found {
		return Page[projections.ProjectDoc]{}, false, err
	}
	limit = clampLimit(limit)
	out := Page[projections.ProjectDoc]{Items: []projections.ProjectDoc{}}
	term := strings.ToLower(f.Query)
	ids := st.ProjectIDs // sorted, as the scan's _id order
	for len(ids) > 0 && ids[0] <= f.Cursor {
		ids = ids[1:]
	}
	// Fetch as many as could still fit (and one more, to know whether
	// there is a next page), those of a round at once.
	for len(ids) > 0 {
		n := min(len(ids), limit+1-len(out.Items))
		docs, found, err := q.getAll(ctx, ids[:n])
		if err != nil {
			return Page[projections.ProjectDoc]{}, true, err
		}
		ids = ids[n:]
		for i, d := range docs {
			if !found[i] || d.Status == events.StatusWithdrawn || (f.Status != "" && d.Status != f.Status) ||
				(f.SupervisorID != "" && d.SupervisorID != f.SupervisorID) ||
				(term != "" && !strings.Contains(strings.ToLower(d.Title+"\n"+d.Description), term)) {
				continue
			}
			if len(out.Items) == limit {
				out.NextCursor = out.Items[limit-1].ID
				return out, true, nil
			}
			out.Items = append(out.Items, d)
		}
	}
	if st.MoreProjects {
		return Page[projections.ProjectDoc]{}, false, nil // the page goes on past the listed ids
	}
	return out, true, nil
}

// getAll reads projects by _id, up to getAllParallel at a time.
func (q Projects) getAll(ctx context.Context, ids []string) ([]projections.ProjectDoc, []bool, error) {
	docs, found := make([]projections.ProjectDoc, len(ids)), make([]bool, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(getAllParallel)
	for i, id := range ids {
		g.Go(func() error {
			var err error
			found[i], err = q.Reader.Get(ctx, projections.CollProjects, id, &docs[i])
			return err
		})
	}
	return docs, found, g.Wait()
}

// getAllParallel bounds one list's concurrent lookups.
const getAllParallel = 8

// History returns the events of a project the viewer may see, including a
// withdrawn one (its history stays). Who may see it is decided by the
// project folded from its own stream, so the answer does not wait for the
// read model. Its marking events are shown as its marks are: a marker does
// not see the other marker's mark before both are in, a student sees only
// what was released to them.
func (q Projects) History(ctx context.Context, v Viewer, id string) ([]events.Envelope, error) {
	evs, now, err := q.stream(ctx, v, id)
	if err != nil {
		return nil, err
	}
	view := visibility.SeesMarks(v, projectFacts(now), now.Marking.Facts())
	shown := make([]events.Envelope, 0, len(evs))
	for _, e := range marking.Known(view, evs) {
		if marking.Shows(view, e.Data) {
			shown = append(shown, e)
		}
	}
	return shown, nil
}

// stream reads a project's whole stream for a viewer who may see the
// project, with the project as it is now.
func (q Projects) stream(ctx context.Context, v Viewer, id string) ([]events.Envelope, projections.ProjectDoc, error) {
	evs, err := history(ctx, q.Streams, events.StreamProject, id)
	if err != nil {
		return nil, projections.ProjectDoc{}, err
	}
	var doc projections.ProjectDoc
	for _, e := range evs {
		doc, _ = projections.FoldProject(doc, e)
	}
	if !visible(v, doc) {
		return nil, projections.ProjectDoc{}, ErrNotFound
	}
	return evs, doc, nil
}
