// Package user is the user aggregate: a person with an e-mail, a name, roles
// and profile fields. Decide validates; Evolve only folds.
package user

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/quote"
)

// State is a user as the write side sees it.
type State struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Name      string         `json:"name"`
	Roles     []string       `json:"roles"`
	Profile   events.Profile `json:"profile"`
	Created   bool           `json:"created"`
	Deleted   bool           `json:"deleted"`
	Abandoned bool           `json:"abandoned"`
	// CreatedAt and UpdatedAt are when the user was created and last
	// changed (any event), as the read side shows them, so that a write's
	// answer is what a read of it gives.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Active reports whether the user exists and may sign in.
func (s State) Active() bool { return s.Created && !s.Deleted }

// HasRole reports whether the user holds role.
func (s State) HasRole(role string) bool { return slices.Contains(s.Roles, role) }

// Create makes a new user.
type Create struct {
	Email   string
	Name    string
	Roles   []string
	Profile events.Profile
	// WithPassword records in the same commit that a password was set.
	WithPassword bool
}

// Update changes the fields that are set (nil leaves a field as it is).
type Update struct {
	Name    *string
	Roles   []string // nil: unchanged
	Profile *events.Profile
	// NameOnly limits the change to the name (a user editing themself).
	NameOnly bool
}

// Delete stops the user from signing in; the history stays.
type Delete struct{}

// SetPassword records that the password changed (the hash is stored apart);
// TokenVersion names the issue of the set-password token redeemed for it.
type SetPassword struct{ TokenVersion int64 }

// IssuePasswordToken records that a set-password token was issued.
type IssuePasswordToken struct{ ExpiresAt time.Time }

// Abandon closes the stream of a creation that never completed.
type Abandon struct{ Reason string }

// Refusals of the user aggregate.
var (
	ErrEmailTaken = &commands.Error{Kind: commands.KindConflict, Code: "email-taken", Message: "a user with this e-mail already exists"}
	ErrDeleted    = &commands.Error{Kind: commands.KindNotFound, Code: "not-found", Message: "the user was deleted"}
)

// Command is a command of the user aggregate. It is closed: only the
// command types of this package implement it, each deciding itself, so the
// compiler refuses any other and Decide has no unknown command to refuse.
type Command interface {
	decide(State) ([]events.Data, error)
}

// Decider is the user aggregate.
var Decider = commands.Decider[State, Command]{
	StreamType: events.StreamUser,
	Schema:     "user/2",
	Initial:    func(id string) State { return State{ID: id} },
	Evolve:     Evolve,
	Decide:     Decide,
}

// Decide validates a command against the state.
func Decide(s State, c Command) ([]events.Data, error) { return c.decide(s) }

func (c Create) decide(s State) ([]events.Data, error) {
	if s.Created || s.Abandoned {
		return nil, commands.ErrAlreadyExists
	}
	var v commands.Validation
	email := NormalizeEmail(c.Email)
	checkEmail(&v, email)
	name := strings.TrimSpace(c.Name)
	checkName(&v, name)
	roles := checkRoles(&v, c.Roles)
	profile := trimProfile(&v, c.Profile)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := []events.Data{&events.UserCreated{Email: email, Name: name, Roles: roles, Profile: profile}}
	if c.WithPassword {
		out = append(out, &events.UserPasswordSet{})
	}
	return out, nil
}

