package main

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTimeTravelOutOfRange: a time before the project existed is told so,
// with when it was created (to whoever may see it, and only to them); a
// version past the latest is refused, never answered with the latest.
func TestTimeTravelOutOfRange(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "tt-a@uni.example", "Student A", []string{"student"}, "time travel password")
	s.createUser(admin, "tt-b@uni.example", "Student B", []string{"student"}, "time travel password")
	a, b := s.signIn("tt-a@uni.example", "time travel password"), s.signIn("tt-b@uni.example", "time travel password")
	before := time.Now().UTC().Add(-time.Minute)
	p := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Then"}), 201)
	id := p.str("id")
	s.expect(s.do("PATCH", "/v1/projects/"+id, a, map[string]string{"title": "Now"}, "If-Match", `"1"`), 200)
	created := s.expect(s.do("GET", "/v1/projects/"+id, a, nil), 200).str("created_at")

	early := "/v1/projects/" + id + "?as_of=" + before.Format(time.RFC3339Nano)
	for _, who := range []string{a, admin} {
		r := s.expect(s.do("GET", early, who, nil), 404, "not-yet-existing")
		at, err := time.Parse(time.RFC3339Nano, created)
		if err != nil || !strings.Contains(r.str("detail"), at.Format(time.RFC3339Nano)) {
			t.Fatalf("the answer does not say when it was created (%s): %s", created, r.Raw)
		}
	}
	// Someone who may not see the project learns nothing, not even that it exists.
	s.expect(s.do("GET", early, b, nil), 404, "not-found")
	s.expect(s.do("GET", "/v1/projects/"+id+"?at_version=3", b, nil), 404, "not-found")

	for v, title := range map[int]string{1: "Then", 2: "Now"} {
		r := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?at_version=%d", id, v), a, nil), 200)
		if r.str("title") != title || r.num("version") != int64(v) {
			t.Fatalf("at_version=%d: %s", v, r.Raw)
		}
	}
	for _, v := range []string{"3", "4", "9223372036854775807"} {
		r := s.expect(s.do("GET", "/v1/projects/"+id+"?at_version="+v, a, nil), 404, "version-not-found")
		if !strings.Contains(r.str("detail"), "latest is 2") {
			t.Fatalf("at_version=%s: %s", v, r.Raw)
		}
	}
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if r := s.expect(s.do("GET", "/v1/projects/"+id+"?as_of="+future, a, nil), 200); r.str("title") != "Now" {
		t.Fatalf("as_of in the future: %s", r.Raw)
	}
}

// TestPastStatesOnlyForProjects: only a project has past states. Every
// other read (GET /v1/users/{id} was the one found) refuses as_of and
// at_version, valid or not, with 400 invalid naming them, rather than
// answer the present state to a client that asked for the past; a
// project still answers them.
func TestPastStatesOnlyForProjects(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := seeded(t, 0x9a57)
	userID := s.createUser(admin, "past@uni.example", "Past", []string{"student"}, "past states password")
	student := s.signIn("past@uni.example", "past states password")
	project := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Then"}), 201).str("id")
	values := []string{"1", "0", "-3", "yesterday", "", time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano), "2026-01-02T15:04:05Z"}
	ask := func(path string) (string, []string) {
		q := url.Values{}
		var given []string
		for _, name := range []string{"as_of", "at_version"} {
			if rng.IntN(2) == 0 || (name == "at_version" && len(given) == 0) {
				q.Set(name, values[rng.IntN(len(values))])
				given = append(given, name)
			}
		}
		return path + "?" + q.Encode(), given
	}
	paths := []string{"/v1/users/" + userID}
	for _, r := range s.app.API.Routes() {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/v1/") && r.Path != "/v1/projects/{id}" {
			paths = append(paths, regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, "x"))
		}
	}
	for _, path := range paths {
		for _, who := range []string{admin, student} {
			asked, given := ask(path)
			r := s.expect(s.do("GET", asked, who, nil), 400, "invalid")
			var named []string
			for _, e := range r.Body["errors"].([]any) {
				named = append(named, e.(map[string]any)["field"].(string))
			}
			if !slices.Equal(named, given) {
				t.Errorf("GET %s: the refusal names %v, want %v: %s", asked, named, given, r.Raw)
			}
		}
	}
	s.expect(s.do("GET", "/v1/projects/"+project+"?at_version=1", student, nil), 200)
	s.expect(s.do("GET", "/v1/projects/"+project+"?as_of="+url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), student, nil), 200)
}
