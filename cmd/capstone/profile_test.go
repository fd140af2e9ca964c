package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestProfilePartsKeptWhenLeftOut: PUT /v1/supervisors/{id}/profile sets
// the parts its body gives and keeps the others, so a coordinator setting a
// capacity ({"capacity": 6}) no longer erases the areas, info and ideas the
// supervisor published; an empty part given clears it. The answer's version
// is the profile's: a capacity alone leaves it as it was.
func TestProfilePartsKeptWhenLeftOut(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const pw = "profile parts password"
	sup := s.createUser(admin, "parts-sup@uni.example", "Parts Supervisor", []string{"supervisor"}, pw)
	tok := s.signIn("parts-sup@uni.example", pw)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 6))

	want := map[string]any{"areas": []any{}, "info": "", "project_ideas": []any{}}
	capacity, version := 0, int64(0)
	for i := range 12 {
		body := map[string]any{}
		if i == 0 || rng.IntN(2) == 0 {
			body["areas"] = []any{fmt.Sprint("Area ", i)}
		}
		if i == 0 || rng.IntN(2) == 0 {
			body["info"] = fmt.Sprint("Office ", i)
		}
		if i == 0 || rng.IntN(3) == 0 {
			body["project_ideas"] = []any{map[string]any{"title": fmt.Sprint("Idea ", i), "description": "d"}}
		}
		if rng.IntN(4) == 0 { // a part cleared
			body[[]string{"areas", "project_ideas"}[rng.IntN(2)]] = []any{}
		}
		who := tok
		if len(body) == 0 || rng.IntN(2) == 0 {
			capacity = 1 + rng.IntN(10)
			body["capacity"], who = capacity, admin
		}
		changes := false
		for k, v := range body {
			if k != "capacity" && fmt.Sprint(want[k]) != fmt.Sprint(v) {
				want[k], changes = v, true
			}
		}
		r := s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", who, body), 200)
		if changes {
			version++
		}
		if r.num("version") != version || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, version) {
			t.Fatalf("PUT %v: version %d (ETag %s), want the profile's %d", body, r.num("version"), r.Header.Get("ETag"), version)
		}
		if c, ok := body["capacity"]; ok && r.num("capacity") != int64(c.(int)) {
			t.Fatalf("PUT %v answered capacity %v", body, r.Body["capacity"])
		}
		got := s.expect(s.do("GET", "/v1/supervisors/"+sup, tok, nil), 200)
		for _, k := range []string{"areas", "info", "project_ideas"} {
			if fmt.Sprint(got.Body[k]) != fmt.Sprint(want[k]) {
				t.Fatalf("after PUT %v, %s is %v, want %v", body, k, got.Body[k], want[k])
			}
		}
		if capacity > 0 && got.num("capacity") != int64(capacity) {
			t.Fatalf("after PUT %v, capacity %d, want %d", body, got.num("capacity"), capacity)
		}
	}
	// The coordinator's capacity alone, on a profile never published,
	// publishes none (version 0: the profile has no event).
	other := s.createUser(admin, "parts-sup2@uni.example", "Parts Two", []string{"supervisor"}, pw)
	if r := s.expect(s.do("PUT", "/v1/supervisors/"+other+"/profile", admin, map[string]any{"capacity": 4}), 200); r.num("version") != 0 {
		t.Fatalf("a capacity alone made a profile: %s", r.Raw)
	}
}
