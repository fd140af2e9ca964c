package user

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// TokenStore keeps one-time set-password tokens: at most one works per user.
type TokenStore interface {
	// Save stores a token; it replaces (ends) any earlier one of the user.
	Save(ctx context.Context, token string, g TokenGrant, expires time.Time) error
	// Take consumes the token and returns what it grants, or ErrBadToken if
	// it is unknown, used, replaced, ended or expired. Of concurrent takers
	// of one token, at most one succeeds; taking one ends the user's others.
	Take(ctx context.Context, token string, now time.Time) (TokenGrant, error)
	// Revoke ends the user's token, if any.
	Revoke(ctx context.Context, userID string) error
}

// TokenGrant is what a set-password token lets its holder do: set the
// password of UserID. IssuedVersion is the version of the user's stream at
// which its issue was recorded (UserPasswordTokenIssued), so that setting
// the password can name the issue it came from.
type TokenGrant struct {
	UserID        string
	IssuedVersion int64
}

// ErrBadToken is the one answer for an unknown, used or expired token.
var ErrBadToken = &commands.Error{Kind: commands.KindUnauthenticated, Code: "invalid-token",
	Message: "the set-password token is unknown, used or expired; ask the coordinator for a new one"}

// PasswordTokenTTL is how long a set-password token works.
const PasswordTokenTTL = 72 * time.Hour

// IssuePasswordToken gives a coordinator a one-time token with which a user
// (new, imported without a password, or locked out) sets their password. It
// replaces any token issued before: only the latest one works. The issue is
// recorded in the user's stream (who issued it, until when; never the
// token) before the token is stored, so no working token goes unrecorded.
func (s *Service) IssuePasswordToken(ctx context.Context, meta commands.Meta, userID string) (string, time.Time, error) {
	expires := s.X.Clock().Add(PasswordTokenTTL).UTC().Truncate(time.Second)
	res, err := Decider.Execute(ctx, s.X, userID, IssuePasswordToken{ExpiresAt: expires}, meta)
	if err != nil {
		return "", time.Time{}, err
	}
	token := rand.Text() + rand.Text()
	if err := s.Tokens.Save(ctx, token, TokenGrant{UserID: userID, IssuedVersion: res.Version}, expires); err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// SetPasswordWithToken consumes a token and sets the password. The password
// is checked first, so a weak one does not use up the token. The change is
// recorded as made by the token's holder acting as the user
// (events.ViaPasswordToken), naming the issue of the token.
func (s *Service) SetPasswordWithToken(ctx context.Context, meta commands.Meta, token, password string) (commands.Result[State], error) {
	if s.CheckPassword != nil {
		if err := s.CheckPassword(password); err != nil {
			return commands.Result[State]{}, commands.Invalid(commands.FieldError{Field: "password", Message: err.Error()})
		}
	}
	g, err := s.Tokens.Take(ctx, token, s.X.Clock())
	if err != nil {
		return commands.Result[State]{}, err
	}
	meta.Actor = events.Actor{UserID: g.UserID, Via: events.ViaPasswordToken}
	done, err := s.passwordTurn(ctx, g.UserID)
	if err != nil {
		return commands.Result[State]{}, err
	}
	defer done()
	return s.setPassword(ctx, meta, g.UserID, password, g.IssuedVersion, nil)
}
