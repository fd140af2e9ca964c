package events

import "slices"

// Project statuses: a draft is submitted to one supervisor, who accepts or
// rejects it; a rejected proposal may be edited and submitted again.
const (
	StatusDraft     = "draft"
	StatusSubmitted = "submitted"
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusWithdrawn = "withdrawn"
)

// ProjectCreated starts a project stream: a student's proposal, as a draft.
type ProjectCreated struct {
	OwnerID     string `json:"owner_id" bson:"owner_id"`
	Title       string `json:"title" bson:"title"`
	Description string `json:"description" bson:"description"`
	Aim         string `json:"aim" bson:"aim"`
	Rationale   string `json:"rationale" bson:"rationale"`
}

// ProjectEdited carries the new values of every editable field.
type ProjectEdited struct {
	Title       string `json:"title" bson:"title"`
	Description string `json:"description" bson:"description"`
	Aim         string `json:"aim" bson:"aim"`
	Rationale   string `json:"rationale" bson:"rationale"`
}

// ProjectWithdrawn removes a project from every list; its history stays.
type ProjectWithdrawn struct{}

func (ProjectCreated) EventType() string   { return "ProjectCreated" }
func (ProjectEdited) EventType() string    { return "ProjectEdited" }
func (ProjectWithdrawn) EventType() string { return "ProjectWithdrawn" }

// All returns the registrations of every event type of the product. New event
// types are added here; a changed schema bumps SchemaVersion and adds an upcaster.
func All() []Registration {
	return append([]Registration{
		{Name: "UserCreated", New: func() Data { return &UserCreated{} }},
		{Name: "UserUpdated", New: func() Data { return &UserUpdated{} }},
		{Name: "UserDeleted", New: func() Data { return &UserDeleted{} }},
		{Name: "UserPasswordSet", New: func() Data { return &UserPasswordSet{} }},
		{Name: "UserPasswordTokenIssued", New: func() Data { return &UserPasswordTokenIssued{} }},
		{Name: "UserCreationAbandoned", New: func() Data { return &UserCreationAbandoned{} }},
		{Name: "EmailClaimed", New: func() Data { return &EmailClaimed{} }},
		{Name: "EmailReleased", New: func() Data { return &EmailReleased{} }},
		{Name: "ProjectCreated", New: func() Data { return &ProjectCreated{} }},
		{Name: "ProjectEdited", New: func() Data { return &ProjectEdited{} }},
		{Name: "ProjectWithdrawn", New: func() Data { return &ProjectWithdrawn{} }},
	}, slices.Concat(workflowRegistrations(), coordinatorRegistrations(), markingRegistrations(), limitRegistrations())...)
}
