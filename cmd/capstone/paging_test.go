package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/api"
)

// walkPages reads a list page by page with ?limit=size and returns the ids
// (or, for a history, the versions) in order, failing on a repeat.
func walkPages(t *testing.T, s *service, token, path, key string, size int) []string {
	t.Helper()
	var out []string
	seen, cursor := map[string]bool{}, ""
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for pages := 0; ; pages++ {
		r := s.expect(s.do("GET", fmt.Sprintf("%s%slimit=%d&cursor=%s", path, sep, size, cursor), token, nil), 200)
		if len(r.items()) > size {
			t.Fatalf("%s: a page of %d with limit %d", path, len(r.items()), size)
		}
		for _, it := range r.items() {
			k := fmt.Sprint(it[key])
			if seen[k] {
				t.Fatalf("%s: %s twice", path, k)
			}
			seen[k] = true
			out = append(out, k)
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			return out
		}
		if pages > len(out)+100 { // a hundred pages more than items: pages that bring nothing
			t.Fatalf("%s: paging does not end", path)
		}
	}
}

// TestEveryListPages: every GET route whose answer is a list honours
// ?limit= and ?cursor=, or refuses them (400): none answers more than it was
// asked for. The routes come from Server.Routes, so a new list is covered.
// The supervisors list and histories page through everything, in order.
func TestEveryListPages(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	var sups []string
	for i := range 5 {
		id := s.createUser(admin, fmt.Sprintf("pages-sup%d@uni.example", i), "Dr Pages", []string{"supervisor"}, miniPassword)
		s.expect(s.do("PUT", "/v1/supervisors/"+id+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 1}), 200)
		sups = append(sups, id)
	}
	stu := s.createUser(admin, "pages-stu@uni.example", "Student Pages", []string{"student"}, miniPassword)
	tok := s.signIn("pages-stu@uni.example", miniPassword)
	p := s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Paged"}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Another"}), 201)
	for i := range 4 {
		s.expect(s.do("PATCH", "/v1/projects/"+p, tok, map[string]any{"title": fmt.Sprint("Paged ", i)}), 200)
		s.expect(s.do("PATCH", "/v1/users/"+stu, admin, map[string]any{"name": fmt.Sprint("Student ", i)}), 200)
	}
	waitFor(t, "the supervisors list", func() bool { return len(s.do("GET", "/v1/supervisors", admin, nil).items()) == 5 })

	ids := map[string]string{"{id}": stu, "{name}": "assignments"}
	var checked, paged []string
	for _, route := range s.app.API.Routes() {
		if route.Method != "GET" {
			continue
		}
		path := muxTemplate(route.Path)
		for k, v := range ids {
			path = strings.ReplaceAll(path, k, v)
		}
		if strings.HasPrefix(path, "/v1/projects/"+stu) {
			path = strings.Replace(path, stu, p, 1)
		}
		if strings.HasPrefix(path, "/v1/supervisors/"+stu) {
			path = strings.Replace(path, stu, sups[0], 1)
		}
		whole := s.do("GET", path, admin, nil)
		if whole.Status != 200 || len(whole.items()) < 2 {
			continue // not a list, or too short to tell
		}
		checked = append(checked, route.Path)
		r := s.do("GET", path+"?limit=1", admin, nil)
		switch {
		case r.Status == 400 && r.str("code") == "invalid":
		case r.Status == 200 && len(r.items()) == 1 && r.str("next_cursor") != "":
			paged = append(paged, "GET "+muxTemplate(route.Path))
		default:
			t.Errorf("GET %s?limit=1 of a list of %d: %d with %d items, next_cursor %q", path, len(whole.items()), r.Status, len(r.items()), r.str("next_cursor"))
		}
		if r.Status == 200 { // a page size past any integer is the maximum, as any above it is
			huge := s.do("GET", path+"?limit=100000000000000000000", admin, nil)
			if huge.Status != 200 || len(huge.items()) != len(whole.items()) {
				t.Errorf("GET %s?limit=100000000000000000000 of a list of %d: %d with %d items", path, len(whole.items()), huge.Status, len(huge.items()))
			}
		}
		for _, bad := range []string{"not-a-cursor", "AAAA"} { // AAAA: three NULs, base64
			if r := s.do("GET", path+"?cursor="+bad, admin, nil); r.Status != 400 {
				t.Errorf("GET %s?cursor=%s: %d", path, bad, r.Status)
			}
		}
	}

	for _, list := range []string{"/v1/users", "/v1/projects", "/v1/supervisors", "/v1/users/{id}/history", "/v1/projects/{id}/history", "/v1/admin/projections"} {
		if !slices.Contains(checked, list) {
			t.Errorf("the list %s was not checked (checked: %v)", list, checked)
		}
	}
	checkPagingDocumented(t, paged)
	if got := walkPages(t, s, tok, "/v1/supervisors", "id", 2); fmt.Sprint(got) != fmt.Sprint(sups) {
		t.Fatalf("supervisors paged: %v, want %v", got, sups)
	}
	// A project: created and edited 4 times; a user: created with a password (two events), renamed 4 times.
	for path, n := range map[string]int{"/v1/projects/" + p + "/history": 5, "/v1/users/" + stu + "/history": 6} {
		if got := walkPages(t, s, admin, path, "version", 2); fmt.Sprint(got) != fmt.Sprint([]string{"1", "2", "3", "4", "5", "6"}[:n]) {
			t.Fatalf("%s paged: %v", path, got)
		}
	}
	for _, path := range []string{"/v1/admin/projections?limit=2", "/v1/exports/assignments.csv?cursor=x", "/v1/supervisors?limit=-1",
		"/v1/users/" + me + "/history?limit=x"} {
		s.expect(s.do("GET", path, admin, nil), 400, "invalid")
	}
}

// checkPagingDocumented: the OpenAPI document says what the routes do. Every
// route seen paging declares ?limit= and ?cursor=, and no operation that
// declares them carries a departure note saying it is not paginated (three
// such notes outlived the paging they denied).
func checkPagingDocumented(t *testing.T, paged []string) {
	t.Helper()
	ops := parseOpenAPI(t, api.OpenAPI()).operations()
	declares := func(op map[string]any, param string) bool {
		params, _ := op["parameters"].([]any)
		return slices.ContainsFunc(params, func(p any) bool {
			m, _ := p.(map[string]any)
			return m["$ref"] == "#/components/parameters/"+param || m["name"] == strings.ToLower(param)
		})
	}
	for _, key := range paged {
		if op := ops[key]; op == nil || !declares(op, "Limit") || !declares(op, "Cursor") {
			t.Errorf("%s pages, but its operation does not declare limit and cursor", key)
		}
	}
	for key, op := range ops {
		if !declares(op, "Limit") || !declares(op, "Cursor") {
			continue
		}
		notes, _ := op["x-departure"].([]any)
		for _, n := range notes {
			if strings.Contains(strings.ToLower(fmt.Sprint(n)), "paginated") {
				t.Errorf("%s declares limit and cursor, but a departure note says: %s", key, n)
			}
		}
	}
}
