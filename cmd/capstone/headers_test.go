package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// noRedirects is a client that shows a redirect instead of following it, as
// an attacker's client would.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (s *service) raw(method, path, token, body string, headers ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestSecurityHeaders: every answer, routed or not, public or not, says
// nosniff; every answer to an authenticated request says no-store, a 204
// and a CSV included; HSTS only when the client came over https.
func TestSecurityHeaders(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "headers@uni.example", "Headers", []string{"student"}, "")
	for _, c := range []struct {
		method, path, token, body string
		authed                    bool
	}{
		{"GET", "/healthz", "", "", false},
		{"GET", "/readyz", "", "", false},
		{"GET", "/openapi.json", "", "", false},
		{"GET", "/metrics", "", "", false},
		{"GET", "/v1/nothing", "", "", false},
		{"PUT", "/v1/users", admin, "{}", false},
		{"POST", "/v1/auth/sign-in", "", `{"email":"x@y.z","password":"wrong password"}`, false},
		{"GET", "/v1/me", admin, "", true},
		{"GET", "/v1/users", "", "", true},
		{"GET", "/v1/exports/grades.csv", admin, "", true},
		{"GET", "/v1/users/" + id + "/history", admin, "", true},
		{"DELETE", "/v1/users/" + id, admin, "", true},
	} {
		resp := s.raw(c.method, c.path, c.token, c.body)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", c.method, c.path, resp.StatusCode, got)
		}
		if got := resp.Header.Get("Cache-Control"); c.authed && got != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", c.method, c.path, resp.StatusCode, got)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s %s over http: Strict-Transport-Security %q", c.method, c.path, got)
		}
	}
	// Without trusted proxies a client cannot claim https.
	if got := s.raw("GET", "/healthz", "", "", "X-Forwarded-Proto", "https").Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("an untrusted X-Forwarded-Proto turned HSTS on: %q", got)
	}

	behind := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--trusted-proxies", "127.0.0.0/8")
	resp := behind.raw("GET", "/healthz", "", "", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9")
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("behind a trusted proxy over https: Strict-Transport-Security %q", got)
	}
	if got := behind.raw("GET", "/healthz", "", "", "X-Forwarded-Proto", "http").Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("behind a trusted proxy over http: Strict-Transport-Security %q", got)
	}
}

// TestUncleanPathsAreNotRedirected: a path that would need cleaning is a 404,
// not a 301 that a client follows by turning the POST into a GET (and that
// sends it to a route a proxy in front may have been told to refuse).
func TestUncleanPathsAreNotRedirected(t *testing.T) {
	s := startService(t)
	body := `{"email":"` + adminEmail + `","password":"` + adminPassword + `"}`
	for _, p := range []string{"//v1/auth/sign-in", "/v1//auth/sign-in", "/v1/auth/./sign-in", "/v1/users/../auth/sign-in", "/v1/auth/sign-in/..", "/./healthz"} {
		resp := s.raw("POST", p, "", body)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
			t.Errorf("POST %s: %d Location %q, want 404 and no redirect", p, resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("POST %s: content type %q", p, resp.Header.Get("Content-Type"))
		}
	}
	if resp := s.raw("POST", "/v1/auth/sign-in", "", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("the clean path answers %d", resp.StatusCode)
	}
}
