package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

func (s *Server) cohortRoutes(r *mux.Router) {
	coord := events.RoleCoordinator
	// A lookup by e-mail reads the addresses' read model first.
	r.HandleFunc("/v1/supervisors", s.authed(s.reads(s.listSupervisors, projections.CollSupervisors, projections.CollEmails))).Methods(http.MethodGet)
	r.HandleFunc("/v1/supervisors/{id}", s.authed(s.reads(s.getSupervisor, projections.CollSupervisors))).Methods(http.MethodGet)
	r.HandleFunc("/v1/supervisors/{id}/profile", s.authed(s.putSupervisorProfile, events.RoleSupervisor, coord)).Methods(http.MethodPut)
	r.HandleFunc("/v1/students/{id}", s.authed(s.reads(s.getStudent, projections.CollStudents, projections.CollProjects))).Methods(http.MethodGet)
	r.HandleFunc("/v1/students/{id}/preferences", s.authed(s.putPreferences, events.RoleStudent)).Methods(http.MethodPut)
	s.studentRoutes(r)
	r.HandleFunc("/v1/projects/{id}/submit", s.authed(s.submitProject, events.RoleStudent)).Methods(http.MethodPost)
	r.HandleFunc("/v1/projects/{id}/decision", s.authed(s.decideProject, events.RoleSupervisor)).Methods(http.MethodPost)
	r.HandleFunc("/v1/projects/{id}/examiner", s.authed(s.putExaminer, coord)).Methods(http.MethodPut)
}

// supervisorJSON is a supervisor in responses.
type supervisorJSON struct {
	ID           string        `json:"id"`
	Email        string        `json:"email"`
	Name         string        `json:"name"`
	Position     string        `json:"position"`
	Department   string        `json:"department"`
	Areas        []string      `json:"areas"`
	Info         string        `json:"info"`
	ProjectIdeas []events.Idea `json:"project_ideas"`
	Capacity     int           `json:"capacity"`
	Allocated    int           `json:"allocated"`
	Remaining    int           `json:"remaining"`
}

func supervisorFromDoc(d projections.SupervisorDoc) supervisorJSON {
	return supervisorJSON{ID: d.ID, Email: d.Email, Name: d.Name, Position: d.Position, Department: d.Department,
		Areas: nonNil(d.Areas), Info: d.Info, ProjectIdeas: nonNil(d.Ideas), Capacity: d.Capacity, Allocated: d.Allocated, Remaining: d.Remaining}
}

// nonNil answers a list that has no items as [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) listSupervisors(w http.ResponseWriter, r *http.Request, a actor) error {
	limit, cursor, err := listParams(r)
	if err != nil {
		return err
	}
	if email := r.URL.Query().Get("email"); email != "" {
		page, err := s.supervisorByEmail(r, email, cursor)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, supervisorsPage(page))
		return nil
	}
	// The list every student opens is encoded once per change of the read
	// model (pageCache), where the read model can say when it changes.
	version, cacheable := s.SupervisorQ.ListVersion(r.Context())
	query := strconv.Itoa(limit) + "\x00" + cursor
	if cacheable {
		if body, ok := s.supervisorPages.get(version, query); ok {
			writeEncoded(w, http.StatusOK, body)
			return nil
		}
	}
	page, err := s.SupervisorQ.List(r.Context(), cursor, limit)
	if err != nil {
		return err
	}
	body, err := encodeJSON(supervisorsPage(page))
	if err != nil {
		return err
	}
	if cacheable {
		s.supervisorPages.put(version, query, body)
	}
	writeEncoded(w, http.StatusOK, body)
	return nil
}

