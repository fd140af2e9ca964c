package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

func (s *Server) userRoutes(r *mux.Router) {
	coord := events.RoleCoordinator
	r.HandleFunc("/v1/users", s.authed(s.idempotent(s.createUser), coord)).Methods(http.MethodPost)
	// A lookup by e-mail reads the addresses' read model first.
	r.HandleFunc("/v1/users", s.authed(s.reads(s.listUsers, projections.CollUsers, projections.CollEmails), coord)).Methods(http.MethodGet)
	r.HandleFunc("/v1/users/{id}", s.authed(s.reads(s.getUser, projections.CollUsers))).Methods(http.MethodGet)
	r.HandleFunc("/v1/users/{id}", s.authed(s.patchUser)).Methods(http.MethodPatch)
	r.HandleFunc("/v1/users/{id}", s.authed(s.deleteUser, coord)).Methods(http.MethodDelete)
	r.HandleFunc("/v1/users/{id}/history", s.authed(s.reads(s.userHistory, readsFromStore))).Methods(http.MethodGet)
}

// userJSON is a user in responses.
type userJSON struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Name      string         `json:"name"`
	Roles     []string       `json:"roles"`
	Profile   events.Profile `json:"profile"`
	Version   int64          `json:"version"`
	CreatedAt *time.Time     `json:"created_at,omitempty"`
	UpdatedAt *time.Time     `json:"updated_at,omitempty"`
}

func userFromDoc(d projections.UserDoc) userJSON {
	return userJSON{ID: d.ID, Email: d.Email, Name: d.Name, Roles: d.Roles, Profile: d.Profile, Version: d.Version,
		CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt)}
}

func userFromState(s user.State, version int64) userJSON {
	return userJSON{ID: s.ID, Email: s.Email, Name: s.Name, Roles: s.Roles, Profile: s.Profile, Version: version,
		CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt)}
}

func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

type createUserRequest struct {
	Email    string         `json:"email"`
	Name     string         `json:"name"`
	Roles    []string       `json:"roles"`
	Password string         `json:"password"`
	Profile  events.Profile `json:"profile"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	var req createUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.Users.Create(r.Context(), meta(r, a),
		user.Create{Email: req.Email, Name: req.Name, Roles: req.Roles, Profile: req.Profile}, req.Password)
	if err != nil {
		return err
	}
	markReplayed(w, res.Replayed)
	w.Header().Set("Location", "/v1/users/"+res.State.ID)
	setETag(w, res.Version)
	writeJSON(w, http.StatusCreated, userFromState(res.State, res.Version))
	return nil
}

type listJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	q := r.URL.Query()
	limit, cursor, err := listParams(r)
	if err != nil {
		return err
	}
	role := q.Get("role")
	if role != "" && !contains(user.ValidRoles, role) {
		return commands.Invalid(commands.FieldError{Field: "role", Message: "is not a role"})
	}
	page, err := s.UserQ.List(r.Context(), a, queries.UserFilter{Role: role, Query: trimmed(q.Get("q"), 100),
		Email: user.NormalizeEmail(trimmed(q.Get("email"), 254)), Code: trimmed(q.Get("code"), 64), Cursor: cursor, Limit: limit})
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{Items: make([]userJSON, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, d := range page.Items {
		out.Items[i] = userFromDoc(d)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	minVersion, err := queryInt(r, "min_version")
	if err != nil {
		return err
	}
	doc, err := s.UserQ.Get(r.Context(), a, mux.Vars(r)["id"], minVersion)
	if err != nil {
		return err
	}
	setETag(w, doc.Version)
	writeJSON(w, http.StatusOK, userFromDoc(doc))
	return nil
}

type patchUserRequest struct {
	Name    *string         `json:"name"`
	Roles   []string        `json:"roles"`
	Profile *events.Profile `json:"profile"`
}

// patchUser lets a coordinator change anything editable and a user change
// their own name.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	id := mux.Vars(r)["id"]
	if !visibility.SeesUser(a, id) {
		return commands.ErrNotFound
	}
	coordinator := queries.IsCoordinator(a)
	var req patchUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Users.Update(r.Context(), meta(r, a), id, expect, user.Update{Name: req.Name, Roles: req.Roles, Profile: req.Profile, NameOnly: !coordinator})
	if err != nil {
		return err
	}
	s.forget(id)
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, userFromState(res.State, res.Version))
	return nil
}

var errDeleteSelf = &commands.Error{Kind: commands.KindRule, Code: "cannot-delete-self",
	Message: "a coordinator cannot delete their own account; ask another coordinator"}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	id := mux.Vars(r)["id"]
	if id == a.UserID {
		return errDeleteSelf
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Users.Delete(r.Context(), meta(r, a), id, expect)
	if err != nil {
		return err
	}
	s.forget(id)
	setETag(w, res.Version) // the new version, for ?min_version= on a later read
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) userHistory(w http.ResponseWriter, r *http.Request, a events.Actor) error {
	evs, err := s.UserQ.History(r.Context(), a, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	out, err := historyPage(r, evs)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
