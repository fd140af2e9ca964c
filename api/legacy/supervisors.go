package legacy

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// supervisor is a supervisor as the original's pages read one: areas as
// one string, slots (the capacity), one entry in students per place taken
// (only their number is read), and the project ideas as projects.
type supervisor struct {
	ID         string        `json:"id,omitempty"` // the Supervisor Code, on the supervisor's own overview
	Email      string        `json:"email"`
	Name       string        `json:"name"`
	Position   string        `json:"position"`
	Department string        `json:"department"`
	Areas      string        `json:"areas"`
	Info       string        `json:"info"`
	Slots      int           `json:"slots"`
	Available  int           `json:"slots_available"`
	Students   []any         `json:"students"`
	Projects   []events.Idea `json:"projects"`
}

// areasSeparator joins a supervisor's areas into the original's one string.
const areasSeparator = ", "

// fromDoc is a supervisor of the directory. Who took the places is not
// the directory's to say, so each taken place is an empty entry.
func fromDoc(d projections.SupervisorDoc) supervisor {
	out := supervisor{Email: d.Email, Name: d.Name, Position: d.Position, Department: d.Department,
		Areas: strings.Join(d.Areas, areasSeparator), Info: d.Info, Slots: d.Capacity, Available: d.Remaining,
		Students: make([]any, d.Allocated), Projects: d.Ideas}
	for i := range out.Students {
		out.Students[i] = struct{}{}
	}
	if out.Projects == nil {
		out.Projects = []events.Idea{}
	}
	return out
}

// allSupervisors (C09) is the supervisors directory, whole.
func (s *Server) allSupervisors(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	docs, err := whole(r.Context(), func(cursor string) (queries.Page[projections.SupervisorDoc], error) {
		return s.API.SupervisorQ.List(r.Context(), cursor, queries.MaxLimit)
	})
	if err != nil {
		return err
	}
	out := make([]supervisor, len(docs))
	for i, d := range docs {
		out[i] = fromDoc(d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var errNoSupervisor = &api.Problem{Status: http.StatusBadRequest, Code: "not-a-supervisor", Detail: "Supervisor not found"}

// supervisorByEmail (C14) is one supervisor of the directory, by e-mail
// (indexed: /v1's GET /v1/supervisors?email=).
func (s *Server) supervisorByEmail(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	d, err := s.API.SupervisorQ.ByEmail(r.Context(), user.NormalizeEmail(mux.Vars(r)["supervisor_email"]))
	if err != nil {
		return notFoundAs(err, errNoSupervisor)
	}
	writeJSON(w, http.StatusOK, fromDoc(d))
	return nil
}

// supervisorOverview (C17, C19) is the caller's own entry of the
// directory, with their code and, since they may see them, who took their
// places.
func (s *Server) supervisorOverview(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	out, err := s.ownSupervisor(r, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) ownSupervisor(r *http.Request, a events.Actor) (supervisor, error) {
	notFound := &api.Problem{Status: http.StatusNotFound, Code: "not-found", Detail: "no supervisor record for this user"}
	d, err := s.API.SupervisorQ.Get(r.Context(), a.UserID)
	if err != nil {
		return supervisor{}, notFoundAs(err, notFound)
	}
	me, err := s.API.UserQ.Get(r.Context(), a, a.UserID, 0)
	if err != nil {
		return supervisor{}, notFoundAs(err, notFound)
	}
	students, err := s.placed(r, a)
	if err != nil {
		return supervisor{}, err
	}
	out := fromDoc(d)
	out.ID, out.Students = me.Profile.Code, make([]any, len(students))
	for i, st := range students {
		out.Students[i] = person{Name: st.Name, Email: st.Email}
	}
	return out, nil
}

// placed is every student placed with the caller, as /v1's
// GET /v1/supervisors/{id}/supervisees answers them; none while the
// caller has no supervisor record (as the original answered).
func (s *Server) placed(r *http.Request, a events.Actor) ([]queries.StudentOverview, error) {
	students, err := whole(r.Context(), func(cursor string) (queries.Page[queries.StudentOverview], error) {
		return s.API.StudentQ.Supervisees(r.Context(), a, a.UserID, cursor, queries.MaxLimit)
	})
	if errors.Is(err, queries.ErrNotFound) {
		return nil, nil
	}
	return students, err
}

// supervisorInfo is what the supervisor's overview form sends, always
// whole (nil: a field the body did not give).
type supervisorInfo struct {
	Areas    *string        `json:"areas"`
	Info     *string        `json:"info"`
	Projects *[]events.Idea `json:"projects"`
}

// putSupervisorInfo (C18) is /v1's profile edit, which replaces the whole
// profile: the areas string is cut at commas into areas, and a project row
// of the form left blank (the form always holds one) is no project. A body
// without one of the three fields is refused, not taken to clear it.
func (s *Server) putSupervisorInfo(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req supervisorInfo
	if err := api.DecodeLenientJSON(w, r, &req); err != nil {
		return err
	}
	if err := required(field{"areas", req.Areas != nil}, field{"info", req.Info != nil}, field{"projects", req.Projects != nil}); err != nil {
		return err
	}
	ideas := slices.DeleteFunc(slices.Clone(*req.Projects), func(i events.Idea) bool {
		return strings.TrimSpace(i.Title) == "" && strings.TrimSpace(i.Description) == ""
	})
	profile := cohort.ReplaceProfile(strings.Split(*req.Areas, ","), *req.Info, ideas)
	if _, err := s.API.Cohort.UpdateProfile(r.Context(), api.Meta(r, a), a.UserID, commands.AnyVersion, profile, nil); err != nil {
		return err
	}
	s.API.AwaitWrites(r)
	return s.supervisorOverview(w, r, a)
}

// supervisee is a student placed with the caller, with the project the
// caller may see.
type supervisee struct {
	ID      string      `json:"id"` // the Student Code
	Name    string      `json:"name"`
	Email   string      `json:"email"`
	Project projectText `json:"project"`
}

var errNoSupervisees = &api.Problem{Status: http.StatusBadRequest, Code: "no-supervisees", Detail: "No supervisees found"}

// supervisees (C22) are the students placed with the caller, each with the
// project the placement rests on, or else their latest project the caller
// may see (a draft is its student's own). None is 400, as the original
// answered and the page expects.
func (s *Server) supervisees(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	students, err := s.placed(r, a)
	if err != nil {
		return err
	}
	if len(students) == 0 {
		return errNoSupervisees
	}
	out := make([]supervisee, len(students))
	for i, o := range students {
		out[i] = supervisee{ID: o.Profile.Code, Name: o.Name, Email: o.Email, Project: workedOn(o)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// workedOn is the project a placed student works on, as the viewer of the
// overview may see it: the one the placement rests on, or else their latest.
func workedOn(o queries.StudentOverview) projectText {
	var latest *queries.Project
	for i, p := range o.Projects {
		if p.ID == o.ProjectID {
			return textOf(p)
		}
		if latest == nil || p.CreatedAt.After(latest.CreatedAt) {
			latest = &o.Projects[i]
		}
	}
	if latest == nil {
		return projectText{}
	}
	return textOf(*latest)
}

// textOf is a project's title and description; a proposal made on the
// original's page has an aim and no description, and its aim stands for it.
func textOf(p queries.Project) projectText {
	description := p.Description
	if description == "" {
		description = p.Aim
	}
	return projectText{Title: p.Title, Description: description}
}
