package legacy

import (
	"net/http"
	"slices"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// A proposal's statuses, in the original's words.
const (
	statusPending  = "pending"
	statusAccepted = "accepted"
	statusRejected = "rejected"
)

// statusNames are the original's words for the statuses of a proposal.
var statusNames = map[string]string{
	events.StatusSubmitted: statusPending, events.StatusAccepted: statusAccepted, events.StatusRejected: statusRejected,
}

// proposalForm is a proposal as the proposal page reads it. Comment is
// absent until the supervisor leaves one (the page says "No comment yet").
type proposalForm struct {
	Title     string `json:"title"`
	Aim       string `json:"aim"`
	Rationale string `json:"rationale"`
	Status    string `json:"status"`
	Comment   string `json:"comment,omitempty"`
}

// getProposal (C15) is the caller's proposal to a supervisor: of their
// projects, the latest proposed to them. None is still 200, with an error
// member, as the original answered: the page shows itself only once a form
// has loaded for each shortlisted supervisor.
func (s *Server) getProposal(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	sup, err := s.API.SupervisorQ.ByEmail(r.Context(), user.NormalizeEmail(mux.Vars(r)["supervisor_email"]))
	if err != nil {
		return notFoundAs(err, errNoSupervisor)
	}
	o, err := s.API.StudentQ.Get(r.Context(), a, a.UserID)
	if err != nil {
		return notFoundAs(err, &api.Problem{Status: http.StatusNotFound, Code: "not-found", Detail: "no student record for this user"})
	}
	var latest *queries.Project
	for i, p := range o.Projects {
		if p.SupervisorID == sup.ID && statusNames[p.Status] != "" && (latest == nil || p.CreatedAt.After(latest.CreatedAt)) {
			latest = &o.Projects[i]
		}
	}
	if latest == nil {
		writeJSON(w, http.StatusOK, map[string]string{"error": "Proposal not found"})
		return nil
	}
	writeJSON(w, http.StatusOK, proposalForm{Title: latest.Title, Aim: latest.Aim, Rationale: latest.Rationale,
		Status: statusNames[latest.Status], Comment: latest.Comment})
	return nil
}

// proposalRequest is what the proposal page sends.
type proposalRequest struct {
	SupervisorEmail string `json:"supervisor_email"`
	Title           string `json:"title"`
	Aim             string `json:"aim"`
	Rationale       string `json:"rationale"`
}

// proposalSpace is the namespace of the ids of proposals made here.
var proposalSpace = uuid.MustParse("2b0f3f0e-63a5-4a8e-8f55-5b8f2d0c9a17")

// proposalID is the id of the caller's proposal to a supervisor made
// through these routes: one per student and supervisor, as the original
// had it, so that a second one (or two sent at once) finds the first.
func proposalID(studentID, supervisorID string) string {
	return uuid.NewSHA1(proposalSpace, []byte(studentID+"\x00"+supervisorID)).String()
}

var errProposalExists = &api.Problem{Status: http.StatusBadRequest, Code: "proposal-exists", Detail: "Proposal already exists"}

// postProposal (C16) proposes a project to a supervisor: /v1's
// POST /v1/projects with a supervisor_id, under the one id of this student
// and supervisor (see proposalID), so that the second answers 400.
func (s *Server) postProposal(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req proposalRequest
	if err := api.DecodeLenientJSON(w, r, &req); err != nil {
		return err
	}
	sup, err := s.API.SupervisorQ.ByEmail(r.Context(), user.NormalizeEmail(req.SupervisorEmail))
	if err != nil {
		return notFoundAs(err, errNoSupervisor)
	}
	m := api.Meta(r, a)
	m.NewID = proposalID(a.UserID, sup.ID)
	create := project.Create{OwnerID: a.UserID, Fields: project.Fields{Title: req.Title, Aim: req.Aim, Rationale: req.Rationale}}
	res, err := s.API.Cohort.CreateProject(r.Context(), m, create, sup.ID)
	if err != nil {
		return err
	}
	if res.Replayed { // the create found the proposal another request made
		return errProposalExists
	}
	writeJSON(w, http.StatusOK, proposalForm{Title: res.State.Title, Aim: res.State.Aim, Rationale: res.State.Rationale,
		Status: statusNames[res.State.Status]})
	return nil
}

// pending is a proposal waiting for the caller's decision, as the
// supervisees page reads it; ProjectID is ours, for a client that wants it.
type pending struct {
	ProjectID   string `json:"project_id"`
	Title       string `json:"title"`
	Aim         string `json:"aim"`
	Rationale   string `json:"rationale"`
	Status      string `json:"status"`
	StudentInfo person `json:"student_info"`
}

// pendingProposals (C20) are the proposals submitted to the caller.
func (s *Server) pendingProposals(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	out, err := s.pending(r, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pending lists the projects submitted to the caller, oldest first, with
// the name and e-mail of each student (whom a supervisor they proposed to
// may see).
func (s *Server) pending(r *http.Request, a events.Actor) ([]pending, error) {
	docs, err := whole(r.Context(), func(cursor string) (queries.Page[queries.Project], error) {
		return s.API.ProjectQ.List(r.Context(), a, queries.ProjectFilter{Status: events.StatusSubmitted, SupervisorID: a.UserID,
			Cursor: cursor, Limit: queries.MaxLimit})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(docs, func(x, y queries.Project) int { return x.CreatedAt.Compare(y.CreatedAt) })
	students := map[string]person{}
	out := make([]pending, 0, len(docs))
	for _, d := range docs {
		st, ok := students[d.OwnerID]
		if !ok {
			o, err := s.API.StudentQ.Get(r.Context(), a, d.OwnerID)
			if err != nil && !isNotFound(err) {
				return nil, err
			}
			st = person{Name: o.Name, Email: o.Email}
			students[d.OwnerID] = st
		}
		out = append(out, pending{ProjectID: d.ID, Title: d.Title, Aim: d.Aim, Rationale: d.Rationale, Status: statusPending, StudentInfo: st})
	}
	return out, nil
}

// decisionRequest is the supervisees page's answer to a proposal.
type decisionRequest struct {
	StudentEmail string `json:"student_email"`
	Status       string `json:"status"`
	Comment      string `json:"comment"`
}

// decideProposal (C21) is /v1's decision on the (oldest) proposal the
// student submitted to the caller. Accepting takes one of the caller's
// places, as through /v1 (a full supervisor is refused). The answer is
// the pending proposals left, which one version of the page shows.
func (s *Server) decideProposal(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req decisionRequest
	if err := api.DecodeLenientJSON(w, r, &req); err != nil {
		return err
	}
	accept := req.Status == statusAccepted
	if !accept && req.Status != statusRejected {
		return &api.Problem{Status: http.StatusBadRequest, Code: "invalid", Detail: `status: pick "accepted" or "rejected"`}
	}
	waiting, err := s.pending(r, a)
	if err != nil {
		return err
	}
	// Compared as every e-mail of the service is (user.NormalizeEmail), not
	// by Unicode case folding, under which "ſam@…" would be "sam@…".
	email := user.NormalizeEmail(req.StudentEmail)
	i := slices.IndexFunc(waiting, func(p pending) bool { return user.NormalizeEmail(p.StudentInfo.Email) == email })
	if i < 0 {
		return &api.Problem{Status: http.StatusBadRequest, Code: "not-found", Detail: "no pending proposal from " + email}
	}
	if _, err := s.API.Cohort.Decide(r.Context(), api.Meta(r, a), waiting[i].ProjectID, commands.AnyVersion, accept, req.Comment); err != nil {
		return err
	}
	s.API.AwaitWrites(r)
	return s.pendingProposals(w, r, a)
}
