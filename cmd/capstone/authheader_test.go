package main

import (
	"io"
	"net/http"
	"testing"
)

// TestAuthorizationGivenTwice: a request carrying the Authorization header
// more than once is 401 on both faces, whatever the tokens (valid ones of
// other callers, the same one twice, a bad one first or last): it used to
// be authenticated as whoever the first named, which a proxy in front
// judging another of them would not expect. The same token given once is
// accepted, so the refusal is the repetition's.
func TestAuthorizationGivenTwice(t *testing.T) {
	rng := seeded(t, 7)
	s, lc := startLegacy(t)
	admin := s.admin()
	s.createUser(admin, "twice.student@uni.example", "Twice", []string{"student"}, "twice student password")
	student := s.signIn("twice.student@uni.example", "twice student password")
	tokens := []string{admin, student, "x.y.z", ""}
	routes := []struct{ base, path string }{{s.base, "/v1/me"}, {s.base, "/v1/supervisors"}, {lc.base, "/supervisor/all"}, {lc.base, "/student/all"}}
	send := func(base, path string, values ...string) int {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			req.Header.Add("Authorization", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 200 {
		rt := routes[rng.IntN(len(routes))]
		values := make([]string, 2+rng.IntN(3))
		for i := range values {
			values[i] = "Bearer " + tokens[rng.IntN(len(tokens))]
		}
		if got := send(rt.base, rt.path, values...); got != http.StatusUnauthorized {
			t.Fatalf("GET %s with Authorization %q: %d, want 401", rt.path, values, got)
		}
		if got := send(rt.base, rt.path, "Bearer "+admin); got != http.StatusOK {
			t.Fatalf("GET %s with the coordinator's token once: %d, want 200", rt.path, got)
		}
	}
}
