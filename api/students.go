package api

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// studentRoutes are a student's project info and a supervisor's students.
func (s *Server) studentRoutes(r *mux.Router) {
	r.HandleFunc("/v1/students/{id}/project-info", s.authed(s.reads(s.getProjectInfo, projections.CollProjects))).Methods(http.MethodGet)
	r.HandleFunc("/v1/students/{id}/project-info", s.authed(s.putProjectInfo, events.RoleStudent)).Methods(http.MethodPut)
	r.HandleFunc("/v1/supervisors/{id}/supervisees", s.authed(s.reads(s.listSupervisees,
		projections.CollStudents, projections.CollProjects, projections.CollSupervisors, projections.CollUsers))).Methods(http.MethodGet)
}

// contactJSON is a person as another's record names them.
type contactJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func contactOut(c *queries.Contact) *contactJSON {
	if c == nil {
		return nil
	}
	return &contactJSON{ID: c.ID, Name: c.Name, Email: c.Email}
}

// studentOut is a student's overview as the caller may see it (the
// queries cut it), with the people its placement names.
func (s *Server) studentOut(ctx context.Context, o queries.StudentOverview) (studentJSON, error) {
	out := studentJSON{ID: o.ID, Email: o.Email, Name: o.Name, Profile: o.Profile,
		SupervisorID: o.SupervisorID, AssignedVia: o.Via, ExaminerID: o.ExaminerID, Projects: []projectJSON{}}
	if o.View.Preferences {
		prefs := append([]string{}, o.Preferences...)
		out.Preferences = &prefs
	}
	for _, p := range o.Projects {
		pj := projectFromDoc(p)
		out.Projects = append(out.Projects, pj)
		if o.View.Placement && (p.ID == o.ProjectID || (out.Project == nil && o.ProjectID == "")) {
			out.Project = &pj
		}
	}
	if rel := o.Released; rel != nil {
		g := rel.Mark
		out.Grade, out.Feedback = &g, rel.Text()
		if rel.Label != "" {
			out.Grade, out.GradeLabel = nil, rel.Label
		}
	}
	out.Marking = toMarkingJSON(o.Marking)
	sup, exam, err := s.StudentQ.Contacts(ctx, o)
	if err != nil {
		return studentJSON{}, err
	}
	out.Supervisor, out.Examiner = contactOut(sup), contactOut(exam)
	return out, nil
}

// listSupervisees lists the students placed with a supervisor, as the
// caller may see them.
func (s *Server) listSupervisees(w http.ResponseWriter, r *http.Request, a actor) error {
	limit, cursor, err := listParams(r)
	if err != nil {
		return err
	}
	page, err := s.StudentQ.Supervisees(r.Context(), a, mux.Vars(r)["id"], cursor, limit)
	if err != nil {
		return err
	}
	out := listJSON[studentJSON]{Items: make([]studentJSON, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, o := range page.Items {
		if out.Items[i], err = s.studentOut(r.Context(), o); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getProjectInfo(w http.ResponseWriter, r *http.Request, a actor) error {
	doc, err := s.ProjectQ.ProjectInfo(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	setETag(w, doc.Version)
	writeJSON(w, http.StatusOK, projectFromDoc(doc))
	return nil
}

type projectInfoRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// putProjectInfo writes the caller's own project info.
func (s *Server) putProjectInfo(w http.ResponseWriter, r *http.Request, a actor) error {
	if mux.Vars(r)["id"] != a.UserID {
		return commands.ErrForbidden
	}
	var req projectInfoRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cohort.SetProjectInfo(r.Context(), meta(r, a), expect, req.Title, req.Description)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, projectFromState(a, res.State, res.Version))
	return nil
}
