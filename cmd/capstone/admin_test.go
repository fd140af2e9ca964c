package main

import (
	"context"
	"strings"
	"testing"
	"time"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/status"
)

// TestAdminProjections: the status shows each projection's progress; a
// verify rebuild started over the API runs in the background, shows its
// progress, and finds the live read models equal to a rebuild.
func TestAdminProjections(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "status@uni.example", "Status", []string{"student"}, "")
	var st response
	waitFor(t, "the users projection to report", func() bool {
		st = s.expect(s.do("GET", "/v1/admin/projections", admin, nil), 200)
		for _, it := range st.items() {
			if it["name"] == "users" && it["applied"].(float64) >= 2 && it["position"] != nil && it["instances"].(float64) == 1 {
				return true
			}
		}
		return false
	})
	if len(st.items()) != len(projections.Names()) {
		t.Fatalf("status: %s", st.Raw)
	}
	s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{"nope"}}), 400)
	// A name twice is refused up front (it was accepted, then the rebuild failed).
	twice := s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{"users", "projects", "users"}}), 400, "invalid")
	if !strings.Contains(twice.str("detail"), `"users" is named twice`) {
		t.Fatalf("rebuild with a name twice: %s", twice.Raw)
	}
	if rb := s.do("GET", "/v1/admin/projections", admin, nil).Body["rebuild"]; rb != nil {
		t.Fatalf("a refused rebuild started: %v", rb)
	}
	started := s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"verify": true}), 202)
	if started.Body["running"] != true {
		t.Fatalf("rebuild: %s", started.Raw)
	}
	waitFor(t, "the rebuild to finish", func() bool {
		rb, _ := s.do("GET", "/v1/admin/projections", admin, nil).Body["rebuild"].(map[string]any)
		if rb["running"] == true {
			return false
		}
		if rb["error"] != nil || rb["differences"] != nil || rb["phase"] != "done" || rb["commits"].(float64) < 4 {
			t.Fatalf("rebuild: %v", rb)
		}
		return true
	})
}

// TestAdminProjectionsCountsEveryInstance: with two projector processes on
// one store, every projection counts both, whichever commits each happened
// to apply (replicas share a subscription, so one may apply nothing of a
// projection for a while); a process that stops is no longer counted.
func TestAdminProjectionsCountsEveryInstance(t *testing.T) {
	start := splitStarter(t)
	api := start("api")
	start("projector")
	second := start("projector")
	admin := api.admin()
	api.createUser(admin, "instances@uni.example", "Instances", []string{"student"}, "")
	counts := func() map[string]float64 {
		out := map[string]float64{}
		for _, it := range api.expect(api.do("GET", "/v1/admin/projections", admin, nil), 200).items() {
			out[it["name"].(string)] = it["instances"].(float64)
		}
		return out
	}
	want := func(n float64) func() bool {
		return func() bool {
			c := counts()
			for _, name := range projections.Names() {
				if c[name] != n {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "every projection to count two instances", want(2))
	if c := counts(); len(c) != len(projections.Names()) {
		t.Fatalf("counts %v", c)
	}
	second.stop()
	waitFor(t, "every projection to count the one left", want(1))
}

// TestRebuildEndsWithTheService: a rebuild started over the API belongs to
// the service: closing the service stops it, and Close returns only once it
// has stopped, so it never works on a store that is closed.
func TestRebuildEndsWithTheService(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "lifetime@uni.example", "Lifetime", []string{"student"}, "")
	app := s.app
	// With another process projecting (on record as running), a switching
	// rebuild waits seconds for it to see the switch before its catch-up:
	// it is still running when the service closes.
	other := status.Record{ID: "users@another-process", Projection: "users", UpdatedAt: time.Now()}
	if err := imongo.NewProjectionStatus(s.app.store.DB).Save(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{}), 202)
	s.stop()
	st, ok := app.rebuilds.Last()
	if !ok || st.Running || st.FinishedAt == nil {
		t.Fatalf("after Close, the rebuild still runs: %+v", st)
	}
	if !strings.Contains(st.Error, context.Canceled.Error()) {
		t.Fatalf("the rebuild was not stopped by Close: %+v", st)
	}
}
