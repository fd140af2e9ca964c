package api

import (
	"net/http"
	"path"
	"strings"
)

// hstsMaxAge is how long a browser that saw the service over https keeps to
// https for it: a year, the usual value.
const hstsMaxAge = "max-age=31536000"

// secureHeaders sets the headers every answer carries.
//
// nosniff stops a browser from running a JSON or CSV answer as a script or
// page. HSTS is only meaningful over https, so it is sent when the client
// reached us over TLS, directly or (as a trusted proxy says) through the
// load balancer.
func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if clientFrom(r).HTTPS {
			h.Set("Strict-Transport-Security", hstsMaxAge)
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPaths refuses paths that would need cleaning. A path such as
// //v1/users or /v1/x/../users is answered 404 rather than redirected: a
// 301 makes clients repeat a POST as a GET, and a cleaned path may reach a
// route a proxy in front would have refused. It runs after the refusal of
// an HTTP version the server does not speak (httpVersions), whose 505
// comes first whatever the path.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if needsCleaning(r.URL.Path) {
			writeError(w, r, errNoRoute)
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errNoRoute = problem(http.StatusNotFound, "route-not-found", "no such route")

// needsCleaning reports whether p has empty, "." or ".." segments, or does
// not start with a slash. A trailing slash is kept (no route has one, so such
// a path is a plain 404).
func needsCleaning(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean != p
}
