package events

// Stream types. A stream id is the aggregate's id; the type says which decider
// and which projections it feeds.
const (
	StreamUser    = "user"
	StreamProject = "project"
	StreamEmail   = "email"
)

// Roles a user may hold (docs/api.md, Roles). A user may hold several.
const (
	RoleCoordinator = "coordinator"
	RoleSupervisor  = "supervisor"
	RoleExaminer    = "examiner"
	RoleStudent     = "student"
)

// Profile holds the fields the original system imported per person. All are
// optional; which apply depends on the roles.
type Profile struct {
	Code            string `json:"code,omitempty" bson:"code,omitempty"`
	Username        string `json:"username,omitempty" bson:"username,omitempty"`
	Programme       string `json:"programme,omitempty" bson:"programme,omitempty"`
	Route           string `json:"route,omitempty" bson:"route,omitempty"`
	EnrolmentStatus string `json:"enrolment_status,omitempty" bson:"enrolment_status,omitempty"`
	StartDate       string `json:"start_date,omitempty" bson:"start_date,omitempty"`
	Position        string `json:"position,omitempty" bson:"position,omitempty"`
	Department      string `json:"department,omitempty" bson:"department,omitempty"`
}

// UserCreated starts a user stream. It never carries a password or its hash:
// credentials live outside the event store, so an audit export cannot leak them.
type UserCreated struct {
	Email   string   `json:"email" bson:"email"`
	Name    string   `json:"name" bson:"name"`
	Roles   []string `json:"roles" bson:"roles"`
	Profile Profile  `json:"profile" bson:"profile"`
}

// UserUpdated carries the new values of every editable field, so applying it
// twice gives the same state.
type UserUpdated struct {
	Name    string   `json:"name" bson:"name"`
	Roles   []string `json:"roles" bson:"roles"`
	Profile Profile  `json:"profile" bson:"profile"`
}

// UserDeleted ends a user's ability to sign in; the history stays.
type UserDeleted struct{}

// UserPasswordSet records that the password changed, and nothing about it.
// TokenVersion, when set, is the version of the UserPasswordTokenIssued event
// whose token was redeemed to set it (its actor is the coordinator who issued
// the token; this event's actor is the token's holder, as the user).
type UserPasswordSet struct {
	TokenVersion int64 `json:"token_version,omitempty" bson:"token_version,omitempty"`
}

// UserPasswordTokenIssued records that a set-password token was issued for
// the user (by the event's actor) and until when it works; never the token.
type UserPasswordTokenIssued struct {
	ExpiresAt string `json:"expires_at" bson:"expires_at"` // RFC 3339
}

// UserCreationAbandoned closes a user stream whose creation never completed
// (the process died between claiming the e-mail and creating the user), so
// the e-mail can be claimed again and the late creation, if any, conflicts.
type UserCreationAbandoned struct {
	Reason string `json:"reason" bson:"reason"`
}

// EmailClaimed reserves an e-mail address for one user (the uniqueness rule
// across user aggregates).
type EmailClaimed struct {
	Email  string `json:"email" bson:"email"`
	UserID string `json:"user_id" bson:"user_id"`
}

// EmailReleased frees an address, when its user was deleted or its creation abandoned.
type EmailReleased struct {
	Email  string `json:"email" bson:"email"`
	UserID string `json:"user_id" bson:"user_id"`
}

func (UserCreated) EventType() string             { return "UserCreated" }
func (UserUpdated) EventType() string             { return "UserUpdated" }
func (UserDeleted) EventType() string             { return "UserDeleted" }
func (UserPasswordSet) EventType() string         { return "UserPasswordSet" }
func (UserPasswordTokenIssued) EventType() string { return "UserPasswordTokenIssued" }
func (UserCreationAbandoned) EventType() string   { return "UserCreationAbandoned" }
func (EmailClaimed) EventType() string            { return "EmailClaimed" }
func (EmailReleased) EventType() string           { return "EmailReleased" }
