package api

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
)

// pastStatesRoute is the one read with past states: a project, folded
// from its history as it was at a time (as_of) or a version (at_version).
const pastStatesRoute = "/v1/projects/{id}"

// presentOnly refuses as_of and at_version on every other read of /v1,
// whatever their value: answered with the present state, a client that
// asked for the past (a user as they were before an edit, say) would take
// the present for it. Other parameters a route does not take are ignored,
// as a cache-busting ?_= from a browser must be. It runs after routing,
// so an unknown route stays a 404.
func presentOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if route := mux.CurrentRoute(r); route != nil {
				path, _ := route.GetPathTemplate()
				if strings.HasPrefix(path, "/v1/") && path != pastStatesRoute {
					var v commands.Validation
					q := r.URL.Query()
					for _, name := range []string{"as_of", "at_version"} {
						if q.Has(name) {
							v.Add(name, "is taken only by GET /v1/projects/{id}: nothing else has past states to answer")
						}
					}
					if err := v.Err(); err != nil {
						writeError(w, r, err)
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
