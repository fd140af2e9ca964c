package api

import (
	"context"
	"net/http"

	"github.com/go-json-experiment/json"
	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// What other HTTP faces of the service (the original frontend's routes, on
// a listener of their own) share with this API, so that a request reaching
// the service either way is authenticated, throttled, recorded and settled
// alike.

// Edge wraps h in the middleware every answer of the API goes through: the
// client (for the throttles and the logs), a request id, the security
// headers, the refusal of an HTTP version after 1.1, then of a path that
// would need cleaning, the JSON body deadline, panic recovery, and the
// refusal of a path or query that is not text. Handlers behind it may call
// SignIn and Authenticate.
func (s *Server) Edge(h http.Handler) http.Handler {
	return s.withClient(s.withRequestID(s.secureHeaders(httpVersions(cleanPaths(s.bodyDeadline(s.recoverer(textURL(h))))))))
}

// EdgeAnswering is Edge for a face whose refusals have a shape of their
// own: what the edge refuses (a path that would need cleaning, a path or
// query that is not text, an HTTP version after 1.1, a panic), and what the
// API's middleware installed inside it refuses (SettleEvery), is answered
// by refuse, as the face's own handlers answer, rather than as /v1's
// problem+json.
func (s *Server) EdgeAnswering(h http.Handler, refuse Refuser) http.Handler {
	edge := s.Edge(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edge.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refuserKey{}, refuse)))
	})
}

// Observe gives every route of r what the API's routes have: a span and an
// access log line each, and the HTTP metrics. Install the settling of
// writes (SettleEvery) after it with r.Use, so that it runs inside them:
// the log line and the duration then cover the wait for the read models,
// as the client waits for it.
func (s *Server) Observe(r *mux.Router) {
	r.Use(s.observe)
	if s.Metrics != nil {
		s.Metrics.Instrument(r)
	}
}

// Authenticate is the bearer-token check of every protected /v1 route: the
// same tokens, revocation and roles (taken from the user, not the token),
// and the caller noted for the access log. It needs the principal cache
// that Handler builds, so Handler is called first.
func (s *Server) Authenticate(r *http.Request) (events.Actor, error) {
	c, err := s.authenticate(r)
	if err == nil {
		noteWho(r.Context(), c.UserID)
	}
	return c.Actor, err
}

// Forget drops what this replica caches of a user whose tokens, roles or
// existence a request just changed.
func (s *Server) Forget(userID string) { s.forget(userID) }

// Meta is the metadata of a command made on behalf of a, within request r:
// the actor, and the request id as the correlation id.
func Meta(r *http.Request, a events.Actor) commands.Meta { return meta(r, a) }

// ProblemOf is the problem an error answers with: its status, stable code
// and message (a 500 whose cause stays in the logs for anything that is not
// a refusal).
func ProblemOf(err error) *Problem { return toProblem(err) }

// lenientJSON reads a body as strictJSON does, except that members the
// target does not have are ignored.
var lenientJSON = json.JoinOptions(strictJSON, json.RejectUnknownMembers(false))

// DecodeLenientJSON reads a JSON object into dst as the API's own routes
// do (application/json, at most MaxJSONBody bytes, valid UTF-8, no name
// twice, nothing after the object), except that members dst does not have
// are ignored: for a client whose request shapes this service does not
// own, which sends what its forms hold.
func DecodeLenientJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeJSONWith(w, r, dst, lenientJSON)
}
