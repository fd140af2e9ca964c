package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/queries"
)

// ErrCatchingUp is Ready's answer while the read models still lack commits
// stored before the process started (a restart after a crash): /readyz
// answers 503 catching-up, so that no read is sent that would miss a write
// already acknowledged.
var ErrCatchingUp = errors.New("the read models are still applying the commits stored before this process started")

// Server holds what the HTTP handlers call.
type Server struct {
	Users       *user.Service
	Cohort      *cohort.Service
	UserQ       queries.Users
	ProjectQ    queries.Projects
	SupervisorQ queries.Supervisors
	StudentQ    queries.Students
	ExportQ     queries.Exports
	MarkingQ    queries.Marking
	CSV         CSVWriter
	Tokens      Tokens
	// SignInThrottle counts sign-in attempts per account and client,
	// PasswordThrottle password changes per user, TokenThrottle unknown
	// set-password tokens per client; PasswordGate bounds the password
	// checks in flight (nil: unbounded).
	SignInThrottle   SignInThrottle
	PasswordThrottle Throttle
	TokenThrottle    Throttle
	PasswordGate     PasswordGate
	// Idempotency, when set, makes POSTs with an Idempotency-Key repeatable.
	Idempotency IdempotencyStore
	// Ready reports whether the store and the bus are reachable, and the
	// read models current enough to serve (ErrCatchingUp if not).
	Ready func(ctx context.Context) error
	// ParseImport reads CSV uploads; Importer applies them (dry: nothing stored).
	ParseImport ImportParser
	Importer    func(dry bool) *imports.Importer
	// Admin serves the projections' status and rebuilds.
	Admin Admin
	// Consistency, when set, gives every write's answer a bookmark that
	// reads take as ?after=, and settles writes (see Consistency).
	Consistency *Consistency
	// Metrics, when set, instruments every route and serves /metrics.
	Metrics Instrumenter
	// HealthOnly serves only /healthz, /readyz and /metrics: the HTTP face of
	// a process that runs workers but not the API.
	HealthOnly bool
	Log        *slog.Logger
	Now        func() time.Time
	// BodyTimeout is how long a JSON request body may take to arrive (0:
	// only the HTTP server's own timeouts).
	BodyTimeout time.Duration
	// MetricsApart: /metrics has a listener of its own and is not served
	// here; otherwise it is served here to loopback clients only.
	MetricsApart bool
	// TrustedProxies are the networks of the proxies (the load balancer)
	// whose X-Forwarded-For and X-Forwarded-Proto are believed; from any
	// other peer they are ignored.
	TrustedProxies []netip.Prefix

	principals *principalCache
	// supervisorPages are the supervisors list's encoded pages (pageCache).
	supervisorPages *pageCache
}

// Route is one registered route: a method and a path template.
type Route struct{ Method, Path string }

// Routes lists every route the server registers, so tests can check that
// each one is documented and has a row in the authorization table.
func (s *Server) Routes() []Route {
	c := *s // a copy: building a router resets per-server state such as the principal cache
	r := c.router()
	var out []Route
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err1 := route.GetPathTemplate()
		methods, err2 := route.GetMethods()
		if err1 == nil && err2 == nil {
			for _, m := range methods {
				if m == http.MethodHead {
					continue // every GET's, by AnswerHead
				}
				out = append(out, Route{Method: m, Path: path})
			}
		}
		return nil
	})
	return out
}

// AnswerHead answers HEAD on every route of r that takes GET, with the
// route's own handler (the same authentication, ETag and status): HTTP has
// a server answer HEAD wherever it answers GET (RFC 9110, section 9.3.2),
// and mux, unlike http.ServeMux, matches only the methods a route lists,
// so HEAD was a 405. net/http sends no body in answer to HEAD. Call it once
// every route is registered; Allow then lists HEAD beside GET.
func AnswerHead(r *mux.Router) {
	type head struct {
		path    string
		handler http.Handler
	}
	var heads []head
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err1 := route.GetPathTemplate()
		methods, err2 := route.GetMethods()
		if err1 == nil && err2 == nil && slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
			heads = append(heads, head{path, route.GetHandler()})
		}
		return nil
	})
	for _, h := range heads {
		r.Handle(h.path, h.handler).Methods(http.MethodHead)
	}
}

// Allow lists the methods router serves at the request's path, for the
// Allow header that a 405 must carry (RFC 9110, section 15.5.6).
func Allow(router *mux.Router, req *http.Request) string {
	var methods []string
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		var m mux.RouteMatch
		if route.Match(req, &m) || errors.Is(m.MatchErr, mux.ErrMethodMismatch) {
			ms, _ := route.GetMethods()
			for _, x := range ms {
				if !slices.Contains(methods, x) {
					methods = append(methods, x)
				}
			}
		}
		return nil
	})
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

