package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// handlerFunc is a handler for an authenticated caller; its error becomes the
// problem response.
type handlerFunc func(w http.ResponseWriter, r *http.Request, a actor) error

// actor is the authenticated caller.
type actor = events.Actor

// authed verifies the bearer token and, when roles are given, that the caller
// holds one of them (403 otherwise).
func (s *Server) authed(h handlerFunc, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="capstone"`)
			writeError(w, r, err)
			return
		}
		noteWho(r.Context(), actor.UserID)
		if len(roles) > 0 && !slices.ContainsFunc(roles, func(role string) bool { return slices.Contains(actor.Roles, role) }) {
			writeError(w, r, commands.ErrForbidden)
			return
		}
		// What an authenticated answer holds is the caller's: no cache
		// (browser or proxy) may keep it, whatever the handler writes.
		w.Header().Set("Cache-Control", "no-store")
		ctx := context.WithValue(r.Context(), keyActor, actor.Actor)
		ctx = context.WithValue(ctx, keyToken, actor.token)
		if err := h(w, r.WithContext(ctx), actor.Actor); err != nil {
			writeError(w, r, err)
		}
	}
}

var errUnauthenticated = problem(http.StatusUnauthorized, "unauthenticated", "send a valid bearer token (POST /v1/auth/sign-in)")

func meta(r *http.Request, a events.Actor) commands.Meta {
	return commands.Meta{Actor: a, CorrelationID: RequestID(r.Context()), NewID: newID(r.Context())}
}

func (s *Server) authRoutes(r *mux.Router) {
	r.HandleFunc("/v1/auth/sign-in", s.signIn).Methods(http.MethodPost)
	r.HandleFunc("/v1/me", s.authed(s.reads(s.getMe, readsFromStore))).Methods(http.MethodGet)
	r.HandleFunc("/v1/me/password", s.authed(s.changePassword)).Methods(http.MethodPut)
	r.HandleFunc("/v1/users/{id}/password-token", s.authed(s.issuePasswordToken, events.RoleCoordinator)).Methods(http.MethodPost)
	r.HandleFunc("/v1/auth/set-password", s.setPassword).Methods(http.MethodPost)
	r.HandleFunc("/v1/auth/sign-out", s.authed(s.signOut)).Methods(http.MethodPost)
}

// signOut ends the token in hand (and only it: the user's other sign-ins go
// on), on this replica at once and on the others within seconds.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, a actor) error {
	t := tokenFrom(r)
	if err := s.Users.SignOut(r.Context(), a.UserID, t.ID, t.ExpiresAt); err != nil {
		return err
	}
	s.forget(a.UserID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) issuePasswordToken(w http.ResponseWriter, r *http.Request, a actor) error {
	token, expires, err := s.Users.IssuePasswordToken(r.Context(), meta(r, a), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": expires})
	return nil
}

type setPasswordRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// setPassword needs no bearer token: the one-time token is the credential.
// Unknown tokens are counted per client address, which is slowed down (not
// locked out) past the limit.
func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	var req setPasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	c := clientFrom(r)
	key := c.key()
	if ok, wait := s.TokenThrottle.Reserve(key, s.Now()); !ok {
		s.Log.WarnContext(r.Context(), "set-password refused: too many unknown tokens", "client", c.String())
		writeError(w, r, tooManyAttempts("too many failed attempts; wait before trying again", wait))
		return
	}
	var res commands.Result[user.State]
	err := s.passwordWork(r.Context(), false, func() (err error) {
		res, err = s.Users.SetPasswordWithToken(r.Context(), commands.Meta{CorrelationID: RequestID(r.Context())}, req.Token, req.Password)
		return err
	})
	switch outcomeOf(err, user.ErrBadToken.Code) {
	case failed:
		s.TokenThrottle.Failed(key, s.Now())
		s.Log.WarnContext(r.Context(), "set-password failed: unknown, used or expired token", "client", c.String())
	case succeeded:
		s.TokenThrottle.Succeeded(key, s.Now())
	default:
		s.TokenThrottle.Abandoned(key, s.Now())
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.forget(res.State.ID)
	writeJSON(w, http.StatusOK, map[string]any{"id": res.State.ID, "version": res.Version})
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type signInResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
	User      userJSON  `json:"user"`
}

// signIn answers one 401 for every kind of wrong credentials (see SignIn).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	in, err := s.SignIn(r, req.Email, req.Password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, signInResponse{Token: in.Token, TokenType: "Bearer", ExpiresAt: in.ExpiresAt.UTC(), User: userFromState(in.User, in.Version)})
}

// SignedIn is a successful sign-in: the bearer token and who it is for.
type SignedIn struct {
	Token     string
	ExpiresAt time.Time
	User      user.State
	Version   int64
}

// SignIn checks an e-mail and password and issues a bearer token, for
// POST /v1/auth/sign-in and for any other sign-in route served beside the
// API (the original frontend's), so that every way in is throttled,
// audited and issued alike. Each attempt is counted by the sign-in
// throttle before its password is checked, and the check waits for a slot
// of the password gate; returning users (whose address signed in to the
// account before) are served first. Every kind of wrong credentials is one
// refusal, user.ErrInvalidCredentials.
func (s *Server) SignIn(r *http.Request, email, password string) (SignedIn, error) {
	c := clientFrom(r)
	account, client := accountKey(email), c.key()
	ok, wait, known := s.SignInThrottle.Begin(account, client, s.Now())
	if !ok {
		s.Log.WarnContext(r.Context(), "sign-in refused: too many failures", "email", logEmail(email), "client", c.String())
		return SignedIn{}, tooManyAttempts("too many failed sign-ins; wait before trying again", wait)
	}
	var res commands.Result[user.State]
	err := s.passwordWork(r.Context(), known, func() (err error) {
		res, err = s.Users.SignIn(r.Context(), email, password)
		return err
	})
	switch outcomeOf(err, user.ErrInvalidCredentials.Code) {
	case failed:
		s.SignInThrottle.Failed(account, client, s.Now())
		s.Log.WarnContext(r.Context(), "sign-in failed: wrong e-mail or password", "email", logEmail(email), "client", c.String())
	case succeeded:
		s.SignInThrottle.Succeeded(account, client, s.Now())
	default:
		s.SignInThrottle.Abandoned(account, client, s.Now())
	}
	if err != nil {
		return SignedIn{}, err
	}
	u := res.State
	noteWho(r.Context(), u.ID)
	s.Log.InfoContext(r.Context(), "signed in", "user", u.ID, "client", c.String())
	session, err := s.Users.Session(r.Context(), u.ID)
	if err != nil {
		return SignedIn{}, err
	}
	token, exp, err := s.Tokens.Issue(u.ID, u.Roles, session.Generation, s.Now())
	if err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Token: token, ExpiresAt: exp, User: u, Version: res.Version}, nil
}

// tooManyAttempts is the 429 of the throttles, with Retry-After in whole
// seconds, rounded up so a client that waits that long is let in.
func tooManyAttempts(detail string, wait time.Duration) *Problem {
	p := problem(http.StatusTooManyRequests, "too-many-attempts", detail)
	p.RetryAfter = max(1, int((wait+time.Second-1)/time.Second))
	return p
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	res, err := s.Users.Get(r.Context(), a.UserID)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, userFromState(res.State, res.Version))
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword is throttled per user like sign-in: whoever holds a stolen
// token must not be able to guess the current password at full speed.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req changePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if ok, wait := s.PasswordThrottle.Reserve(a.UserID, s.Now()); !ok {
		s.Log.WarnContext(r.Context(), "password change refused: too many wrong current passwords", "user", a.UserID, "client", clientFrom(r).String())
		return tooManyAttempts("too many wrong current passwords; wait before trying again", wait)
	}
	var res commands.Result[user.State]
	err := s.passwordWork(r.Context(), true, func() (err error) {
		res, err = s.Users.ChangePassword(r.Context(), meta(r, a), a.UserID, req.CurrentPassword, req.NewPassword)
		return err
	})
	switch outcomeOf(err, user.ErrWrongPassword.Code) {
	case failed:
		s.PasswordThrottle.Failed(a.UserID, s.Now())
		s.Log.WarnContext(r.Context(), "password change failed: wrong current password", "user", a.UserID, "client", clientFrom(r).String())
	case succeeded:
		s.PasswordThrottle.Succeeded(a.UserID, s.Now())
	default:
		s.PasswordThrottle.Abandoned(a.UserID, s.Now())
	}
	if err != nil {
		return err
	}
	s.forget(a.UserID) // the token in hand ends with the others
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, map[string]any{"id": a.UserID, "version": res.Version})
	return nil
}
