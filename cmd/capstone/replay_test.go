package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRebuildEqualsLive: the live read models equal a rebuild from the
// event store; a rebuild switched over while writes go on loses none of
// them, and queries then serve the rebuilt collections.
func TestRebuildEqualsLive(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"students", "students.csv"}, {"preferences", "preferences.csv"}} {
		s.expect(s.upload(admin, f.kind, f.file, fixture(t, f.file), ""), 200)
	}
	stu := s.createUser(admin, "replay@uni.example", "Replay", []string{"student"}, "replay password 1")
	tok := s.signIn("replay@uni.example", "replay password 1")
	pid := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Before"}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/projects/"+pid, tok, map[string]string{"title": "After"}), 200)
	s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 7}), 200)

	quiet := func() {
		waitFor(t, "the projections to catch up", func() bool {
			res, err := s.app.Rebuild(ctx, nil, true, nil)
			return err == nil && len(res.Differences) == 0
		})
	}
	quiet()

	// Rebuild and switch over while students keep editing.
	var stop atomic.Bool
	var wg sync.WaitGroup
	edits := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if s.do("PATCH", "/v1/projects/"+pid, tok, map[string]string{"aim": fmt.Sprint("aim ", i)}).Status == 200 {
				edits++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Users created after the scan and before the switch reach only the old
	// collections: the catch-up must bring them over (no later commit would).
	var late []string
	res, err := s.app.Rebuild(ctx, nil, false, func(p RebuildProgress) {
		if p.Phase == "rebuild-done" {
			for i := range 3 {
				late = append(late, s.createUser(admin, fmt.Sprintf("late%d@uni.example", i), "Late", []string{"examiner"}, ""))
			}
			time.Sleep(300 * time.Millisecond) // projected into the old collection
		}
	})
	stop.Store(true)
	wg.Wait()
	if err != nil || !res.Switched {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	if edits == 0 {
		t.Fatal("no write happened during the rebuild")
	}
	quiet()
	for _, n := range ProjectionNames() {
		if got := newReadModels(s).Physical(ctx, n); got != res.Collections[n] {
			t.Fatalf("%s is served from %s, not the rebuilt %s", n, got, res.Collections[n])
		}
	}
	hist := s.expect(s.do("GET", "/v1/projects/"+pid+"/history", tok, nil), 200).items()
	last := hist[len(hist)-1]
	got := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%v", pid, last["version"]), tok, nil), 200)
	if got.num("version") != int64(last["version"].(float64)) {
		t.Fatalf("after the switch: version %d, history ends at %v", got.num("version"), last["version"])
	}
	s.expect(s.do("GET", "/v1/students/"+stu, tok, nil), 200)
	for _, id := range late {
		s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 200)
	}
}
