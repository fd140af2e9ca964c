package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// preflight sends the browser's CORS preflight for a call with these headers.
func (c legacyClient) preflight(path, method, headers string) lresp {
	c.t.Helper()
	req, _ := http.NewRequest("OPTIONS", c.base+path, nil)
	req.Header.Set("Origin", c.origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	return c.send(req)
}

// TestLegacyCORS: the browser's preflight of every kind of call the
// frontend makes is answered 2xx, naming Authorization and Content-Type;
// every answer, errors included, carries Access-Control-Allow-Origin; with
// --legacy-origins only the origins listed are let in.
func TestLegacyCORS(t *testing.T) {
	s, lc := startLegacy(t)
	admin, _ := lc.signIn(adminEmail, adminPassword)
	for _, pf := range []struct{ path, method, headers string }{
		{"/sign-in", "POST", "content-type"},
		{"/student/overview", "GET", "authorization"},
		{"/student/shortlist", "POST", "authorization,content-type"},
		{"/student/info", "POST", "authorization"},
		{"/supervisor/info/sup1@qmul.example.ac.uk", "GET", "authorization"},
		{"/no/such/route", "GET", "authorization"},
	} {
		r := lc.preflight(pf.path, pf.method, pf.headers)
		allowed := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		if r.Status < 200 || r.Status > 299 || r.Header.Get("Access-Control-Allow-Origin") == "" ||
			!strings.Contains(allowed, "authorization") || !strings.Contains(allowed, "content-type") ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), pf.method) {
			t.Errorf("preflight of %s %s: %d %v", pf.method, pf.path, r.Status, r.Header)
		}
	}
	if r := lc.preflight("/student/overview", "GET", "authorization"); r.Header.Get("Access-Control-Allow-Private-Network") != "" {
		t.Error("the private network allowed without being asked")
	}
	req, _ := http.NewRequest("OPTIONS", lc.base+"/student/overview", nil)
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Private-Network", "true")
	if r := lc.send(req); r.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("a preflight asking for the private network: %v", r.Header)
	}
	// Errors carry the header too (the client checks every answer); some of each kind:
	for _, r := range []lresp{
		lc.do("GET", "/student/overview", "", nil),                                              // 401
		lc.do("GET", "/student/overview", admin, nil),                                           // 403
		lc.do("GET", "/no/such/route", admin, nil),                                              // 404
		lc.do("POST", "/sign-in", "", map[string]string{"email": adminEmail, "password": "no"}), // 401
		lc.do("POST", "/student/project_info", admin, "not json"),                               // 403 (the role first)
		lc.do("DELETE", "/student/overview", admin, nil),                                        // 405
	} {
		if r.Status < 400 {
			t.Errorf("expected a refusal: %d %s", r.Status, r.Raw)
		}
	}
	s.stop()

	// A list of origins: only those listed, each echoed.
	s, lc = startLegacy(t, "--legacy-origins", "http://localhost:8081,https://capstone.example.ac.uk")
	r := lc.preflight("/sign-in", "POST", "content-type")
	if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != uiOrigin || !strings.Contains(r.Header.Get("Vary"), "Origin") {
		t.Errorf("an allowed origin's preflight: %d %v", r.Status, r.Header)
	}
	other := lc
	other.origin = "https://evil.example"
	r = other.preflight("/sign-in", "POST", "content-type")
	if r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin's preflight: %d %v", r.Status, r.Header)
	}
	if r := other.do("POST", "/sign-in", "", map[string]string{"email": adminEmail, "password": adminPassword}); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("another origin is let read the answer: %v", r.Header)
	}
	s.stop()
}

