package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/api"
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

// TestIdempotencyKeySameJSON: a create resent with the same JSON, its
// members in another order and spaced otherwise, is the same request: it is
// answered as the first (it was 422 idempotency-key-reused). The same
// members with another value are another request.
func TestIdempotencyKeySameJSON(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	members := []string{`"email": "same.json@uni.example"`, `"name":"Same Json"`, `"roles":["student"]`, `"profile":{"code":"SJ1","username":"sj1"}`}
	first := s.expect(s.do("POST", "/v1/users", admin, "{"+strings.Join(members, ",")+"}", "Idempotency-Key", "same-json"), 201)
	for range 5 {
		rand.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		body := "{ " + strings.Join(members, " ,\n  ") + " }"
		again := s.expect(s.do("POST", "/v1/users", admin, body, "Idempotency-Key", "same-json"), 201)
		if again.str("id") != first.str("id") || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("%s: %s", body, again.Raw)
		}
	}
	s.expect(s.do("POST", "/v1/users", admin, `{"email":"same.json@uni.example","name":"Same Jsön","roles":["student"],"profile":{"code":"SJ1","username":"sj1"}}`,
		"Idempotency-Key", "same-json"), 422, "idempotency-key-reused")
}

// TestRepeatedQueryParameters: a query parameter that takes one value is
// refused when given twice (?limit=1&limit=2 took the first), for every one
// the API documents; those documented as repeatable are the ones taken.
func TestRepeatedQueryParameters(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	doc := parseOpenAPI(t, api.OpenAPI())
	params := map[string]string{} // name -> description
	var collect func(v any)
	collect = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["in"] == "query" {
				params[x["name"].(string)], _ = x["description"].(string)
			}
			for _, e := range x {
				collect(e)
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		}
	}
	collect(doc.root)
	if len(params) < 10 {
		t.Fatalf("read %d query parameters from the OpenAPI document", len(params))
	}
	for name, desc := range params {
		r := s.do("GET", "/v1/users?"+name+"=1&"+name+"=2", admin, nil)
		refused := r.Status == 400 && strings.Contains(r.Raw, `"field":"`+name+`","message":"is given more than once"`)
		if documented := strings.Contains(desc, "repeat the parameter"); documented == refused {
			t.Errorf("?%s twice: %d %s (documented as repeatable: %v)", name, r.Status, r.Raw, documented)
		}
	}
	// A preview asked for twice, once as not one, stores nothing.
	s.expect(s.upload(admin, "supervisors", "s.csv", fixture(t, "supervisors.csv"), "?dry_run=true&dry_run=false"), 400, "invalid")
	if items := s.expect(s.do("GET", "/v1/supervisors", admin, nil), 200).items(); len(items) != 0 {
		t.Fatalf("a refused import stored %d supervisors", len(items))
	}
}
