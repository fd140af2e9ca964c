package user

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/capstone-pms/capstone/commands"
)

// TokenStore keeps one-time set-password tokens: at most one works per user.
type TokenStore interface {
	// Save stores a token for a user; it replaces (ends) any earlier one.
	Save(ctx context.Context, token, userID string, expires time.Time) error
	// Take consumes the token and returns its user, or ErrBadToken if it is
	// unknown, used, replaced, ended or expired. Of concurrent takers of one
	// token, at most one succeeds; taking one ends the user's others.
	Take(ctx context.Context, token string, now time.Time) (string, error)
	// Revoke ends the user's token, if any.
	Revoke(ctx context.Context, userID string) error
}

// ErrBadToken is the one answer for an unknown, used or expired token.
var ErrBadToken = &commands.Error{Kind: commands.KindUnauthenticated, Code: "invalid-token",
	Message: "the set-password token is unknown, used or expired; ask the coordinator for a new one"}

// PasswordTokenTTL is how long a set-password token works.
const PasswordTokenTTL = 72 * time.Hour

// IssuePasswordToken gives a coordinator a one-time token with which a user
// (new, imported without a password, or locked out) sets their password. It
// replaces any token issued before: only the latest one works.
func (s *Service) IssuePasswordToken(ctx context.Context, userID string) (string, time.Time, error) {
	if _, err := s.Get(ctx, userID); err != nil {
		return "", time.Time{}, err
	}
	token := rand.Text() + rand.Text()
	expires := s.X.Clock().Add(PasswordTokenTTL).UTC().Truncate(time.Second)
	if err := s.Tokens.Save(ctx, token, userID, expires); err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// SetPasswordWithToken consumes a token and sets the password. The password
// is checked first, so a weak one does not use up the token.
func (s *Service) SetPasswordWithToken(ctx context.Context, meta commands.Meta, token, password string) (commands.Result[State], error) {
	if s.CheckPassword != nil {
		if err := s.CheckPassword(password); err != nil {
			return commands.Result[State]{}, commands.Invalid(commands.FieldError{Field: "password", Message: err.Error()})
		}
	}
	userID, err := s.Tokens.Take(ctx, token, s.X.Clock())
	if err != nil {
		return commands.Result[State]{}, err
	}
	meta.Actor.UserID = userID
	return s.SetPassword(ctx, meta, userID, password)
}
