package loadgen

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAPI is a FAKE of the Capstone HTTP API, for testing the load generator
// itself: it serves only the routes the generator uses, with just enough
// behaviour (tokens, roles, versions, If-Match, a read side that lags by a
// set delay, refusals and injected failures) to check that the generator
// counts, classifies and times what it sends. It says nothing about the real
// service; the end-to-end run against the real service is tested in
// cmd/capstone, which this package must not import.
type fakeAPI struct {
	lag            time.Duration // a write shows in GET this long after its answer
	failEveryPatch int           // every nth PATCH answers 500 and changes nothing (0: never)
	busySignIns    int           // the first n sign-ins answer 503 busy, Retry-After 1, as the service's throttle does
	// requests counts the answers to the API's routes: /metrics shows it
	// as the events appended and a millisecond of CPU time each.
	requests atomic.Int64

	mu       sync.Mutex
	seq      int
	users    map[string]*fakeUser // by id
	byEmail  map[string]string
	tokens   map[string]string // token -> user id
	projects map[string]*fakeProject
	hits     map[string]int // by route, as "METHOD pattern"
	created  map[string]int // POST /v1/projects, "draft" or "submitted"
	patch500 int
	accepts  int
	rejects  int
	deleted  int
}

type fakeUser struct {
	id, email, password string
	roles               []string
	deleted             bool
}

type fakeProject struct {
	id, owner, sup, status string
	versions               []fakeVersion // each version and when it shows in GET
}

type fakeVersion struct {
	v     int64
	shows time.Time
}

func (p *fakeProject) version() int64 { return p.versions[len(p.versions)-1].v }

// visible is the version a GET sees now, 0 for none yet.
func (p *fakeProject) visible(now time.Time) int64 {
	var v int64
	for _, x := range p.versions {
		if !now.Before(x.shows) {
			v = x.v
		}
	}
	return v
}

const fakeAdminEmail, fakeAdminPassword = "coordinator@uni.example", "the coordinator pw"

// startFake starts the fake with its coordinator and returns it and its URL.
func startFake(t *testing.T, f *fakeAPI) (*fakeAPI, string) {
	t.Helper()
	f.users, f.byEmail, f.tokens = map[string]*fakeUser{}, map[string]string{}, map[string]string{}
	f.projects, f.hits, f.created = map[string]*fakeProject{}, map[string]int{}, map[string]int{}
	f.addUser(fakeAdminEmail, fakeAdminPassword, []string{"coordinator"})
	mux := http.NewServeMux()
	for pattern, h := range map[string]func(http.ResponseWriter, *http.Request, *fakeUser){
		"POST /v1/users":                   f.createUser,
		"DELETE /v1/users/{id}":            f.deleteUser,
		"PUT /v1/supervisors/{id}/profile": f.putProfile,
		"GET /v1/supervisors":              f.listSupervisors,
		"POST /v1/projects":                f.createProject,
		"GET /v1/projects":                 f.listProjects,
		"GET /v1/projects/{id}":            f.getProject,
		"PATCH /v1/projects/{id}":          f.patchProject,
		"POST /v1/projects/{id}/decision":  f.decide,
	} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.requests.Add(1)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hits[pattern]++
			id, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			u := f.users[f.tokens[id]]
			if u == nil || u.deleted {
				fakeProblem(w, 401, "unauthenticated")
				return
			}
			h(w, r, u)
		})
	}
	mux.HandleFunc("POST /v1/auth/sign-in", f.signIn)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		n := f.requests.Load()
		fmt.Fprintf(w, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", 50<<20)
		fmt.Fprintf(w, "capstone_events_appended_total{stream_type=\"project\"} %d\ncapstone_events_appended_total{stream_type=\"user\"} 7\n", n)
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", float64(n)/1000) // a millisecond a request
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeAPI) addUser(email, password string, roles []string) *fakeUser {
	f.seq++
	u := &fakeUser{id: fmt.Sprintf("user-%d", f.seq), email: email, password: password, roles: roles}
	f.users[u.id], f.byEmail[email] = u, u.id
	return u
}

func fakeProblem(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "code": code, "title": http.StatusText(status)})
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) signIn(w http.ResponseWriter, r *http.Request) {
	var req struct{ Email, Password string }
	json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits["POST /v1/auth/sign-in"]++
	if f.busySignIns > 0 {
		f.busySignIns--
		w.Header().Set("Retry-After", "1")
		fakeProblem(w, 503, "busy")
		return
	}
	u := f.users[f.byEmail[req.Email]]
	if u == nil || u.deleted || u.password != req.Password {
		fakeProblem(w, 401, "invalid-credentials")
		return
	}
	f.seq++
	tok := fmt.Sprintf("token-%d", f.seq)
	f.tokens[tok] = u.id
	fakeJSON(w, 200, map[string]any{"token": tok, "token_type": "Bearer", "user": map[string]any{"id": u.id, "roles": u.roles}})
}

