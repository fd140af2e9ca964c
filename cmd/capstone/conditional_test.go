package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// conditionalRead is one GET of a read model, as one caller.
type conditionalRead struct {
	path, token string
}

// TestConditionalGets: every read answers an ETag; If-None-Match naming
// it (alone, weak, in a list, or "*") is answered 304 with no body, and
// anything else the full answer. Through random changes, a tag is current
// exactly while the answer it was given with is: a change makes every
// earlier tag of a changed answer miss, and an answer that did not change
// keeps its tag.
func TestConditionalGets(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	sup := s.createUser(admin, "sup@uni.example", "Dr Sup", []string{"supervisor"}, "supervisor pw 123")
	stu := s.createUser(admin, "stu@uni.example", "Stu Dent", []string{"student"}, "student pw 1234")
	st := s.signIn("stu@uni.example", "student pw 1234")
	pid := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "T0"}), 201).str("id")

	reads := []conditionalRead{
		{"/v1/supervisors", st}, {"/v1/supervisors/" + sup, st}, {"/v1/students/" + stu, st},
		{"/v1/projects/" + pid, st}, {"/v1/projects", st}, {"/v1/projects/" + pid + "/history", st},
		{"/v1/users", admin}, {"/v1/users/" + stu, admin}, {"/v1/me", st},
		{"/v1/exports/supervisor-assignments.csv", admin},
	}
	seen := map[conditionalRead]map[string]string{} // read -> tag -> the body it came with
	check := func(step int) {
		t.Helper()
		for _, rd := range reads {
			cur := s.expect(s.do("GET", rd.path, rd.token, nil), 200)
			tag := cur.Header.Get("ETag")
			if tag == "" {
				t.Fatalf("step %d: GET %s has no ETag", step, rd.path)
			}
			if seen[rd] == nil {
				seen[rd] = map[string]string{}
			}
			if body, ok := seen[rd][tag]; ok && body != cur.Raw {
				t.Fatalf("step %d: GET %s: tag %s was given with another answer\nthen: %s\nnow:  %s", step, rd.path, tag, body, cur.Raw)
			}
			seen[rd][tag] = cur.Raw
			for _, inm := range []string{tag, "W/" + tag, `"nope", ` + tag, "*"} {
				r := s.do("GET", rd.path, rd.token, nil, "If-None-Match", inm)
				if r.Status != 304 || r.Raw != "" || r.Header.Get("ETag") != tag || r.Header.Get("Content-Type") != "" {
					t.Fatalf("step %d: GET %s If-None-Match %s: %d ETag %q Content-Type %q %q, want 304 with the tag and no body",
						step, rd.path, inm, r.Status, r.Header.Get("ETag"), r.Header.Get("Content-Type"), r.Raw)
				}
			}
			for old, body := range seen[rd] {
				if old == tag {
					continue
				}
				r := s.do("GET", rd.path, rd.token, nil, "If-None-Match", old)
				if r.Status != 200 || r.Raw != cur.Raw || r.Header.Get("ETag") != tag {
					t.Fatalf("step %d: GET %s with the old tag %s (of %.80s): %d %q, want 200 with the current answer", step, rd.path, old, body, r.Status, r.Header.Get("ETag"))
				}
			}
		}
	}
	check(0)
	rng := rand.New(rand.NewPCG(1, 16))
	for step := 1; step <= 12; step++ {
		switch rng.IntN(4) {
		case 0:
			s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"areas": []string{"ML"},
				"info": fmt.Sprint("room ", rng.IntN(3)), "capacity": rng.IntN(3)}), 200)
		case 1:
			s.expect(s.do("PATCH", "/v1/projects/"+pid, st, map[string]string{"title": fmt.Sprint("T", rng.IntN(3))}), 200)
		case 2:
			s.expect(s.do("PUT", "/v1/students/"+stu+"/preferences", st, map[string]any{"supervisor_ids": []string{sup}[:rng.IntN(2)]}), 200)
		default:
			s.expect(s.do("PATCH", "/v1/users/"+stu, admin, map[string]string{"name": fmt.Sprint("Stu ", rng.IntN(3))}), 200)
		}
		check(step)
	}
	// A read refused is refused whatever the tag: no 304 stands in for a 404.
	s.expect(s.do("GET", "/v1/projects/"+pid+"x", st, nil, "If-None-Match", "*"), 404)
}