// TestLegacySignInIsV1s: the original sign-in issues /v1's tokens and
// counts failures with /v1's: a token of either works on both, a /v1
// sign-out ends it on both, and guessing on one face locks out the other.
func TestLegacySignInIsV1s(t *testing.T) {
	s, lc := startLegacy(t)
	admin := s.admin()
	s.createUser(admin, "both@uni.example", "Both Faces", []string{"student"}, "both faces password")
	legacyTok, _ := lc.signIn("both@uni.example", "both faces password")
	v1Tok := s.signIn("both@uni.example", "both faces password")
	for _, tok := range []string{legacyTok, v1Tok} {
		s.expect(s.do("GET", "/v1/me", tok, nil), 200)
		lc.expect(lc.do("GET", "/student/overview", tok, nil), 200)
	}
	s.expect(s.do("POST", "/v1/auth/sign-out", legacyTok, nil), 204)
	lc.expect(lc.do("GET", "/student/overview", legacyTok, nil), 401)
	lc.expect(lc.do("GET", "/student/overview", v1Tok, nil), 200)
	// Five wrong passwords on the original route, and /v1 refuses the right one for a while.
	for range 5 {
		lc.expect(lc.do("POST", "/sign-in", "", map[string]string{"email": "both@uni.example", "password": "a wrong password"}), 401)
	}
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "both@uni.example", "password": "both faces password"}), 429, "too-many-attempts")
	r := lc.do("POST", "/sign-in", "", map[string]string{"email": "both@uni.example", "password": "both faces password"})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(r.str("message"), "wait") {
		t.Errorf("the original sign-in while locked out: %d %v %s", r.Status, r.Header, r.Raw)
	}
}

// TestLegacyUI: --legacy-ui serves the built app: its files as they are,
// index.html for the app's own routes, nothing outside its directory.
func TestLegacyUI(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":                       "<!doctype html><title>Capstone</title>",
		"static/js/main.0a1b2c3d.chunk.js": `const API_URL="http://127.0.0.1:5000/";`,
		"files/students.csv":               "Student Code,Name\n",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(filepath.Dir(dir), "outside.txt")
	if err := os.WriteFile(secret, []byte("not the app's"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Symbolic links leaving the directory (to a file, to the directory
	// above) are not followed; one that stays inside it is.
	for link, target := range map[string]string{"leak.txt": secret, "leakdir": filepath.Dir(dir), "alias.csv": filepath.Join("files", "students.csv")} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--legacy-ui", dir, "--legacy-ui-addr", "127.0.0.1:0")
	base := "http://" + s.app.LegacyUIAddr()
	get := func(method, path string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	for path, want := range map[string]string{
		"/":                                 "<title>Capstone</title>",
		"/login":                            "<title>Capstone</title>",
		"/student/overview":                 "<title>Capstone</title>",
		"/static/js/":                       "<title>Capstone</title>",
		"/static/js/main.0a1b2c3d.chunk.js": "API_URL",
		"/files/students.csv":               "Student Code",
		"/../outside.txt":                   "<title>Capstone</title>",
		"/%2e%2e/outside.txt":               "<title>Capstone</title>",
		"/leak.txt":                         "<title>Capstone</title>",
		"/leakdir/outside.txt":              "<title>Capstone</title>",
		"/alias.csv":                        "Student Code",
	} {
		status, body, h := get("GET", path)
		if status != 200 || !strings.Contains(body, want) || strings.Contains(body, "not the app's") {
			t.Errorf("GET %s: %d %q, want %q", path, status, body, want)
		}
		if want == "<title>Capstone</title>" && (!strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "no-cache") {
			t.Errorf("GET %s: the app's page as %q, %q", path, h.Get("Content-Type"), h.Get("Cache-Control"))
		}
	}
	if _, _, h := get("GET", "/static/js/main.0a1b2c3d.chunk.js"); !strings.Contains(h.Get("Content-Type"), "javascript") {
		t.Errorf("the bundle as %q", h.Get("Content-Type"))
	}
	if status, _, _ := get("POST", "/"); status != 405 {
		t.Errorf("POST to the pages: %d", status)
	}
	if s.app.LegacyAddr() != "" {
		t.Error("the original routes are served without --legacy-addr")
	}
}
