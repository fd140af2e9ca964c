package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestIdempotencyKey: a repeated POST with the same key answers the first
// response and stores nothing new; another body with the key is refused.
func TestIdempotencyKey(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	body := map[string]any{"email": "idem@uni.example", "name": "Idem", "roles": []string{"student"}}
	first := s.expect(s.do("POST", "/v1/users", admin, body, "Idempotency-Key", "create-idem-1"), 201)
	again := s.do("POST", "/v1/users", admin, body, "Idempotency-Key", "create-idem-1")
	if again.Status != 201 {
		t.Log(s.logs.String())
	}
	again = s.expect(again, 201)
	if again.str("id") != first.str("id") || again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs:\n%v %s\n%v %s", first.Header, first.Raw, again.Header, again.Raw)
	}
	other := map[string]any{"email": "idem2@uni.example", "name": "Idem", "roles": []string{"student"}}
	s.expect(s.do("POST", "/v1/users", admin, other, "Idempotency-Key", "create-idem-1"), 422, "idempotency-key-reused")
	// Without the key, the same body is a new request: the e-mail is taken.
	s.expect(s.do("POST", "/v1/users", admin, body), 409, "email-taken")

	// Concurrent repeats of one project creation create one project, and
	// every one of them answers it.
	s.createUser(admin, "idem.student@uni.example", "Idem Student", []string{"student"}, "idem student password")
	student := s.signIn("idem.student@uni.example", "idem student password")
	var wg sync.WaitGroup
	ids := make([]string, 10)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.do("POST", "/v1/projects", student, map[string]string{"title": "Once"}, "Idempotency-Key", "proj-once")
			if r.Status != 201 {
				t.Errorf("repeat answered %d %s", r.Status, r.Raw)
			}
			ids[i] = r.str("id")
		}()
	}
	wg.Wait()
	distinct := map[string]bool{}
	for _, id := range ids {
		if id != "" {
			distinct[id] = true
		}
	}
	if len(distinct) != 1 {
		t.Fatalf("concurrent repeats created %d projects: %v", len(distinct), ids)
	}
	waitFor(t, "the project list", func() bool { return len(s.do("GET", "/v1/projects", student, nil).items()) >= 1 })
	if n := len(s.do("GET", "/v1/projects", student, nil).items()); n != 1 {
		t.Fatalf("%d projects listed, want 1", n)
	}
}

// TestCursorPagination walks a list page by page: every user once, in order.
func TestCursorPagination(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	want := map[string]bool{}
	for i := range 7 {
		want[s.createUser(admin, fmt.Sprintf("page%d@uni.example", i), fmt.Sprint("Page ", i), []string{"examiner"}, "")] = true
	}
	waitFor(t, "the user list", func() bool { return len(s.do("GET", "/v1/users?role=examiner&limit=200", admin, nil).items()) == 7 })
	seen, cursor, pages := map[string]bool{}, "", 0
	last := ""
	for {
		r := s.expect(s.do("GET", "/v1/users?role=examiner&limit=3&cursor="+cursor, admin, nil), 200)
		pages++
		for _, it := range r.items() {
			id := fmt.Sprint(it["id"])
			if seen[id] || id <= last {
				t.Fatalf("page %d repeats or reorders %s", pages, id)
			}
			seen[id], last = true, id
		}
		cursor = r.str("next_cursor")
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("%d pages, %d users; want 3 pages, %d users", pages, len(seen), len(want))
	}
	if r := s.expect(s.do("GET", "/v1/users?limit=1000", admin, nil), 200); len(r.items()) != 8 || strings.Contains(r.Raw, "next_cursor") {
		t.Fatalf("limit above the maximum: %d items, %s", len(r.items()), r.Raw[:80])
	}
}
