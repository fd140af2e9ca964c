package legacy

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// Server serves the original frontend's routes through the API's use cases.
type Server struct {
	// API is the /v1 server whose use cases, queries, tokens, throttles and
	// read-after-write machinery these routes share. Its Handler is built
	// first: it makes the cache that authentication reads.
	API *api.Server
	// Origins are the origins whose pages may call these routes (CORS);
	// nil allows any.
	Origins []string
	Log     *slog.Logger
}

// handler serves one call for an authenticated caller; its error becomes
// the answer.
type handler func(w http.ResponseWriter, r *http.Request, a events.Actor) error

// route is one call of the original frontend and who may make it: the
// caller holds one of roles, or with none given is any signed-in user;
// the sign-in alone (signIn, not serve) needs no token.
type route struct {
	method, path string
	roles        []string
	serve        handler
	signIn       http.HandlerFunc
}

// routes is every call the frontend makes (docs/legacy.md, C01 to C22).
func (s *Server) routes() []route {
	coord, student, supervisor := []string{events.RoleCoordinator}, []string{events.RoleStudent}, []string{events.RoleSupervisor}
	return []route{
		{method: http.MethodPost, path: "/sign-in", signIn: s.signIn},
		{method: http.MethodPost, path: "/student/info", roles: coord, serve: s.upload(kindStudents)},
		{method: http.MethodPost, path: "/supervisor/info", roles: coord, serve: s.upload(kindSupervisors)},
		{method: http.MethodPost, path: "/examiner/info", roles: coord, serve: s.upload(kindExaminers)},
		{method: http.MethodPost, path: "/supervisor/assignment_info", roles: coord, serve: s.upload(kindSupervisorAssignments)},
		{method: http.MethodPost, path: "/secondary_examiner/info", roles: coord, serve: s.upload(kindExaminerAssignments)},
		{method: http.MethodPost, path: "/supervisor/final_grades", roles: coord, serve: s.upload(kindFinalGrades)},
		{method: http.MethodGet, path: "/student/all", roles: coord, serve: s.allStudents},
		{method: http.MethodGet, path: "/supervisor/all", serve: s.allSupervisors},
		{method: http.MethodGet, path: "/student/overview", roles: student, serve: s.studentOverview},
		{method: http.MethodPost, path: "/student/project_info", roles: student, serve: s.putProjectInfo},
		{method: http.MethodGet, path: "/student/shortlist", roles: student, serve: s.getShortlist},
		{method: http.MethodPost, path: "/student/shortlist", roles: student, serve: s.postShortlist},
		{method: http.MethodGet, path: "/supervisor/info/{supervisor_email}", serve: s.supervisorByEmail},
		{method: http.MethodGet, path: "/student/project_proposal/{supervisor_email}", roles: student, serve: s.getProposal},
		{method: http.MethodPost, path: "/student/project_proposal", roles: student, serve: s.postProposal},
		{method: http.MethodGet, path: "/supervisor/overview", roles: supervisor, serve: s.supervisorOverview},
		{method: http.MethodPost, path: "/supervisor/project_info", roles: supervisor, serve: s.putSupervisorInfo},
		{method: http.MethodGet, path: "/supervisor/info", roles: supervisor, serve: s.supervisorOverview},
		{method: http.MethodGet, path: "/supervisor/pending_proposals", roles: supervisor, serve: s.pendingProposals},
		{method: http.MethodPost, path: "/supervisor/pending_proposal", roles: supervisor, serve: s.decideProposal},
		{method: http.MethodGet, path: "/supervisor/supervisees", roles: supervisor, serve: s.supervisees},
	}
}

// Route is one registered route: a method and a path template.
type Route = api.Route

// Routes lists every route served, for the tests that check each one.
func (s *Server) Routes() []Route {
	var out []Route
	for _, rt := range s.routes() {
		out = append(out, Route{Method: rt.method, Path: rt.path})
	}
	return out
}

// Handler returns the routes with their middleware: CORS outermost, so
// that every answer carries it (a browser shows an answer without it as a
// bare network error), then the API's edge, whose refusals are plain text
// like every other here; inside the router, the access
// log and metrics, then the settling of writes.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNoRoute)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", api.Allow(r, req))
		s.writeError(w, req, &api.Problem{Status: http.StatusMethodNotAllowed, Code: "method-not-allowed", Detail: "this route does not take " + req.Method})
	})
	s.API.Observe(r)
	r.Use(s.API.SettleEvery)
	for _, rt := range s.routes() {
		h := rt.signIn
		if h == nil {
			h = s.authed(rt.serve, rt.roles...)
		}
		r.HandleFunc(rt.path, h).Methods(rt.method)
	}
	api.AnswerHead(r)
	return s.cors(s.API.EdgeAnswering(r, s.refuse))
}

var errNoRoute = &api.Problem{Status: http.StatusNotFound, Code: "route-not-found", Detail: "no such route"}

// Refusals of the edge, in the original's words.
var (
	errUnauthenticated = &api.Problem{Status: http.StatusUnauthorized, Code: "unauthenticated",
		Detail: "Unauthorized: sign in again (the token is missing, expired or ended)"}
	errForbidden = &api.Problem{Status: http.StatusForbidden, Code: "forbidden",
		Detail: "Unauthorized: your roles do not allow this"}
)

// authed authenticates the caller as /v1 does (the same tokens, revocation
// and roles) and, when roles are given, checks that they hold one.
func (s *Server) authed(h handler, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.API.Authenticate(r)
		if err != nil {
			if p := api.ProblemOf(err); p.Status == http.StatusUnauthorized {
				err = errUnauthenticated
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="capstone"`)
			s.writeError(w, r, err)
			return
		}
		if len(roles) > 0 && !slices.ContainsFunc(roles, func(role string) bool { return slices.Contains(a.Roles, role) }) {
			s.writeError(w, r, errForbidden)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r, a); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// notFoundAs answers a query's not-found with the original's refusal.
func notFoundAs(err error, p *api.Problem) error {
	if isNotFound(err) {
		return p
	}
	return err
}

func isNotFound(err error) bool {
	return errors.Is(err, queries.ErrNotFound) || errors.Is(err, commands.ErrNotFound)
}
