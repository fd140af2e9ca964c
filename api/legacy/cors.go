package legacy

import (
	"net/http"
	"slices"
	"strings"
)

// cors lets the frontend's pages, served from another origin, call these
// routes. Every call of the frontend is a non-simple request (a JSON body,
// a bearer token), so the browser first asks with a preflight: it is
// answered 204 naming the methods and the two headers the frontend sends
// (a * would not cover Authorization). Every other answer, an error
// included, carries Access-Control-Allow-Origin, without which the
// browser hands the page a bare "Network Error". No cookies are sent (the
// token is in a header), so any origin may be allowed safely; with a list,
// only the origins in it are.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		allowed := s.originAllowed(origin)
		switch {
		case s.Origins == nil:
			h.Set("Access-Control-Allow-Origin", "*")
		case allowed:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		default:
			h.Add("Vary", "Origin")
		}
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if origin != "" && !allowed {
			http.Error(w, "this origin may not call the service (--legacy-origins)", http.StatusForbidden)
			return
		}
		h.Set("Allow", "GET, POST, OPTIONS")
		if r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			// A page on a public origin calling 127.0.0.1 asks first whether
			// the private network may be reached (Chrome).
			if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// originAllowed reports whether a page of origin may call the routes.
func (s *Server) originAllowed(origin string) bool {
	return s.Origins == nil || slices.Contains(s.Origins, strings.ToLower(origin))
}

// RefusalHeader is the CORS header of an answer written before any handler
// runs (a connection refused over the connection limits), from the start
// of the request it answers: without it the page would see a bare network
// error instead of the 503 and its Retry-After.
func (s *Server) RefusalHeader(request []byte) http.Header {
	origin := requestOrigin(request)
	switch {
	case s.Origins == nil:
		return http.Header{"Access-Control-Allow-Origin": {"*"}}
	case origin != "" && s.originAllowed(origin):
		return http.Header{"Access-Control-Allow-Origin": {origin}, "Vary": {"Origin"}}
	}
	return http.Header{"Vary": {"Origin"}}
}

// requestOrigin is the Origin header among the lines of a request's start
// ("" when it has none, or it is not among the bytes given).
func requestOrigin(request []byte) string {
	head, _, _ := strings.Cut(string(request), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for _, line := range lines[min(1, len(lines)):] {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Origin") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
