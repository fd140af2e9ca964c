// Package project is the project aggregate: a student's proposal and, later in
// its life, its supervisor, examiner and marking. Decide validates and
// enforces who may change what; Evolve only folds.
package project

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
)

// State is a project as the write side sees it.
type State struct {
	ID           string `json:"id"`
	OwnerID      string `json:"owner_id"`
	Title        string `json:"title"`
	Description  string `json:"description"`
	Aim          string `json:"aim"`
	Rationale    string `json:"rationale"`
	Status       string `json:"status"`
	SupervisorID string `json:"supervisor_id,omitempty"`
	ExaminerID   string `json:"examiner_id,omitempty"`
	// Comment is the supervisor's comment on their decision on the
	// proposal (empty until one is decided, and again once it is proposed
	// anew).
	Comment string `json:"comment,omitempty"`
	Created bool   `json:"created"`
	// CreatedAt and UpdatedAt are when the project was created and last
	// changed (any event), as the read side shows them, so that a write's
	// answer is what a read of it gives.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Marking is the project's marking, once it is accepted.
	Marking marking.Record `json:"marking"`
}

// Fields are the editable texts of a proposal.
type Fields struct {
	Title, Description, Aim, Rationale string
}

// Create starts a proposal owned by OwnerID, as a draft.
type Create struct {
	OwnerID string
	Fields
}

// Edit changes the fields that are set.
type Edit struct {
	By                                 events.Actor
	Title, Description, Aim, Rationale *string
}

// Withdraw removes the project; its history stays.
type Withdraw struct{ By events.Actor }

// Submit proposes the project to one supervisor.
type Submit struct {
	By           events.Actor
	SupervisorID string
}

// CreateSubmitted creates a project already submitted to a supervisor, in
// one commit: both or neither (POST /v1/projects with a supervisor_id).
type CreateSubmitted struct {
	Create
	Submit Submit
}

// Decision is the supervisor's answer to a submitted proposal.
type Decision struct {
	By      events.Actor
	Accept  bool
	Comment string
}

// SetExaminer shows the second examiner on an accepted project.
type SetExaminer struct{ ExaminerID string }

// Refusals of the proposal workflow.
var (
	ErrNotSubmitted = &commands.Error{Kind: commands.KindRule, Code: "not-submitted",
		Message: "only a submitted proposal can be decided"}
	ErrNotSubmittable = &commands.Error{Kind: commands.KindRule, Code: "not-submittable",
		Message: "only a draft or a rejected proposal can be submitted"}
	ErrNotYourProposal = &commands.Error{Kind: commands.KindForbidden, Code: "forbidden",
		Message: "only the supervisor it was submitted to may decide"}
	// ErrSelfSupervision refuses a student (who also supervises) proposing
	// to, or deciding on, their own project: nobody supervises themselves.
	ErrSelfSupervision = &commands.Error{Kind: commands.KindRule, Code: "cannot-supervise-self",
		Message: "a student cannot be their own supervisor"}
)

// ErrNotEditable refuses a change the project's status no longer allows.
var ErrNotEditable = &commands.Error{Kind: commands.KindRule, Code: "project-locked",
	Message: "the project can no longer be changed by its owner"}

// editableByOwner are the statuses in which the owner may still edit or withdraw.
var editableByOwner = []string{events.StatusDraft, events.StatusSubmitted, events.StatusRejected}

// Command is a command of the project aggregate. It is closed: only the
// command types of this package implement it, each deciding itself, so the
// compiler refuses any other and Decide has no unknown command to refuse.
type Command interface {
	decide(State) ([]events.Data, error)
}

// Decider is the project aggregate.
var Decider = commands.Decider[State, Command]{
	StreamType: events.StreamProject,
	Schema:     "project/4",
	Initial:    func(id string) State { return State{ID: id} },
	Evolve:     Evolve,
	Decide:     Decide,
}

// Decide validates a command against the state.
func Decide(s State, c Command) ([]events.Data, error) { return c.decide(s) }

func (c Create) decide(s State) ([]events.Data, error) {
	if s.Created {
		return nil, commands.ErrAlreadyExists
	}
	if c.OwnerID == "" {
		return nil, commands.Invalid(commands.FieldError{Field: "owner_id", Message: "is required"})
	}
	f := trim(c.Fields)
	if err := validate(f); err != nil {
		return nil, err
	}
	return []events.Data{&events.ProjectCreated{OwnerID: c.OwnerID, Title: f.Title,
		Description: f.Description, Aim: f.Aim, Rationale: f.Rationale}}, nil
}

func (c CreateSubmitted) decide(s State) ([]events.Data, error) {
	created, err := c.Create.decide(s)
	if err != nil {
		return nil, err
	}
	next := s
	for _, d := range created {
		next = Evolve(next, events.Envelope{Data: d})
	}
	submitted, err := c.Submit.decide(next)
	if err != nil {
		return nil, err
	}
	return append(created, submitted...), nil
}

func (c Edit) decide(s State) ([]events.Data, error) {
	if err := mayChange(s, c.By); err != nil {
		return nil, err
	}
	f := Fields{s.Title, s.Description, s.Aim, s.Rationale}
	for _, p := range []struct{ dst, src *string }{
		{&f.Title, c.Title}, {&f.Description, c.Description}, {&f.Aim, c.Aim}, {&f.Rationale, c.Rationale},
	} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	f = trim(f)
	if err := validate(f); err != nil {
		return nil, err
	}
	if f == (Fields{s.Title, s.Description, s.Aim, s.Rationale}) {
		return nil, nil
	}
	return []events.Data{&events.ProjectEdited{Title: f.Title, Description: f.Description, Aim: f.Aim, Rationale: f.Rationale}}, nil
}

