package main

import (
	"net/url"
	"strings"
	"testing"
)

// refusedField fails the test unless r is a 400 invalid naming field.
func refusedField(t *testing.T, s *service, r response, field string) response {
	t.Helper()
	s.expect(r, 400, "invalid")
	errs, _ := r.Body["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["field"] != field {
		t.Fatalf("the refusal does not name %s alone: %s", field, r.Raw)
	}
	return r
}

// TestPastStateParametersMalformed: ?at_version= and ?as_of= given empty,
// and ?at_version=0 (no project ever has a version 0), were answered with
// the present state, as if absent: a client that asked for the past took
// the present for it. Each is a 400 invalid naming the parameter, as any
// other malformed value is.
func TestPastStateParametersMalformed(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "pe-a@uni.example", "Student A", []string{"student"}, "past edge password")
	a := s.signIn("pe-a@uni.example", "past edge password")
	id := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Then"}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/projects/"+id, a, map[string]string{"title": "Now"}, "If-Match", `"1"`), 200)

	for _, q := range []string{"at_version=", "at_version=0", "at_version=-0", "at_version=+0", "at_version=00"} {
		refusedField(t, s, s.do("GET", "/v1/projects/"+id+"?"+q, a, nil), "at_version")
	}
	refusedField(t, s, s.do("GET", "/v1/projects/"+id+"?as_of=", a, nil), "as_of")
	// Given with a valid other, the empty one is still refused, not ignored.
	refusedField(t, s, s.do("GET", "/v1/projects/"+id+"?at_version=1&as_of=", a, nil), "as_of")
	refusedField(t, s, s.do("GET", "/v1/projects/"+id+"?at_version=&as_of=2026-01-01T00:00:00Z", a, nil), "at_version")
	if r := s.expect(s.do("GET", "/v1/projects/"+id+"?at_version=1", a, nil), 200); r.str("title") != "Then" {
		t.Fatalf("at_version=1: %s", r.Raw)
	}
}

// TestAsOfOutOfRFC3339Range: an as_of whose offset is out of RFC 3339's
// range (+24:00, minutes 60) was accepted; it is refused as any other bad
// time is, with the same code and message. Offsets in range still pass.
func TestAsOfOutOfRFC3339Range(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "pr-a@uni.example", "Student A", []string{"student"}, "past range password")
	a := s.signIn("pr-a@uni.example", "past range password")
	id := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Then"}), 201).str("id")
	asOf := func(v string) response {
		return s.do("GET", "/v1/projects/"+id+"?as_of="+url.QueryEscape(v), a, nil)
	}
	want := refusedField(t, s, asOf("yesterday"), "as_of").Body["errors"].([]any)[0].(map[string]any)["message"]
	for _, v := range []string{
		"2026-01-01T24:00:00Z", "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00-24:00",
		"2026-01-01T10:00:00+12:60", "2099-01-01T10:00:00+23:99", "2026-01-01T10:00:00+99:00",
		"2026-01-01T10:00:60Z", "2026-02-30T10:00:00Z", "2026-13-01T10:00:00Z",
	} {
		got := refusedField(t, s, asOf(v), "as_of").Body["errors"].([]any)[0].(map[string]any)["message"]
		if got != want {
			t.Errorf("as_of=%s: message %q, want the bad time's %q", v, got, want)
		}
	}
	for _, v := range []string{"2099-01-01T10:00:00+23:59", "2099-01-01T10:00:00-23:59", "2099-01-01T10:00:00.5+00:00"} {
		if r := s.expect(asOf(v), 200); r.str("title") != "Then" {
			t.Fatalf("as_of=%s: %s", v, r.Raw)
		}
	}
}

// TestNumberParametersGivenEmpty: ?limit= and ?min_version= given empty
// were read as absent, unlike every other query parameter given empty
// (?at_version=, ?as_of=, ?dry_run=): a client whose code left the value
// out got a whole first page, or a read that waited for nothing. Each is a
// 400 invalid naming the parameter; given a value, each still works.
func TestNumberParametersGivenEmpty(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "ne-a@uni.example", "Student A", []string{"student"}, "number edge password")
	a := s.signIn("ne-a@uni.example", "number edge password")
	project := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Then"}), 201).str("id")
	refusedField(t, s, s.do("GET", "/v1/users?limit=", admin, nil), "limit")
	refusedField(t, s, s.do("GET", "/v1/users/"+id+"?min_version=", admin, nil), "min_version")
	refusedField(t, s, s.do("GET", "/v1/projects/"+project+"?min_version=", a, nil), "min_version")
	if got := s.expect(s.do("GET", "/v1/users?limit=1", admin, nil), 200).items(); len(got) != 1 {
		t.Fatalf("limit=1: %d users", len(got))
	}
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200)
	s.expect(s.do("GET", "/v1/projects/"+project+"?min_version=1", a, nil), 200)
}

// TestNumbersInDigitsAlone: a version or a count given with a sign or a
// space (?at_version=+1, ?limit=-0, If-Match "+2"), or empty, is refused as any other
// malformed value is, and changes nothing; strconv's parser took "+1" as 1
// and "-0" as 0. The same numbers in digits alone are taken.
func TestNumbersInDigitsAlone(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "digits@uni.example", "Digits", []string{"student"}, "digits alone password")
	a := s.signIn("digits@uni.example", "digits alone password")
	project := s.expect(s.do("POST", "/v1/projects", a, map[string]string{"title": "Then"}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/projects/"+project, a, map[string]string{"title": "Now"}), 200)
	for _, v := range []string{"+1", "-0", "+0", "%2B2", "%201", "1%20", "0x1", "1e0", "１"} {
		refusedField(t, s, s.do("GET", "/v1/projects/"+project+"?at_version="+v, a, nil), "at_version")
		refusedField(t, s, s.do("GET", "/v1/projects/"+project+"?min_version="+v, a, nil), "min_version")
		refusedField(t, s, s.do("GET", "/v1/users?limit="+v, admin, nil), "limit")
	}
	if title := s.expect(s.do("GET", "/v1/projects/"+project+"?at_version=1", a, nil), 200).str("title"); title != "Then" {
		t.Fatalf("at_version=1: title %q, want Then", title)
	}
	s.expect(s.do("GET", "/v1/users?limit=0", admin, nil), 200)
	for _, v := range []string{`"+2"`, `"-0"`, `+2`, `" 2"`, ``, `  `} { // given empty: not absent
		status, ctype, raw := s.sendHeaders("PATCH", s.base+"/v1/projects/"+project, a, []byte(`{"title":"Signed"}`),
			"Content-Type", "application/json", "If-Match", v)
		if status != 400 || ctype != "application/problem+json" || !strings.Contains(raw, `"code":"invalid-if-match"`) {
			t.Fatalf("If-Match %s: %d %s %s, want 400 invalid-if-match", v, status, ctype, raw)
		}
	}
	if title := s.expect(s.do("GET", "/v1/projects/"+project, a, nil), 200).str("title"); title != "Now" {
		t.Fatalf("a refused If-Match changed the project: title %q", title)
	}
	status, _, raw := s.sendHeaders("PATCH", s.base+"/v1/projects/"+project, a, []byte(`{"title":"Digits"}`),
		"Content-Type", "application/json", "If-Match", `"2"`)
	if status != 200 {
		t.Fatalf(`If-Match "2": %d %s`, status, raw)
	}
}