// supervisorsPage is a page of supervisors as answered.
func supervisorsPage(page queries.Page[projections.SupervisorDoc]) listJSON[supervisorJSON] {
	out := listJSON[supervisorJSON]{Items: make([]supervisorJSON, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, d := range page.Items {
		out.Items[i] = supervisorFromDoc(d)
	}
	return out
}

// supervisorByEmail is the list of the one supervisor holding an address,
// found by _id (nobody, past the cursor: it is a list of one).
func (s *Server) supervisorByEmail(r *http.Request, email, cursor string) (queries.Page[projections.SupervisorDoc], error) {
	none := queries.Page[projections.SupervisorDoc]{Items: []projections.SupervisorDoc{}}
	doc, err := s.SupervisorQ.ByEmail(r.Context(), user.NormalizeEmail(trimmed(email, 254)))
	switch {
	case errors.Is(err, queries.ErrNotFound):
		return none, nil
	case err != nil:
		return none, err
	case doc.ID <= cursor:
		return none, nil
	}
	return queries.Page[projections.SupervisorDoc]{Items: []projections.SupervisorDoc{doc}}, nil
}

func (s *Server) getSupervisor(w http.ResponseWriter, r *http.Request, a actor) error {
	doc, err := s.SupervisorQ.Get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, supervisorFromDoc(doc))
	return nil
}

// profileRequest gives the parts of a profile to set: one left out (or
// null) keeps its value.
type profileRequest struct {
	Areas        *[]string      `json:"areas"`
	Info         *string        `json:"info"`
	ProjectIdeas *[]events.Idea `json:"project_ideas"`
	Capacity     *int           `json:"capacity"`
}

func (s *Server) putSupervisorProfile(w http.ResponseWriter, r *http.Request, a actor) error {
	id := mux.Vars(r)["id"]
	if id != a.UserID && !queries.IsCoordinator(a) {
		return commands.ErrForbidden
	}
	var req profileRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.UpdateProfile(r.Context(), meta(r, a), id, expect, cohort.UpdateProfile{Areas: req.Areas, Info: req.Info, Ideas: req.ProjectIdeas}, req.Capacity)
	if err != nil {
		return err
	}
	// version and the ETag are the profile's; the capacity is the cohort's,
	// answered as set.
	setETag(w, res.Version)
	out := map[string]any{"id": id, "version": res.Version, "areas": nonNil(res.State.Areas),
		"info": res.State.Info, "project_ideas": nonNil(res.State.Ideas)}
	if req.Capacity != nil {
		out["capacity"] = *req.Capacity
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// studentJSON is a student's overview; what the caller may not see is left
// out (docs/visibility.md).
type studentJSON struct {
	ID           string         `json:"id"`
	Email        string         `json:"email"`
	Name         string         `json:"name"`
	Profile      events.Profile `json:"profile"`
	Preferences  *[]string      `json:"preferences,omitempty"`
	SupervisorID string         `json:"supervisor_id,omitempty"`
	AssignedVia  string         `json:"assigned_via,omitempty"`
	ExaminerID   string         `json:"examiner_id,omitempty"`
	// Supervisor and Examiner are the people the placement names.
	Supervisor *contactJSON  `json:"supervisor,omitempty"`
	Examiner   *contactJSON  `json:"examiner,omitempty"`
	Project    *projectJSON  `json:"project,omitempty"`
	Projects   []projectJSON `json:"projects"`
	// Grade and Feedback are the mark released to the student and the
	// feedback released with it; Marking is the marking as the caller may
	// see it (docs/visibility.md, Marks).
	Grade *int `json:"grade,omitempty"`
	// GradeLabel is the released grade when the coordinator gave it in
	// words (A, Pass): it stands for the mark, and grade is left out.
	GradeLabel string       `json:"grade_label,omitempty"`
	Feedback   string       `json:"feedback,omitempty"`
	Marking    *markingJSON `json:"marking,omitempty"`
}

func (s *Server) getStudent(w http.ResponseWriter, r *http.Request, a actor) error {
	o, err := s.StudentQ.Get(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	out, err := s.studentOut(r.Context(), o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type preferencesRequest struct {
	SupervisorIDs []string `json:"supervisor_ids"`
}

func (s *Server) putPreferences(w http.ResponseWriter, r *http.Request, a actor) error {
	id := mux.Vars(r)["id"]
	if id != a.UserID {
		return commands.ErrForbidden
	}
	var req preferencesRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.SetPreferences(r.Context(), meta(r, a), id, expect, req.SupervisorIDs)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "version": res.Version, "supervisor_ids": res.State.Preferences})
	return nil
}

type submitRequest struct {
	SupervisorID string `json:"supervisor_id"`
}

func (s *Server) submitProject(w http.ResponseWriter, r *http.Request, a actor) error {
	var req submitRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.Submit(r.Context(), meta(r, a), mux.Vars(r)["id"], expect, req.SupervisorID)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, projectFromState(a, res.State, res.Version))
	return nil
}

type decisionRequest struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
}

func (s *Server) decideProject(w http.ResponseWriter, r *http.Request, a actor) error {
	var req decisionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Decision != "accept" && req.Decision != "reject" {
		return commands.Invalid(commands.FieldError{Field: "decision", Message: `must be "accept" or "reject"`})
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.Decide(r.Context(), meta(r, a), mux.Vars(r)["id"], expect, req.Decision == "accept", req.Comment)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, projectFromState(a, res.State, res.Version))
	return nil
}

type examinerRequest struct {
	ExaminerID string `json:"examiner_id"`
}

func (s *Server) putExaminer(w http.ResponseWriter, r *http.Request, a actor) error {
	var req examinerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	student, err := s.Cohort.AssignProjectExaminer(r.Context(), meta(r, a), id, req.ExaminerID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "student_id": student, "examiner_id": req.ExaminerID})
	return nil
}
