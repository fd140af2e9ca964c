package user

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/commands"
)

// Sessions keeps what ends a user's sign-in tokens before they expire. It is
// stored, so that every API replica sees it.
type Sessions interface {
	// Current returns the user's session record (zero if none).
	Current(ctx context.Context, userID string) (Session, error)
	// EndAll ends every token issued to the user so far: it moves the
	// user's token generation on.
	EndAll(ctx context.Context, userID string) error
	// SignOut ends one token, by its id, until it expires anyway; past
	// MaxSignedOut unexpired ids it ends all of the user's tokens instead.
	SignOut(ctx context.Context, userID, tokenID string, expires, now time.Time) error
}

// MaxSignedOut bounds the signed-out token ids kept per user (each only
// until its token expires): a user who signs out more often than this within
// one token lifetime has all their tokens ended instead.
const MaxSignedOut = 100

// Session is what ends a user's tokens early.
type Session struct {
	// Generation is stamped into every token issued; tokens of an earlier
	// generation are ended.
	Generation int64
	// SignedOut are the ids of tokens ended one by one.
	SignedOut []SignedOut
}

// SignedOut is one ended token, remembered until it expires.
type SignedOut struct {
	TokenID   string
	ExpiresAt time.Time
}

// Accepts reports whether a token of generation gen with id tokenID is
// still good.
func (s Session) Accepts(gen int64, tokenID string) bool {
	return gen >= s.Generation && !slices.ContainsFunc(s.SignedOut, func(o SignedOut) bool { return o.TokenID == tokenID })
}

// Session returns the user's session record, for issuing and checking tokens.
func (s *Service) Session(ctx context.Context, userID string) (Session, error) {
	if s.Sessions == nil {
		return Session{}, nil
	}
	return s.Sessions.Current(ctx, userID)
}

// SignOut ends the token with id tokenID of userID.
func (s *Service) SignOut(ctx context.Context, userID, tokenID string, expires time.Time) error {
	if s.Sessions == nil || tokenID == "" {
		return nil
	}
	return s.Sessions.SignOut(ctx, userID, tokenID, expires, s.X.Clock())
}

// endSignIns ends every sign-in token of the user. It runs before the change
// that calls for it is stored: if the change then fails, the user signs in
// again, which is safe; the other way round, a stored change could leave old
// tokens working.
func (s *Service) endSignIns(ctx context.Context, userID string) error {
	if s.Sessions == nil {
		return nil
	}
	if err := s.Sessions.EndAll(ctx, userID); err != nil {
		return fmt.Errorf("end the user's tokens: %w", err)
	}
	return nil
}

// rolesRemoved decides the update on the current state and reports whether
// it takes a role away. A refused update is returned as refused, so that
// nothing is ended for it.
func (s *Service) rolesRemoved(ctx context.Context, id string, c Update) (bool, error) {
	if c.Roles == nil {
		return false, nil
	}
	state, _, err := commands.Load(ctx, s.X, Decider, id)
	if err != nil {
		return false, err
	}
	if _, err := Decide(state, c); err != nil {
		return false, err
	}
	for _, r := range state.Roles {
		if !slices.ContainsFunc(c.Roles, func(n string) bool { return strings.TrimSpace(n) == r }) {
			return true, nil
		}
	}
	return false, nil
}
