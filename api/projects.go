package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

func (s *Server) projectRoutes(r *mux.Router) {
	r.HandleFunc("/v1/projects", s.authed(s.idempotent(s.createProject), events.RoleStudent)).Methods(http.MethodPost)
	r.HandleFunc("/v1/projects", s.authed(s.reads(s.listProjects, projections.CollProjects, projections.CollStudents))).Methods(http.MethodGet)
	r.HandleFunc("/v1/projects/{id}", s.authed(s.reads(s.getProject, projections.CollProjects))).Methods(http.MethodGet)
	r.HandleFunc("/v1/projects/{id}", s.authed(s.editProject)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/projects/{id}", s.authed(s.withdrawProject)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/projects/{id}/history", s.authed(s.reads(s.projectHistory, readsFromStore))).Methods(http.MethodGet)
}

// projectJSON is a project in responses.
type projectJSON struct {
	ID           string `json:"id"`
	StudentID    string `json:"student_id"`
	Title        string `json:"title"`
	Description  string `json:"description"`
	Aim          string `json:"aim"`
	Rationale    string `json:"rationale"`
	Status       string `json:"status"`
	SupervisorID string `json:"supervisor_id,omitempty"`
	ExaminerID   string `json:"examiner_id,omitempty"`
	// Comment is the supervisor's comment on their decision, shown with
	// the project (docs/visibility.md).
	Comment   string     `json:"comment,omitempty"`
	Version   int64      `json:"version"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// Marking is what the caller may see of an accepted project's marking.
	Marking *markingJSON `json:"marking,omitempty"`
}

// projectFromDoc converts a project already cut for the caller by the queries.
func projectFromDoc(p queries.Project) projectJSON {
	d := p.ProjectDoc
	return projectJSON{ID: d.ID, StudentID: d.OwnerID, Title: d.Title, Description: d.Description, Aim: d.Aim,
		Rationale: d.Rationale, Status: d.Status, SupervisorID: d.SupervisorID, ExaminerID: d.ExaminerID, Comment: d.Comment,
		Version: d.Version, CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt), Marking: toMarkingJSON(p.Shown)}
}

// projectFromState converts a project a command answered, for the caller a.
func projectFromState(a actor, s project.State, version int64) projectJSON {
	return projectJSON{ID: s.ID, StudentID: s.OwnerID, Title: s.Title, Description: s.Description, Aim: s.Aim,
		Rationale: s.Rationale, Status: s.Status, SupervisorID: s.SupervisorID, ExaminerID: s.ExaminerID, Comment: s.Comment,
		Version: version, CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt), Marking: stateMarking(a, s)}
}

type createProjectRequest struct {
	Title        string `json:"title"`
	Description  string `json:"description"`
	Aim          string `json:"aim"`
	Rationale    string `json:"rationale"`
	SupervisorID string `json:"supervisor_id"`
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req createProjectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cmd := project.Create{OwnerID: a.UserID, Fields: project.Fields{Title: req.Title, Description: req.Description, Aim: req.Aim, Rationale: req.Rationale}}
	res, err := s.Cohort.CreateProject(r.Context(), meta(r, a), cmd, req.SupervisorID)
	if err != nil {
		return err
	}
	id := res.State.ID
	markReplayed(w, res.Replayed)
	w.Header().Set("Location", "/v1/projects/"+id)
	setETag(w, res.Version)
	writeJSON(w, http.StatusCreated, projectFromState(a, res.State, res.Version))
	return nil
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	q := r.URL.Query()
	limit, cursor, err := listParams(r)
	if err != nil {
		return err
	}
	page, err := s.ProjectQ.List(r.Context(), a, queries.ProjectFilter{Status: trimmed(q.Get("status"), 40),
		SupervisorID: trimmed(q.Get("supervisor_id"), 64), StudentID: trimmed(q.Get("student_id"), 64),
		Query: trimmed(q.Get("q"), 100), Cursor: cursor, Limit: limit})
	if err != nil {
		return err
	}
	out := listJSON[projectJSON]{Items: make([]projectJSON, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, d := range page.Items {
		out.Items[i] = projectFromDoc(d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getProject serves the current project, or a past state with as_of (a time)
// or at_version (a version), folded from its history.
func (s *Server) getProject(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	id := mux.Vars(r)["id"]
	asOf, err := queryTime(r, "as_of")
	if err != nil {
		return err
	}
	atVersion, err := queryVersion(r, "at_version")
	if err != nil {
		return err
	}
	minVersion, err := queryInt(r, "min_version")
	if err != nil {
		return err
	}
	var doc queries.Project
	switch {
	case !asOf.IsZero() && atVersion > 0:
		return commands.Invalid(commands.FieldError{Field: "as_of", Message: "give as_of or at_version, not both"})
	case !asOf.IsZero() || atVersion > 0:
		doc, err = s.ProjectQ.Past(r.Context(), a, id, queries.PastState{AsOf: asOf, AtVersion: atVersion})
	default:
		doc, err = s.ProjectQ.Get(r.Context(), a, id, minVersion)
	}
	if err != nil {
		return err
	}
	setETag(w, doc.Version)
	writeJSON(w, http.StatusOK, projectFromDoc(doc))
	return nil
}

type editProjectRequest struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Aim         *string `json:"aim"`
	Rationale   *string `json:"rationale"`
}

func (s *Server) editProject(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req editProjectRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	edit := project.Edit{By: a, Title: req.Title, Description: req.Description, Aim: req.Aim, Rationale: req.Rationale}
	res, err := s.Cohort.EditProject(r.Context(), meta(r, a), mux.Vars(r)["id"], expect, edit)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, projectFromState(a, res.State, res.Version))
	return nil
}

func (s *Server) withdrawProject(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.Withdraw(r.Context(), meta(r, a), mux.Vars(r)["id"], expect)
	if err != nil {
		return err
	}
	setETag(w, res.Version) // the new version, for ?min_version= on a later read
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) projectHistory(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	evs, err := s.ProjectQ.History(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	out, err := historyPage(r, evs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
