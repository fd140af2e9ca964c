package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestHeadLikeGet: HEAD was refused (405) on every GET route. It is
// answered as GET is (the same status, authentication, ETag and
// conditional answer) with no body, on /v1 and on the original
// frontend's listener; a 405 lists HEAD wherever it lists GET.
func TestHeadLikeGet(t *testing.T) {
	s, legacy := startLegacy(t)
	admin := s.admin()
	s.createUser(admin, "hd-a@uni.example", "Student A", []string{"student"}, "head edge password")
	a := s.signIn("hd-a@uni.example", "head edge password")
	id := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Headed"}), 201).str("id")

	same := func(path, token string) {
		t.Helper()
		get, head := s.do("GET", path, token, nil), s.do("HEAD", path, token, nil)
		if head.Status != get.Status || head.Raw != "" {
			t.Errorf("HEAD %s: %d with %d bytes, GET answered %d", path, head.Status, len(head.Raw), get.Status)
		}
		for _, h := range []string{"Content-Type", "ETag", "Cache-Control", "WWW-Authenticate"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET answered %q", path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	var gets int
	for _, r := range s.app.API.Routes() {
		if r.Method != "GET" {
			continue
		}
		gets++
		path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(r.Path, id)
		path = strings.Replace(path, id+".csv", "students.csv", 1)
		same(path, admin)
		same(path, a)
		same(path, "")
	}
	if gets < 10 {
		t.Fatalf("only %d GET routes", gets)
	}
	etag := s.expect(s.do("GET", "/v1/projects/"+id, a, nil), 200).Header.Get("ETag")
	if r := s.do("HEAD", "/v1/projects/"+id, a, nil, "If-None-Match", etag); r.Status != http.StatusNotModified {
		t.Errorf("HEAD with the current ETag: %d, want 304", r.Status)
	}

	for path, want := range map[string]string{"/v1/me": "GET, HEAD", "/v1/projects/" + id: "DELETE, GET, HEAD, PATCH", "/v1/auth/sign-in": "POST"} {
		r := s.expect(s.do("PUT", path, admin, nil), 405, "method-not-allowed")
		if got := r.Header.Get("Allow"); got != want {
			t.Errorf("PUT %s: Allow %q, want %q", path, got, want)
		}
	}
	if r := s.do("HEAD", "/v1/auth/sign-in", "", nil); r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("HEAD on a route without GET: %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}

	for _, path := range []string{"/student/all", "/supervisor/all", "/student/overview"} {
		for _, token := range []string{admin, a, ""} {
			get, head := legacy.do("GET", path, token, nil), legacy.do("HEAD", path, token, nil)
			if head.Status != get.Status || head.Raw != "" || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
				t.Errorf("legacy HEAD %s: %d %q (%d bytes), GET answered %d %q", path, head.Status, head.Header.Get("Content-Type"), len(head.Raw), get.Status, get.Header.Get("Content-Type"))
			}
		}
	}
	if r := legacy.do("PUT", "/student/shortlist", a, nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("legacy PUT /student/shortlist: %d, Allow %q", r.Status, r.Header.Get("Allow"))
	}
}
