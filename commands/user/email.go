package user

import (
	"strings"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// EmailState is who holds an e-mail address. The address is its own stream, so
// claiming it is one optimistic append: two concurrent claims cannot both win,
// whichever API process they reach.
type EmailState struct {
	Email     string    `json:"email"`
	Owner     string    `json:"owner"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// Claim reserves the address for UserID. Replace names the current owner that
// the caller has found to be gone (deleted or abandoned); any other owner
// means the address is taken.
type Claim struct {
	UserID  string
	Replace string
}

// Release frees the address if UserID holds it.
type Release struct{ UserID string }

// EmailStreamID is the stream of an (already normalised) address.
func EmailStreamID(email string) string { return "email:" + email }

// EmailCommand is a command of the e-mail reservation aggregate. It is
// closed: only the command types of this package implement it, each
// deciding itself.
type EmailCommand interface {
	decide(EmailState) ([]events.Data, error)
}

// EmailDecider is the e-mail reservation aggregate.
var EmailDecider = commands.Decider[EmailState, EmailCommand]{
	StreamType: events.StreamEmail,
	Schema:     "email/1",
	Initial:    func(id string) EmailState { return EmailState{Email: strings.TrimPrefix(id, "email:")} },
	Evolve:     EvolveEmail,
	Decide:     DecideEmail,
}

// DecideEmail validates a claim or release against the current holder.
func DecideEmail(s EmailState, c EmailCommand) ([]events.Data, error) { return c.decide(s) }

func (c Claim) decide(s EmailState) ([]events.Data, error) {
	if c.UserID == "" {
		return nil, commands.Invalid(commands.FieldError{Field: "user_id", Message: "is required"})
	}
	switch s.Owner {
	case "":
		return []events.Data{&events.EmailClaimed{Email: s.Email, UserID: c.UserID}}, nil
	case c.UserID:
		return nil, nil
	case c.Replace:
		return []events.Data{
			&events.EmailReleased{Email: s.Email, UserID: s.Owner},
			&events.EmailClaimed{Email: s.Email, UserID: c.UserID},
		}, nil
	}
	return nil, ErrEmailTaken
}

func (c Release) decide(s EmailState) ([]events.Data, error) {
	if s.Owner != c.UserID || s.Owner == "" {
		return nil, nil
	}
	return []events.Data{&events.EmailReleased{Email: s.Email, UserID: c.UserID}}, nil
}

// EvolveEmail folds one event into the reservation.
func EvolveEmail(s EmailState, e events.Envelope) EmailState {
	switch d := e.Data.(type) {
	case *events.EmailClaimed:
		s.Email, s.Owner, s.ClaimedAt = d.Email, d.UserID, e.RecordedAt
	case *events.EmailReleased:
		s.Email, s.Owner, s.ClaimedAt = d.Email, "", time.Time{}
	}
	return s
}
