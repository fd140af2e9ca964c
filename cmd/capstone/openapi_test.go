package main

import (
	"testing"
)

func TestOpenAPIProbe(t *testing.T) {
	s := startService(t)
	for _, r := range s.app.API.Routes() {
		t.Log(r.Method, r.Path)
	}
	admin := s.admin()
	sid := s.createUser(admin, "st@uni.example", "St", []string{"student"}, "student password")
	st := s.signIn("st@uni.example", "student password")
	p := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "T"}), 201)
	t.Log(p.Raw, p.Header)
	pid := p.str("id")
	for _, c := range []struct {
		m, p, tok string
		body      any
	}{
		{"POST", "/v1/projects/" + pid + "/submit", st, map[string]string{"supervisor_id": ""}},
		{"POST", "/v1/projects/" + pid + "/submit", st, map[string]string{}},
		{"POST", "/v1/projects", st, map[string]string{"title": "x", "supervisor_id": "nope"}},
		{"PUT", "/v1/students/" + sid + "/preferences", st, map[string]any{"supervisor_ids": []string{"x"}}},
		{"PUT", "/v1/projects/" + pid + "/examiner", admin, map[string]any{"examiner_id": ""}},
		{"PUT", "/v1/projects/" + pid + "/grade", admin, map[string]any{"grade": 50}},
		{"GET", "/v1/students/" + sid, admin, nil},
		{"GET", "/v1/users/" + sid + "/history", admin, nil},
		{"GET", "/v1/projects/" + pid + "/history", admin, nil},
		{"POST", "/v1/allocation", admin, map[string]any{"dry_run": true}},
		{"PUT", "/v1/me/password", st, map[string]any{"current_password": "student password", "new_password": "short"}},
		{"POST", "/v1/auth/sign-in", "", map[string]any{}},
		{"GET", "/v1/exports/grades.csv", admin, nil},
		{"GET", "/metrics", "", nil},
	} {
		r := s.do(c.m, c.p, c.tok, c.body)
		raw := r.Raw
		if len(raw) > 600 {
			raw = raw[:600]
		}
		t.Logf("%s %s -> %d %v %s", c.m, c.p, r.Status, r.Header.Get("Content-Type"), raw)
	}
}