func (c Update) decide(s State) ([]events.Data, error) {
	if err := mustBeActive(s); err != nil {
		return nil, err
	}
	var v commands.Validation
	next := events.UserUpdated{Name: s.Name, Roles: s.Roles, Profile: s.Profile}
	if c.NameOnly && (c.Roles != nil || c.Profile != nil) {
		return nil, commands.ErrForbidden
	}
	if c.Name != nil {
		next.Name = strings.TrimSpace(*c.Name)
		checkName(&v, next.Name)
	}
	if c.Roles != nil {
		next.Roles = checkRoles(&v, c.Roles)
	}
	if c.Profile != nil {
		next.Profile = trimProfile(&v, *c.Profile)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if next.Name == s.Name && slices.Equal(next.Roles, s.Roles) && next.Profile == s.Profile {
		return nil, nil
	}
	return []events.Data{&next}, nil
}

func (Delete) decide(s State) ([]events.Data, error) {
	if err := mustBeActive(s); err != nil {
		return nil, err
	}
	return []events.Data{&events.UserDeleted{}}, nil
}

func (c SetPassword) decide(s State) ([]events.Data, error) {
	if err := mustBeActive(s); err != nil {
		return nil, err
	}
	return []events.Data{&events.UserPasswordSet{TokenVersion: c.TokenVersion}}, nil
}

func (c IssuePasswordToken) decide(s State) ([]events.Data, error) {
	if err := mustBeActive(s); err != nil {
		return nil, err
	}
	return []events.Data{&events.UserPasswordTokenIssued{ExpiresAt: c.ExpiresAt.UTC().Format(time.RFC3339)}}, nil
}

func (c Abandon) decide(s State) ([]events.Data, error) {
	if s.Created || s.Abandoned {
		return nil, commands.ErrAlreadyExists
	}
	return []events.Data{&events.UserCreationAbandoned{Reason: c.Reason}}, nil
}

// Evolve folds one event into the state.
func Evolve(s State, e events.Envelope) State {
	switch d := e.Data.(type) {
	case *events.UserCreated:
		s.Created, s.Email, s.Name, s.Roles, s.Profile = true, d.Email, d.Name, d.Roles, d.Profile
		s.CreatedAt = e.RecordedAt
	case *events.UserUpdated:
		s.Name, s.Roles, s.Profile = d.Name, d.Roles, d.Profile
	case *events.UserDeleted:
		s.Deleted = true
	case *events.UserCreationAbandoned:
		s.Abandoned = true
	case *events.UserPasswordSet:
	default:
		return s // not an event of a user: nothing changed
	}
	s.UpdatedAt = e.RecordedAt
	return s
}

func mustBeActive(s State) error {
	switch {
	case !s.Created:
		return commands.ErrNotFound
	case s.Deleted:
		return ErrDeleted
	}
	return nil
}

// NormalizeEmail trims and lower-cases an address, so that one person has one
// e-mail whatever the case it was typed in. Only A to Z are folded: an
// address is ASCII (checkEmail), and Unicode's lower case would fold
// another address into one, the Kelvin sign K (U+212A) into k, so that
// "\u212Aelvin@..." signed in as kelvin@....
func NormalizeEmail(e string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, strings.TrimSpace(e))
}

// IsASCII reports whether s is ASCII alone, as an e-mail address is here.
func IsASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r > unicode.MaxASCII })
}

// ValidRoles lists the roles a user may hold, in a stable order.
var ValidRoles = []string{events.RoleCoordinator, events.RoleSupervisor, events.RoleExaminer, events.RoleStudent}

func checkEmail(v *commands.Validation, email string) {
	addr, err := mail.ParseAddress(email)
	switch {
	case email == "":
		v.Add("email", "is required")
	case len(email) > 254:
		v.Add("email", "is longer than 254 characters")
	case commands.RefusedInLine(email):
		v.Add("email", commands.LineRefusal)
	case !IsASCII(email):
		v.Add("email", "is not in ASCII: an address here is written in ASCII letters, digits and symbols alone")
	case err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], "."):
		v.Add("email", "is not an e-mail address")
	}
}

func checkName(v *commands.Validation, name string) {
	switch {
	case name == "":
		v.Add("name", "is required")
	case utf8.RuneCountInString(name) > 200:
		v.Add("name", "is longer than 200 characters")
	default:
		v.CheckLine("name", name)
	}
}

// checkRoles returns the roles de-duplicated in the canonical order.
func checkRoles(v *commands.Validation, roles []string) []string {
	if len(roles) == 0 {
		v.Add("roles", "at least one role is required")
		return nil
	}
	var out []string
	for _, r := range roles {
		if !slices.Contains(ValidRoles, strings.TrimSpace(r)) {
			v.Add("roles", "unknown role "+quote.Cut(r, 40)+"; one of "+strings.Join(ValidRoles, ", "))
			return nil
		}
	}
	for _, r := range ValidRoles {
		if slices.ContainsFunc(roles, func(x string) bool { return strings.TrimSpace(x) == r }) {
			out = append(out, r)
		}
	}
	return out
}

func trimProfile(v *commands.Validation, p events.Profile) events.Profile {
	fields := []struct {
		name string
		val  *string
	}{
		{"profile.code", &p.Code}, {"profile.username", &p.Username}, {"profile.programme", &p.Programme},
		{"profile.route", &p.Route}, {"profile.enrolment_status", &p.EnrolmentStatus},
		{"profile.start_date", &p.StartDate}, {"profile.position", &p.Position}, {"profile.department", &p.Department},
	}
	for _, f := range fields {
		*f.val = strings.TrimSpace(*f.val)
		if utf8.RuneCountInString(*f.val) > 200 {
			v.Add(f.name, "is longer than 200 characters")
		} else {
			v.CheckLine(f.name, *f.val)
		}
	}
	return p
}
