package main

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/capstone-pms/capstone/infra/auth"
)

// TestAuthentication: only a valid HS256 token of ours, unexpired, for a user
// who still exists, gets through.
func TestAuthentication(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	parts := strings.Split(admin, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "iss": "capstone", "exp": time.Now().Add(time.Hour).Unix(), "roles": []string{"coordinator"}}).
		SignedString([]byte("a-secret-that-is-not-the-servers-secret"))
	secret, err := auth.LoadOrCreateSecretFile(filepath.Join(s.dataDir, "jwt-secret"))
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := auth.NewTokens(secret, time.Hour, "capstone")
	adminID := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	expired, _, _ := ours.Issue(adminID, []string{"coordinator"}, time.Now().Add(-2*time.Hour))
	stillValid, _, _ := ours.Issue(adminID, []string{"coordinator"}, time.Now())
	s.expect(s.do("GET", "/v1/users", stillValid, nil), 200) // the same secret does sign valid tokens
	for name, token := range map[string]string{
		"no token": "", "garbage": "abc", "alg none": none, "forged": forged,
		"tampered": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","roles":["coordinator"]}`)) + "." + parts[2],
		"expired":  expired,
	} {
		r := s.expect(s.do("GET", "/v1/users", token, nil), 401, "unauthenticated")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}
	req, _ := http.NewRequest("GET", s.base+"/v1/me", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:b")))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("basic auth: %v %v", resp, err)
	}
	s.expect(s.do("GET", "/healthz", "", nil), 200)
	s.expect(s.do("GET", "/readyz", "", nil), 200)
}

// TestRoles: a student cannot use the coordinator's routes, and sees only
// what is theirs.
func TestRoles(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	aID := s.createUser(admin, "a@uni.example", "A", []string{"student"}, "password of a")
	bID := s.createUser(admin, "b@uni.example", "B", []string{"student"}, "password of b")
	s.createUser(admin, "sup@uni.example", "Sup", []string{"supervisor"}, "password of sup")
	a, b := s.signIn("a@uni.example", "password of a"), s.signIn("b@uni.example", "password of b")
	sup := s.signIn("sup@uni.example", "password of sup")

	s.expect(s.do("GET", "/v1/users", a, nil), 403, "forbidden")
	s.expect(s.do("POST", "/v1/users", a, map[string]any{"email": "c@uni.example", "name": "C", "roles": []string{"coordinator"}}), 403)
	s.expect(s.do("DELETE", "/v1/users/"+bID, a, nil), 403)
	s.expect(s.do("GET", "/v1/users/"+bID, a, nil), 404)
	s.expect(s.do("GET", "/v1/users/"+aID+"?min_version=1", a, nil), 200)
	s.expect(s.do("GET", "/v1/users/"+aID+"/history", b, nil), 404)
	s.expect(s.do("PATCH", "/v1/users/"+aID, a, map[string]any{"roles": []string{"coordinator"}}), 403)
	s.expect(s.do("PATCH", "/v1/users/"+aID, a, map[string]any{"name": "Alice"}), 200)
	s.expect(s.do("POST", "/v1/projects", sup, map[string]string{"title": "Not a student"}), 403)

	p := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Mine"}), 201).str("id")
	s.expect(s.do("GET", "/v1/projects/"+p+"?min_version=1", b, nil), 404)
	s.expect(s.do("PATCH", "/v1/projects/"+p, b, map[string]string{"title": "Theirs"}), 404)
	s.expect(s.do("DELETE", "/v1/projects/"+p, b, nil), 404)
	s.expect(s.do("GET", "/v1/projects/"+p+"/history", b, nil), 404)
	s.expect(s.do("GET", "/v1/projects/"+p+"?at_version=1", b, nil), 404)
	if items := s.expect(s.do("GET", "/v1/projects", b, nil), 200).items(); len(items) != 0 {
		t.Fatalf("another student lists %v", items)
	}
	s.expect(s.do("PATCH", "/v1/projects/"+p, admin, map[string]string{"aim": "set by the coordinator"}), 200)
	waitFor(t, "the coordinator to see the project", func() bool { return len(s.do("GET", "/v1/projects", admin, nil).items()) == 1 })
}

// TestBadInput: every malformed request gets a problem with a stable code.
func TestBadInput(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	type tc struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}
	big := `{"email":"x@uni.example","name":"` + strings.Repeat("x", 1<<20) + `","roles":["student"]}`
	for _, c := range []tc{
		{"unknown field", "POST", "/v1/users", `{"email":"x@uni.example","name":"X","roles":["student"],"admin":true}`, nil, 400, "invalid"},
		{"malformed", "POST", "/v1/users", `{"email":`, nil, 400, "malformed-json"},
		{"two objects", "POST", "/v1/users", `{"email":"x@uni.example"}{}`, nil, 400, "malformed-json"},
		{"wrong type", "POST", "/v1/users", `{"email":"x@uni.example","name":"X","roles":"student"}`, nil, 400, "invalid"},
		{"too large", "POST", "/v1/users", big, nil, 413, "body-too-large"},
		{"not json", "POST", "/v1/users", `email=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported-media-type"},
		{"bad if-match", "PATCH", "/v1/users/x", `{"name":"Y"}`, []string{"If-Match", "yesterday"}, 400, "invalid-if-match"},
		{"bad limit", "GET", "/v1/users?limit=-1", "", nil, 400, "invalid"},
		{"bad cursor", "GET", "/v1/users?cursor=!!!", "", nil, 400, "invalid"},
		{"bad role", "GET", "/v1/users?role=wizard", "", nil, 400, "invalid"},
		{"bad as_of", "GET", "/v1/projects/x?as_of=yesterday", "", nil, 400, "invalid"},
		{"no route", "GET", "/v1/nothing", "", nil, 404, "route-not-found"},
		{"wrong method", "PUT", "/v1/users", `{}`, nil, 405, "method-not-allowed"},
		{"unknown user", "GET", "/v1/users/01a224e5-0000-7000-8000-000000000000", "", nil, 404, "not-found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			sub := *s
			sub.t = t
			sub.expect(sub.do(c.method, c.path, admin, body, c.headers...), c.status, c.code)
		})
	}
}

// TestSignInThrottle: one message for unknown e-mail and wrong password, and
// 429 with Retry-After after repeated failures, even with the right password.
func TestSignInThrottle(t *testing.T) {
	s := startService(t)
	unknown := s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "nobody@uni.example", "password": "whatever it is"}), 401, "invalid-credentials")
	wrong := s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": adminEmail, "password": "wrong password"}), 401, "invalid-credentials")
	if unknown.Raw != wrong.Raw {
		t.Fatalf("unknown e-mail and wrong password answer differently:\n%s\n%s", unknown.Raw, wrong.Raw)
	}
	var last response
	for range 6 {
		last = s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": adminEmail, "password": "wrong password"})
	}
	s.expect(last, 429, "too-many-attempts")
	if secs, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", last.Header.Get("Retry-After"))
	}
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": adminEmail, "password": adminPassword}), 429)
}
