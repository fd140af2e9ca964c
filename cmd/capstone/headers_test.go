package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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

// TestServerOwnAnswersAreProblems: a request Go's HTTP server cannot read
// is answered by the server itself, before any handler; those answers too
// are problem+json with a code, a request id, nosniff and no-store, as
// docs/api.md says every answer is. GET /v1/users/%zz was answered in plain
// text with none of them. Go's server reads HTTP/1.2 and later minor
// versions as HTTP/1.1; they are refused like any other version, as the
// docs say (HTTP/1.2 was served as HTTP/1.1), even on a path that would
// need cleaning (GET //v1/users HTTP/1.2 was a 404).
func TestServerOwnAnswersAreProblems(t *testing.T) {
	s := startService(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, c := range []struct {
		name, request string
		status        int
		code          string
	}{
		{"malformed escape in the path", "GET /v1/users/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed-request"},
		{"malformed request line", "GET\r\nHost: x\r\n\r\n", 400, "malformed-request"},
		{"no Host", "GET /v1/users HTTP/1.1\r\n\r\n", 400, "malformed-request"},
		{"header value with a control character", "GET /v1/users HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", 400, "malformed-request"},
		{"headers over the limit", "GET /v1/users HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 80<<10) + "\r\n\r\n", 431, "headers-too-large"},
		{"unknown transfer encoding", "POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported-transfer-encoding"},
		{"HTTP/2 on the HTTP/1 port", "GET /v1/users HTTP/2.0\r\nHost: x\r\n\r\n", 505, "unsupported-http-version"},
		{"an HTTP/1 minor version after 1.1", "GET /v1/users HTTP/1.2\r\nHost: x\r\n\r\n", 505, "unsupported-http-version"},
		{"a write in an HTTP/1 minor version after 1.1", "POST /v1/auth/sign-in HTTP/1.9\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", 505, "unsupported-http-version"},
		// The version first: a path that would need cleaning is a 404 only
		// in a version the server speaks.
		{"a doubled slash in HTTP/1.2", "GET //v1/users HTTP/1.2\r\nHost: x\r\n\r\n", 505, "unsupported-http-version"},
		{"a dot-dot segment in HTTP/1.3", "GET /v1/x/../users HTTP/1.3\r\nHost: x\r\n\r\n", 505, "unsupported-http-version"},
		{"a doubled slash in HTTP/1.1", "GET //v1/users HTTP/1.1\r\nHost: x\r\n\r\n", 404, "route-not-found"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = io.WriteString(conn, c.request) }()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			conn.Close()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		jerr := json.Unmarshal(body, &p)
		h := resp.Header
		if resp.StatusCode != c.status || h.Get("Content-Type") != "application/problem+json" || jerr != nil || p.Status != c.status || p.Code != c.code || p.Detail == "" {
			t.Errorf("%s: %d %s %q, want %d application/problem+json with code %s", c.name, resp.StatusCode, h.Get("Content-Type"), body, c.status, c.code)
		}
		if _, err := uuid.Parse(h.Get("X-Request-Id")); err != nil || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", c.name, h)
		}
	}
}