// Handler returns the routed HTTP handler with its middleware.
func (s *Server) Handler() http.Handler {
	return s.Edge(singleValued(s.router()))
}

func (s *Server) router() *mux.Router {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.principals = newPrincipalCache(2 * time.Second)
	s.supervisorPages = &pageCache{}
	// Paths needing cleaning are refused before routing (cleanPaths),
	// never redirected.
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNoRoute)
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", Allow(r, req))
		writeError(w, req, problem(http.StatusMethodNotAllowed, "method-not-allowed", "this route does not take "+req.Method))
	})
	s.Observe(r)
	r.Use(s.settleWrites, presentOnly)
	s.healthRoutes(r)
	r.HandleFunc("/openapi.json", serveOpenAPI).Methods(http.MethodGet)
	if s.Metrics != nil && !s.MetricsApart {
		r.Handle("/metrics", metricsGuard(s.Metrics.Handler())).Methods(http.MethodGet)
	}
	if !s.HealthOnly {
		s.authRoutes(r)
		s.userRoutes(r)
		s.projectRoutes(r)
		s.cohortRoutes(r)
		s.markingRoutes(r)
		s.importRoutes(r)
		s.allocationRoutes(r)
		s.exportRoutes(r)
		if s.Admin != nil {
			s.adminRoutes(r)
		}
	}
	AnswerHead(r)
	return r
}

// Instrumenter records per-route HTTP metrics and serves them.
type Instrumenter interface {
	// Instrument installs the metrics middleware on every route, including
	// the not-found and method-not-allowed answers.
	Instrument(r *mux.Router)
	Handler() http.Handler
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientRequestID
	keyWho
	keyActor
	keyClient
	keyToken
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// withRequestID gives every request an id of the server's own, which is
// answered in X-Request-Id, carried into every event as the correlation id
// and onto every log line. A client's own X-Request-Id (if sane) is kept
// apart: echoed in X-Client-Request-Id and logged beside the server's, never
// stored as the correlation id, so a client cannot make its requests share
// an id with someone else's in the audit trail.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.Must(uuid.NewV7()).String()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		if c := r.Header.Get("X-Request-Id"); c != "" && requestIDPattern.MatchString(c) {
			w.Header().Set("X-Client-Request-Id", c)
			ctx = context.WithValue(ctx, keyClientRequestID, c)
		}
		ctx = context.WithValue(ctx, keyWho, new(string))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientRequestID returns the X-Request-Id the client sent with the request
// ctx belongs to ("" if none, or not a sane one).
func ClientRequestID(ctx context.Context) string {
	id, _ := ctx.Value(keyClientRequestID).(string)
	return id
}

// noteWho records the authenticated caller of the request, for its access
// log line (written outside the handler that authenticates).
func noteWho(ctx context.Context, userID string) {
	if who, ok := ctx.Value(keyWho).(*string); ok {
		*who = userID
	}
}

// whoOf is the caller noteWho recorded ("" for an anonymous request).
func whoOf(ctx context.Context) string {
	if who, ok := ctx.Value(keyWho).(*string); ok {
		return *who
	}
	return ""
}

// recoverer turns a panic into a logged 500 rather than a dropped connection.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "panic in handler", "panic", v, "stack", string(debug.Stack()))
				writeError(w, r, problem(http.StatusInternalServerError, "internal", "something went wrong on our side; it has been logged"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthRoutes(r *mux.Router) {
	r.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if s.Ready != nil {
			// A probe answered "not yet" is logged as that, not as a
			// failed request: at Info while the read models catch up
			// after a start, which is expected, else as a warning. A
			// probe whose client gave up first (Kubernetes waits 1 s by
			// default) learnt nothing, and says nothing of the service:
			// it is recorded as any request whose client went away.
			if err := s.Ready(ctx); err != nil {
				switch {
				case r.Context().Err() != nil:
					writeError(w, r, fmt.Errorf("checking readiness: %w", err))
				case commands.IsStorageFull(err):
					s.Log.WarnContext(ctx, "not ready", "err", err)
					writeProblem(w, problem(http.StatusServiceUnavailable, "store-unwritable", "the store has no space left for writes"))
				case errors.Is(err, ErrCatchingUp):
					s.Log.InfoContext(ctx, "not ready yet", "err", err)
					writeProblem(w, problem(http.StatusServiceUnavailable, "catching-up", ErrCatchingUp.Error()))
				default:
					s.Log.WarnContext(ctx, "not ready", "err", err)
					writeProblem(w, problem(http.StatusServiceUnavailable, "not-ready", "a dependency is unreachable"))
				}
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}).Methods(http.MethodGet)
}
