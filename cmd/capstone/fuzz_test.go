package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequests sends arbitrary bodies, headers and query strings to the
// write routes and the list routes: no input may panic or get a 5xx.
// `go test` runs the seeds; `go test -fuzz FuzzRequests ./cmd/capstone` explores.
func FuzzRequests(f *testing.F) {
	seeds := []struct {
		route       uint8
		body, extra string
	}{
		{0, `{"email":"f@uni.example","name":"F","roles":["student"]}`, ""},
		{0, `{"email":"f@uni.example","name":"F","roles":["student"],"password":"0123456789"}`, ""},
		{1, `{"name":"G","roles":["examiner"],"profile":{"code":"X1"}}`, `"1"`},
		{2, `{"title":"T","description":"D","aim":"A","rationale":"R"}`, ""},
		{3, `{"title":"U"}`, `W/"2"`},
		{4, `{"email":"coordinator@uni.example","password":"x"}`, ""},
		{5, `{"current_password":"a","new_password":"b"}`, ""},
		{6, "", "limit=2&cursor=AAAA&q=%5B&role=student"},
		{7, "", "as_of=2026-01-01T00:00:00Z&at_version=1&min_version=99999999999"},
		{0, `{"email":"\u0000@x.y","name":"\ud800","roles":[null]}`, ""},
		{2, `{"title":` + strings.Repeat("[", 10000), ""},
		{1, `{"name":null,"roles":null,"profile":null}`, `"-1"`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.body, s.extra)
	}
	s := startService(f)
	admin := s.admin()
	userID := s.createUser(admin, "fuzz.student@uni.example", "Fuzz", []string{"student"}, "fuzz student password")
	student := s.signIn("fuzz.student@uni.example", "fuzz student password")
	projectID := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Fuzzed"}), 201).str("id")
	handler := s.app.http.Handler

	f.Fuzz(func(t *testing.T, route uint8, body, extra string) {
		var method, path, token string
		switch route % 8 {
		case 0:
			method, path, token = "POST", "/v1/users", admin
		case 1:
			method, path, token = "PATCH", "/v1/users/"+userID, admin
		case 2:
			method, path, token = "POST", "/v1/projects", student
		case 3:
			method, path, token = "PATCH", "/v1/projects/"+projectID, student
		case 4:
			method, path = "POST", "/v1/auth/sign-in"
		case 5:
			method, path, token = "PUT", "/v1/me/password", student
		case 6:
			method, path, token = "GET", "/v1/users?"+extra, admin
		case 7:
			method, path, token = "GET", "/v1/projects/"+projectID+"?"+extra, student
		}
		req, err := http.NewRequest(method, "http://capstone"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if route%8 == 1 || route%8 == 3 {
			req.Header.Set("If-Match", extra)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q -> %d %s", method, path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s -> %d without problem+json", method, path, rec.Code)
		}
	})
}
