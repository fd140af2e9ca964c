package main

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestStrictJSON: a body is read one way only. Names match exactly, a name
// given twice is refused (a proxy taking the first and the service the last
// would read two different requests), and nothing is stored.
func TestStrictJSON(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "strict@uni.example", "Strict", []string{"student"}, "strict student password")
	student := s.signIn("strict@uni.example", "strict student password")

	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		code, field, message            string
	}{
		{"upper-case name", "POST", "/v1/projects", student, `{"TITLE":"Shouted"}`, 400, "invalid", "TITLE", "is not a known field"},
		{"mixed-case name", "POST", "/v1/projects", student, `{"Title":"Capitalised"}`, 400, "invalid", "Title", "is not a known field"},
		{"duplicate name", "POST", "/v1/projects", student, `{"title":"Harmless","title":"Smuggled"}`, 400, "invalid", "title", "is given more than once"},
		{"duplicate, other case", "POST", "/v1/projects", student, `{"title":"Harmless","Title":"Smuggled"}`, 400, "invalid", "Title", "is not a known field"},
		{"nested duplicate", "POST", "/v1/users", admin,
			`{"email":"dup@uni.example","name":"D","roles":["student"],"profile":{"code":"A1","code":"B2"}}`, 400, "invalid", "profile.code", "is given more than once"},
		{"nested unknown", "POST", "/v1/users", admin,
			`{"email":"dup@uni.example","name":"D","roles":["student"],"profile":{"Code":"A1"}}`, 400, "invalid", "profile.Code", "is not a known field"},
		{"duplicate password", "POST", "/v1/auth/sign-in", "", `{"email":"strict@uni.example","password":"wrong","password":"strict student password"}`, 400, "invalid", "password", "is given more than once"},
		{"nested wrong type", "POST", "/v1/users", admin, `{"email":"t@uni.example","name":"T","roles":["student"],"profile":{"code":7}}`, 400, "invalid", "profile.code", "must be a string"},
		{"element wrong type", "POST", "/v1/users", admin, `{"email":"t@uni.example","name":"T","roles":[7]}`, 400, "invalid", "roles", "must be a string"},
		{"fraction for an integer", "POST", "/v1/allocation", admin, `{"dry_run":true,"seed":1.5}`, 400, "invalid", "seed", "must be a whole number, written without a fraction or an exponent"},
		{"integer out of range", "POST", "/v1/allocation", admin, `{"dry_run":true,"seed":123456789012345678901234567890}`, 400, "invalid", "seed", "is out of range"},
		{"top level not an object", "POST", "/v1/projects", student, `["title"]`, 400, "invalid", "body", "must be an object"},
		{"top level null", "POST", "/v1/marking/release", admin, ` null `, 400, "invalid", "body", "must be an object"},
		{"invalid UTF-8", "POST", "/v1/projects", student, "{\"title\":\"\xff\xfe\"}", 400, "malformed-json", "", ""},
		{"empty body", "POST", "/v1/projects", student, ``, 400, "malformed-json", "", ""},
		{"too large after the object", "POST", "/v1/projects", student, `{"title":"x"}` + strings.Repeat(" ", 1<<20), 413, "body-too-large", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := *s
			sub.t = t
			var body any = c.body
			if c.body == "" {
				body = nil
			}
			r := sub.do(c.method, c.path, c.token, body, "Content-Type", "application/json")
			sub.expect(r, c.status, c.code)
			if c.field == "" {
				return
			}
			errs, _ := r.Body["errors"].([]any)
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one naming %s", r.Body["errors"], c.field)
			}
			fe, _ := errs[0].(map[string]any)
			if fe["field"] != c.field || fe["message"] != c.message {
				t.Fatalf("field error %v, want %s %q", fe, c.field, c.message)
			}
		})
	}
	if items := s.expect(s.do("GET", "/v1/projects", student, nil), 200).items(); len(items) != 0 {
		t.Fatalf("a refused body stored projects: %v", items)
	}
	// The exact names still work.
	s.expect(s.do("POST", "/v1/projects", student, `{"title":"Exact"}`), 201)
}

// TestEveryFieldErrorAtOnce: a body with several invalid fields is refused
// with every one of them listed, as docs/api.md says: values of the wrong
// type and unknown names anywhere in the body (the decoder stopped at the
// first), and a new user's invalid fields with a weak password (which was
// reported on its own).
func TestEveryFieldErrorAtOnce(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "atonce@uni.example", "At Once", []string{"student"}, "at once student password")
	student := s.signIn("atonce@uni.example", "at once student password")
	fieldsOf := func(r response) []string {
		var out []string
		for _, e := range r.Body["errors"].([]any) {
			out = append(out, e.(map[string]any)["field"].(string))
		}
		slices.Sort(out)
		return out
	}
	wrong := []any{1, true, []any{"x"}, map[string]any{"a": 1}, 2.5}
	for range 20 {
		body, want := map[string]any{}, []string{}
		for _, f := range []string{"title", "description", "aim", "rationale", "supervisor_id"} {
			if rand.IntN(2) == 0 {
				body[f], want = wrong[rand.IntN(len(wrong))], append(want, f)
			} else if f == "title" {
				body[f] = "A fine title"
			}
		}
		if rand.IntN(3) == 0 {
			body["colour"], want = "blue", append(want, "colour")
		}
		if len(want) == 0 {
			continue
		}
		slices.Sort(want)
		r := s.expect(s.do("POST", "/v1/projects", student, body), 400, "invalid")
		if got := fieldsOf(r); !slices.Equal(got, want) {
			t.Fatalf("POST %v: fields %v, want %v", body, got, want)
		}
	}
	r := s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": "not an address", "name": "", "roles": []string{"student"}, "password": "short"}), 400, "invalid")
	if got := fieldsOf(r); !slices.Equal(got, []string{"email", "name", "password"}) {
		t.Fatalf("a new user with a bad e-mail, no name and a weak password: %v", r.Raw)
	}
	r = s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": 1, "name": 2, "roles": "student", "profile": map[string]any{"code": 3, "username": 4}}), 400, "invalid")
	if got := fieldsOf(r); !slices.Equal(got, []string{"email", "name", "profile.code", "profile.username", "roles"}) {
		t.Fatalf("a new user whose every field has the wrong type: %v", r.Raw)
	}
}
