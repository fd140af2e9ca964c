package legacy

import (
	"net/http"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/events"
)

// roleCoordinator is the original's name for the coordinator role.
const roleCoordinator = "project_coordinator"

// legacyRoles are a user's roles as the frontend tests them.
func legacyRoles(roles []string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		if r == events.RoleCoordinator {
			r = roleCoordinator
		}
		out[i] = r
	}
	return out
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// signedIn is the original's sign-in answer, which the frontend keeps
// whole: the token (the one /v1 takes) and the user's e-mail, name and
// roles, from which it builds its menus and guards.
type signedIn struct {
	Token string   `json:"token"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// signIn (C01) is /v1's sign-in: the same throttle, password gate and
// tokens. A refusal is JSON with a message, the one error body the
// frontend reads (its login form shows it).
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	err := api.DecodeLenientJSON(w, r, &req)
	if err == nil && (req.Email == "" || req.Password == "") {
		err = &api.Problem{Status: http.StatusBadRequest, Code: "invalid", Detail: "email and password are required"}
	}
	var in api.SignedIn
	if err == nil {
		in, err = s.API.SignIn(r, req.Email, req.Password)
	}
	if err != nil {
		status, msg := s.refusal(w, r, err)
		writeJSON(w, status, map[string]string{"message": msg})
		return
	}
	writeJSON(w, http.StatusOK, signedIn{Token: in.Token, Email: in.User.Email, Name: in.User.Name, Roles: legacyRoles(in.User.Roles)})
}