func (f *fakeAPI) createUser(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	var req struct {
		Email, Name, Password string
		Roles                 []string
	}
	json.NewDecoder(r.Body).Decode(&req)
	switch {
	case !slices.Contains(by.roles, "coordinator"):
		fakeProblem(w, 403, "forbidden")
	case f.byEmail[req.Email] != "":
		fakeProblem(w, 409, "email-taken")
	case len(req.Password) < 10:
		fakeProblem(w, 400, "invalid")
	default:
		u := f.addUser(req.Email, req.Password, req.Roles)
		fakeJSON(w, 201, map[string]any{"id": u.id, "version": 1})
	}
}

func (f *fakeAPI) deleteUser(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	if u := f.users[r.PathValue("id")]; u != nil && slices.Contains(by.roles, "coordinator") {
		u.deleted = true
		f.deleted++
		w.WriteHeader(204)
		return
	}
	fakeProblem(w, 404, "not-found")
}

func (f *fakeAPI) putProfile(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	var req struct {
		Capacity *int `json:"capacity"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	if req.Capacity == nil || *req.Capacity < 1 || !slices.Contains(by.roles, "coordinator") {
		fakeProblem(w, 400, "invalid")
		return
	}
	fakeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "version": 2})
}

func (f *fakeAPI) listSupervisors(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	items := []map[string]any{}
	for _, u := range f.users {
		if slices.Contains(u.roles, "supervisor") {
			items = append(items, map[string]any{"id": u.id, "email": u.email})
		}
	}
	fakeJSON(w, 200, map[string]any{"items": items})
}

// write records a new version of p, visible after the fake's lag.
func (f *fakeAPI) write(p *fakeProject) int64 {
	v := int64(len(p.versions) + 1)
	p.versions = append(p.versions, fakeVersion{v: v, shows: time.Now().Add(f.lag)})
	return v
}

func (f *fakeAPI) createProject(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	var req struct {
		Title        string `json:"title"`
		SupervisorID string `json:"supervisor_id"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	if req.Title == "" || !slices.Contains(by.roles, "student") {
		fakeProblem(w, 400, "invalid")
		return
	}
	f.seq++
	p := &fakeProject{id: fmt.Sprintf("project-%d", f.seq), owner: by.id, status: "draft"}
	f.projects[p.id] = p
	f.write(p)
	if req.SupervisorID != "" {
		p.sup, p.status = req.SupervisorID, "submitted"
		f.write(p)
	}
	f.created[p.status]++
	fakeJSON(w, 201, map[string]any{"id": p.id, "version": p.version(), "status": p.status})
}

func (f *fakeAPI) listProjects(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	items := []map[string]any{}
	for _, p := range f.projects {
		if p.owner == by.id && len(items) < 20 {
			items = append(items, map[string]any{"id": p.id})
		}
	}
	fakeJSON(w, 200, map[string]any{"items": items})
}

func (f *fakeAPI) getProject(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	p := f.projects[r.PathValue("id")]
	if p == nil || (p.owner != by.id && p.sup != by.id) {
		fakeProblem(w, 404, "not-found")
		return
	}
	v := p.visible(time.Now())
	if v == 0 {
		fakeProblem(w, 404, "not-found")
		return
	}
	fakeJSON(w, 200, map[string]any{"id": p.id, "version": v})
}

func (f *fakeAPI) patchProject(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	p := f.projects[r.PathValue("id")]
	if p == nil || p.owner != by.id {
		fakeProblem(w, 404, "not-found")
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != `"`+strconv.FormatInt(p.version(), 10)+`"` {
		fakeProblem(w, 412, "precondition-failed")
		return
	}
	if f.failEveryPatch > 0 && f.hits["PATCH /v1/projects/{id}"]%f.failEveryPatch == 0 {
		f.patch500++
		fakeProblem(w, 500, "internal")
		return
	}
	fakeJSON(w, 200, map[string]any{"id": p.id, "version": f.write(p)})
}

// decide rejects, and refuses every acceptance with capacity-reached.
func (f *fakeAPI) decide(w http.ResponseWriter, r *http.Request, by *fakeUser) {
	var req struct {
		Decision string `json:"decision"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	p := f.projects[r.PathValue("id")]
	switch {
	case p == nil || p.sup != by.id:
		fakeProblem(w, 404, "not-found")
	case p.status != "submitted":
		fakeProblem(w, 422, "not-submitted")
	case req.Decision == "accept":
		f.accepts++
		fakeProblem(w, 409, "capacity-reached")
	case req.Decision == "reject":
		f.rejects++
		p.status = "rejected"
		fakeJSON(w, 200, map[string]any{"id": p.id, "version": f.write(p), "status": p.status})
	default:
		fakeProblem(w, 400, "invalid")
	}
}
