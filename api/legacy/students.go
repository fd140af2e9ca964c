package legacy

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// studentItem is a student in the coordinator's user list (C08).
type studentItem struct {
	ID    string `json:"id"` // the Student Code
	Name  string `json:"name"`
	Email string `json:"email"`
}

// allStudents (C08) lists every student, for coordinators: the user list
// of /v1, which is theirs alone (the original let anyone signed in read it).
func (s *Server) allStudents(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	docs, err := whole(r.Context(), func(cursor string) (queries.Page[projections.UserDoc], error) {
		return s.API.UserQ.List(r.Context(), a, queries.UserFilter{Role: events.RoleStudent, Cursor: cursor, Limit: queries.MaxLimit})
	})
	if err != nil {
		return err
	}
	out := make([]studentItem, len(docs))
	for i, d := range docs {
		out[i] = studentItem{ID: d.Profile.Code, Name: d.Name, Email: d.Email}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// person is someone another record names.
type person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// projectText is the title and description of a project.
type projectText struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

// studentOverview is the original's student document as the overview,
// project info and proposal pages read it.
type studentOverview struct {
	ID              string  `json:"id"` // the Student Code
	Name            string  `json:"name"`
	Email           string  `json:"email"`
	Username        string  `json:"username"`
	Programme       string  `json:"programme"`
	Route           string  `json:"route"`
	EnrolmentStatus string  `json:"enrolment_status"`
	StartDate       string  `json:"start_date"`
	Supervisor      *person `json:"supervisor"`
	SecondExaminer  *person `json:"second_examiner"`
	// FinalGrade is free text, as the original kept it; null until released.
	FinalGrade *string `json:"final_grade"`
	Feedback   *string `json:"feedback"`
	// Project is the student's project info (empty strings until written).
	Project projectText `json:"project"`
}

// studentOverview (C10) is the caller's own record: the /v1 overview, the
// people its placement names, the grade once released and the project info.
func (s *Server) studentOverview(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	o, err := s.API.StudentQ.Get(r.Context(), a, a.UserID)
	if err != nil {
		return notFoundAs(err, &api.Problem{Status: http.StatusNotFound, Code: "not-found", Detail: "no student record for this user"})
	}
	sup, exam, err := s.API.StudentQ.Contacts(r.Context(), o)
	if err != nil {
		return err
	}
	out := studentOverview{ID: o.Profile.Code, Name: o.Name, Email: o.Email, Username: o.Profile.Username,
		Programme: o.Profile.Programme, Route: o.Profile.Route, EnrolmentStatus: o.Profile.EnrolmentStatus,
		StartDate: o.Profile.StartDate, Supervisor: contact(sup), SecondExaminer: contact(exam)}
	if rel := o.Released; rel != nil {
		grade, feedback := rel.Grade(), rel.Text()
		out.FinalGrade, out.Feedback = &grade, &feedback
	}
	info, err := s.API.ProjectQ.ProjectInfo(r.Context(), a, a.UserID)
	switch {
	case err == nil:
		out.Project = projectText{Title: info.Title, Description: info.Description}
	case !errors.Is(err, queries.ErrNotFound):
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func contact(c *queries.Contact) *person {
	if c == nil {
		return nil
	}
	return &person{Name: c.Name, Email: c.Email}
}

// projectInfo is what the project info form sends, always whole (nil: a
// field the body did not give).
type projectInfo struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

// putProjectInfo (C11) writes the caller's project info (/v1's
// PUT /v1/students/{id}/project-info, which sets both fields). A body
// without one of them is refused, not taken to clear it.
func (s *Server) putProjectInfo(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req projectInfo
	if err := api.DecodeLenientJSON(w, r, &req); err != nil {
		return err
	}
	if err := required(field{"title", req.Title != nil}, field{"description", req.Description != nil}); err != nil {
		return err
	}
	res, err := s.API.Cohort.SetProjectInfo(r.Context(), api.Meta(r, a), commands.AnyVersion, *req.Title, *req.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectText{Title: res.State.Title, Description: res.State.Description})
	return nil
}

// shortlist is a student's ranking as the original kept it: five slots of
// supervisor e-mails, null when empty.
type shortlist struct {
	Supervisor1 *string `json:"supervisor_1"`
	Supervisor2 *string `json:"supervisor_2"`
	Supervisor3 *string `json:"supervisor_3"`
	Supervisor4 *string `json:"supervisor_4"`
	Supervisor5 *string `json:"supervisor_5"`
}

func (l *shortlist) slots() [5]**string {
	return [5]**string{&l.Supervisor1, &l.Supervisor2, &l.Supervisor3, &l.Supervisor4, &l.Supervisor5}
}

// getShortlist (C12) is the caller's ranking, as e-mails in slots.
func (s *Server) getShortlist(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	emails, err := s.rankedEmails(r, a)
	if err != nil {
		return err
	}
	var out shortlist
	for i, slot := range out.slots() {
		if i < len(emails) && emails[i] != "" {
			*slot = &emails[i]
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rankedEmails is the caller's ranking (supervisor ids on /v1) as e-mails;
// a supervisor no longer in the directory is an empty string.
func (s *Server) rankedEmails(r *http.Request, a events.Actor) ([]string, error) {
	o, err := s.API.StudentQ.Get(r.Context(), a, a.UserID)
	if err != nil {
		return nil, notFoundAs(err, &api.Problem{Status: http.StatusNotFound, Code: "not-found", Detail: "no student record for this user"})
	}
	emails := make([]string, len(o.Preferences))
	for i, id := range o.Preferences {
		d, err := s.API.SupervisorQ.Get(r.Context(), id)
		switch {
		case err == nil:
			emails[i] = d.Email
		case !errors.Is(err, queries.ErrNotFound):
			return nil, err
		}
	}
	return emails, nil
}

// listed is id if the supervisor is in the directory, and "" if not: a
// slot whose supervisor has gone is left out of the ranking, as GET shows
// it empty.
func (s *Server) listed(ctx context.Context, id string) (string, error) {
	_, err := s.API.SupervisorQ.Get(ctx, id)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, queries.ErrNotFound):
		return "", nil
	}
	return "", err
}

// noEmail is the value of the shortlist form's placeholder option.
const noEmail = "noEmail"

// postShortlist (C13) merges the slots given into the caller's ranking,
// as the original did: an e-mail fills its slot, an empty slot (null, or
// the placeholder) keeps what it held. The slots are then ranked in order
// and stored through /v1's ranking (1 to 5 distinct active supervisors).
// The merge is made on the ranking stored, and made again if another post
// replaced it meanwhile (cohort.Service.MergePreferences): two posts sent
// together each keep the slots the other filled.
func (s *Server) postShortlist(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req shortlist
	if err := api.DecodeLenientJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := s.API.StudentQ.Get(r.Context(), a, a.UserID); err != nil {
		return notFoundAs(err, &api.Problem{Status: http.StatusNotFound, Code: "not-found", Detail: "no student record for this user"})
	}
	var given [5]string // the supervisor ids the post names, by slot
	for i, slot := range req.slots() {
		if *slot == nil || **slot == noEmail {
			continue
		}
		email := user.NormalizeEmail(**slot)
		d, err := s.API.SupervisorQ.ByEmail(r.Context(), email)
		if err != nil {
			return notFoundAs(err, &api.Problem{Status: http.StatusBadRequest, Code: "not-a-supervisor",
				Detail: "supervisor_" + strconv.Itoa(i+1) + ": no supervisor has the e-mail " + email})
		}
		given[i] = d.ID
	}
	merge := func(ctx context.Context, current []string) ([]string, error) {
		var ids []string
		for i, id := range given {
			if id == "" && i < len(current) {
				listed, err := s.listed(ctx, current[i])
				if err != nil {
					return nil, err
				}
				id = listed
			}
			if id != "" {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	if _, err := s.API.Cohort.MergePreferences(r.Context(), api.Meta(r, a), a.UserID, merge); err != nil {
		return err
	}
	s.API.AwaitWrites(r)
	return s.getShortlist(w, r, a)
}