func (c Withdraw) decide(s State) ([]events.Data, error) {
	if err := mayChange(s, c.By); err != nil {
		return nil, err
	}
	return []events.Data{&events.ProjectWithdrawn{}}, nil
}

func (c Submit) decide(s State) ([]events.Data, error) {
	if err := mayChange(s, c.By); err != nil {
		return nil, err
	}
	switch {
	case c.By.UserID != s.OwnerID:
		return nil, commands.ErrForbidden
	case s.Status != events.StatusDraft && s.Status != events.StatusRejected:
		return nil, ErrNotSubmittable
	case c.SupervisorID == "":
		return nil, commands.Invalid(commands.FieldError{Field: "supervisor_id", Message: "is required"})
	case c.SupervisorID == s.OwnerID:
		return nil, ErrSelfSupervision
	}
	return []events.Data{&events.ProposalSubmitted{SupervisorID: c.SupervisorID}}, nil
}

func (c Decision) decide(s State) ([]events.Data, error) {
	switch {
	case !s.Created || s.Status == events.StatusWithdrawn || !s.VisibleTo(c.By):
		return nil, commands.ErrNotFound
	case c.By.UserID != s.SupervisorID:
		return nil, ErrNotYourProposal
	case c.By.UserID == s.OwnerID:
		return nil, ErrSelfSupervision // only a proposal stored before that was refused
	case s.Status == events.StatusAccepted && c.Accept:
		return nil, nil // a retried acceptance
	case s.Status != events.StatusSubmitted:
		return nil, ErrNotSubmitted
	case utf8.RuneCountInString(strings.TrimSpace(c.Comment)) > 4000:
		return nil, commands.Invalid(commands.FieldError{Field: "comment", Message: "is longer than 4000 characters"})
	case commands.RefusedInText(c.Comment):
		return nil, commands.Invalid(commands.FieldError{Field: "comment", Message: commands.TextRefusal})
	}
	comment := strings.TrimSpace(c.Comment)
	if c.Accept {
		return []events.Data{&events.ProposalAccepted{SupervisorID: s.SupervisorID, Comment: comment}}, nil
	}
	return []events.Data{&events.ProposalRejected{SupervisorID: s.SupervisorID, Comment: comment}}, nil
}

func (c SetExaminer) decide(s State) ([]events.Data, error) {
	if !s.Created || s.ExaminerID == c.ExaminerID {
		return nil, nil
	}
	return []events.Data{&events.ProjectExaminerSet{ExaminerID: c.ExaminerID}}, nil
}

// Evolve folds one event into the state.
func Evolve(s State, e events.Envelope) State {
	switch d := e.Data.(type) {
	case *events.ProjectCreated:
		s.Created, s.OwnerID, s.Status, s.CreatedAt = true, d.OwnerID, events.StatusDraft, e.RecordedAt
		s.Title, s.Description, s.Aim, s.Rationale = d.Title, d.Description, d.Aim, d.Rationale
	case *events.ProjectEdited:
		s.Title, s.Description, s.Aim, s.Rationale = d.Title, d.Description, d.Aim, d.Rationale
	case *events.ProjectWithdrawn:
		s.Status = events.StatusWithdrawn
	case *events.ProposalSubmitted:
		s.Status, s.SupervisorID, s.Comment = events.StatusSubmitted, d.SupervisorID, ""
	case *events.ProposalAccepted:
		s.Status, s.Comment = events.StatusAccepted, d.Comment
	case *events.ProposalRejected:
		s.Status, s.Comment = events.StatusRejected, d.Comment
	case *events.ProjectExaminerSet:
		s.ExaminerID = d.ExaminerID
	case *events.MarkSubmitted, *events.MarksAgreed, *events.ModerationRequired, *events.MarkModerated,
		*events.MarkSet, *events.MarkReleased:
		// marking's own: folded below
	default:
		return s // not an event of a project: nothing changed
	}
	s.Marking = marking.Apply(s.Marking, e)
	s.UpdatedAt = e.RecordedAt
	return s
}

// VisibleTo reports whether a caller may see the project at all; everyone
// else is told it does not exist.
func (s State) VisibleTo(a events.Actor) bool {
	return visibility.SeesProject(a, s.Facts())
}

func mayChange(s State, by events.Actor) error {
	switch {
	case !s.Created || s.Status == events.StatusWithdrawn || !s.VisibleTo(by):
		return commands.ErrNotFound
	case slices.Contains(by.Roles, events.RoleCoordinator):
		return nil
	case by.UserID != s.OwnerID:
		return commands.ErrForbidden
	case !slices.Contains(editableByOwner, s.Status):
		return ErrNotEditable
	}
	return nil
}

func trim(f Fields) Fields {
	return Fields{strings.TrimSpace(f.Title), strings.TrimSpace(f.Description), strings.TrimSpace(f.Aim), strings.TrimSpace(f.Rationale)}
}

func validate(f Fields) error {
	var v commands.Validation
	if f.Title == "" {
		v.Add("title", "is required")
	}
	for _, c := range []struct {
		name, val string
		max       int
	}{{"title", f.Title, 200}, {"description", f.Description, 10000}, {"aim", f.Aim, 4000}, {"rationale", f.Rationale, 4000}} {
		if utf8.RuneCountInString(c.val) > c.max {
			v.Add(c.name, "is longer than "+itoa(c.max)+" characters")
		}
	}
	v.CheckLine("title", f.Title)
	v.CheckText("description", f.Description)
	v.CheckText("aim", f.Aim)
	v.CheckText("rationale", f.Rationale)
	return v.Err()
}

func itoa(n int) string { return strconv.Itoa(n) }
