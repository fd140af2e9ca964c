package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/embedded"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

const (
	adminEmail    = "coordinator@uni.example"
	adminPassword = "correct horse battery staple"
)

// service is the whole product started in-process on a fresh embedded store.
type service struct {
	t       testing.TB
	app     *App
	base    string
	dataDir string
	logs    *syncBuffer
	// client sends the requests of do (nil: http.DefaultClient).
	client *http.Client
}

// syncBuffer collects the service's logs so a test can read them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startService(t testing.TB) *service {
	t.Helper()
	return startServiceIn(t, t.TempDir(), &syncBuffer{})
}

// startServiceIn starts the service on dataDir (so a test can restart it on
// the same data) and stops it when the test ends.
func startServiceIn(t testing.TB, dataDir string, logs *syncBuffer) *service {
	t.Helper()
	return startServiceWith(t, dataDir, logs)
}

// startServiceWith is startServiceIn with further serve flags.
func startServiceWith(t testing.TB, dataDir string, logs *syncBuffer, flags ...string) *service {
	t.Helper()
	env := map[string]string{
		"CAPSTONE_BOOTSTRAP_EMAIL":    adminEmail,
		"CAPSTONE_BOOTSTRAP_PASSWORD": adminPassword,
		"CAPSTONE_LOG_LEVEL":          "debug",
	}
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir}, flags...)
	cfg, err := config.ParseServe(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app, err := StartApp(ctx, cfg, newLogger(logs, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, app: app, base: "http://" + app.Addr(), dataDir: dataDir, logs: logs}
	t.Cleanup(s.stop)
	return s
}

func (s *service) stop() {
	if s.app == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.app.Close(ctx)
	s.app = nil
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r response) str(key string) string {
	v, _ := r.Body[key].(string)
	return v
}

func (r response) num(key string) int64 {
	v, _ := r.Body[key].(float64)
	return int64(v)
}

func (r response) items() []map[string]any {
	raw, _ := r.Body["items"].([]any)
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i], _ = it.(map[string]any)
	}
	return out
}

// do sends a request; body may be nil, a string or an io.Reader (sent as
// is) or a value (JSON).
func (s *service) do(method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	req, err := s.request(method, path, token, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := s.httpClient().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q: %v", method, path, raw, err)
		}
	}
	return out
}

// request builds a request to the service; body may be nil, a string (sent
// as is), an io.Reader (sent as it comes) or a value (sent as JSON).
func (s *service) request(method, path, token string, body any, headers ...string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req, nil
}

// multipartFile is an upload as a browser sends it: one part "file"
// holding body under the file's name. It returns the body and its
// Content-Type.
func multipartFile(file string, body []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", file)
	fw.Write(body)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (s *service) httpClient() *http.Client {
	if s.client == nil {
		return http.DefaultClient
	}
	return s.client
}

// startOn starts the service on store with the settings env (on a port of
// its own and a data dir of its own), as one of several processes sharing
// the store (with flags besides), and stops it when the test ends.
func startOn(t *testing.T, ctx context.Context, store *embedded.Store, env map[string]string, flags ...string) *service {
	t.Helper()
	cfg, err := config.ParseServe(append([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...), func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	app, err := StartApp(ctx, cfg, newLogger(logs, cfg), store)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, app: app, base: "http://" + app.Addr(), logs: logs}
	t.Cleanup(s.stop)
	return s
}

// storedEvents is every event in the service's store, printed, for tests
// that look for what must never be stored.
func storedEvents(t testing.TB, s *service) string {
	t.Helper()
	cur, err := s.app.store.DB.Collection(imongo.CollEvents).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(all)
}

// expect fails the test unless the response has the status (and code, for errors).
func (s *service) expect(r response, status int, code ...string) response {
	s.t.Helper()
	if r.Status != status {
		s.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if len(code) > 0 && r.str("code") != code[0] {
		s.t.Fatalf("code %q, want %q: %s", r.str("code"), code[0], r.Raw)
	}
	if status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
		s.t.Fatalf("error content type %q, want application/problem+json", r.Header.Get("Content-Type"))
	}
	return r
}

func (s *service) signIn(email, password string) string {
	s.t.Helper()
	r := s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": password}), 200)
	return r.str("token")
}

func (s *service) admin() string { return s.signIn(adminEmail, adminPassword) }

// createUser creates a user as the coordinator and returns its id.
func (s *service) createUser(admin, email, name string, roles []string, password string) string {
	s.t.Helper()
	body := map[string]any{"email": email, "name": name, "roles": roles}
	if password != "" {
		body["password"] = password
	}
	return s.expect(s.do("POST", "/v1/users", admin, body), 201).str("id")
}

// waitFor polls until cond holds or fails the test after a few seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newReadModels(s *service) *imongo.ReadModels { return imongo.NewReadModels(s.app.store.DB) }

func imongoEventStore(s *service) *imongo.EventStore {
	return imongo.NewEventStore(s.app.store.DB, s.app.Registry)
}

// sameRoutes fails the test unless the rows of an authorization table
// (each "METHOD /path") are the routes served, each once; it returns the
// routes served, as a set of the same keys.
func sameRoutes(t *testing.T, served []api.Route, rows []string) map[string]bool {
	t.Helper()
	routes, seen := map[string]bool{}, map[string]bool{}
	for _, r := range served {
		routes[r.Method+" "+r.Path] = true
	}
	for _, k := range rows {
		if seen[k] {
			t.Errorf("the table has two rows for %s", k)
		}
		seen[k] = true
		if !routes[k] {
			t.Errorf("the table has a row for %s, which is not served", k)
		}
	}
	for k := range routes {
		if !seen[k] {
			t.Errorf("route %s is served but has no row in the table", k)
		}
	}
	return routes
}

// seeded is a random source for a property test, its seed random and
// logged, so that a failure can be replayed.
func seeded(t testing.TB, stream uint64) *rand.Rand {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, stream))
}

// supervisorWithSlots creates a supervisor with capacity slots and returns
// their id and a token of theirs.
func supervisorWithSlots(s *service, admin, email string, capacity int) (id, token string) {
	s.t.Helper()
	const password = "slots supervisor pw"
	id = s.createUser(admin, email, "Dr Slots", []string{"supervisor"}, password)
	s.expect(s.do("PUT", "/v1/supervisors/"+id+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": capacity}), 200)
	return id, s.signIn(email, password)
}
