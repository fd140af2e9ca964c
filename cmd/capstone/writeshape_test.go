package main

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteAnswerIsWhatAReadGives: the answer of every write to a user or a
// project is the resource as a GET of it then shows it, timestamps
// included; a client need not read back what it just wrote.
func TestWriteAnswerIsWhatAReadGives(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 1, 3)
	sup, stu := c.supervisors[0], c.students[0]
	same := func(what string, write response, path, token string) {
		t.Helper()
		read := s.expect(s.do("GET", path, token, nil), 200)
		if write.Body["created_at"] == nil || write.Body["updated_at"] == nil {
			t.Errorf("%s: the answer has no created_at or updated_at: %s", what, write.Raw)
		}
		if diff := cmp.Diff(read.Body, write.Body); diff != "" {
			t.Errorf("%s: the answer differs from a read (-read +answer):\n%s", what, diff)
		}
	}
	u := s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": "shape@uni.example", "name": "Shape", "roles": []string{"student"}}), 201)
	same("POST /v1/users", u, "/v1/users/"+u.str("id"), admin)
	same("PATCH /v1/users", s.expect(s.do("PATCH", "/v1/users/"+u.str("id"), admin, map[string]any{"name": "Reshaped"}), 200), "/v1/users/"+u.str("id"), admin)
	same("PATCH /v1/users (no change)", s.expect(s.do("PATCH", "/v1/users/"+u.str("id"), admin, map[string]any{"name": "Reshaped"}), 200), "/v1/users/"+u.str("id"), admin)

	tok := c.tokens[stu]
	p := s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Shaped"}), 201)
	path := "/v1/projects/" + p.str("id")
	same("POST /v1/projects", p, path, tok)
	same("PATCH /v1/projects", s.expect(s.do("PATCH", path, tok, map[string]any{"title": "Reshaped"}), 200), path, tok)
	same("POST submit", s.expect(s.do("POST", path+"/submit", tok, map[string]any{"supervisor_id": sup}), 200), path, tok)
	// An accepted project's marking is cut for each viewer: the answer is
	// what a read by the one who wrote gives.
	same("POST decision", s.expect(s.do("POST", path+"/decision", c.tokens[sup], map[string]any{"decision": "accept"}), 200), path, c.tokens[sup])
	same("PUT mark", s.expect(s.do("PUT", path+"/mark", c.tokens[sup], map[string]any{"mark": 64, "feedback": "Fair"}), 200), path, c.tokens[sup])
	q := s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Submitted at once", "supervisor_id": sup}), 201)
	same("POST /v1/projects with supervisor_id", q, "/v1/projects/"+q.str("id"), tok)
	me := s.expect(s.do("GET", "/v1/me", tok, nil), 200)
	same("GET /v1/me", me, fmt.Sprint("/v1/users/", stu), tok)
}
