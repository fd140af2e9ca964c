package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestCatchUpSkipsWhatOtherProjectorsApplied: with two projector processes
// sharing the bus's subscriptions, each applies part of the commits, and
// the catch-up (one of them at a time) applies again none of those the
// other applied. Before, it knew only of what its own process applied, and
// loaded and delivered again every commit the other had applied once it
// was a second old: about half of all commits, a store read for each and
// one for each read model.
//
// The writes come one after the other, at a pace the bus keeps up with:
// what the bus delivers later than the catch-up looks (a second after the
// append) is the catch-up's to apply, marked or not.
func TestCatchUpSkipsWhatOtherProjectorsApplied(t *testing.T) {
	users := 30 + rand.N(30)
	start := splitStarter(t)
	api := start("api")
	projectors := []*service{start("projector"), start("projector")}
	admin := api.admin()
	ids := make([]string, users)
	for i := range users {
		ids[i] = api.createUser(admin, fmt.Sprintf("marked%d@uni.example", i), "Marked", []string{"student", "supervisor"}, "")
	}
	// Streams of several commits, whose commits the bus spreads over both
	// processes: a projection that fills no gaps (the students' and
	// supervisors' documents) applies each whatever applied the one before.
	for round := range 2 {
		for _, id := range ids {
			api.expect(api.do("PATCH", "/v1/users/"+id, admin, map[string]any{"name": fmt.Sprint("Renamed ", round)}), 200)
		}
	}
	p := projectors[0]
	waitForLong(t, "the catch-up's checkpoints at the log's end", time.Minute, func() bool {
		for _, c := range p.app.consumers {
			if behind, err := p.app.catchUp.Behind(context.Background(), c.Projection.Name()); err != nil || behind > 0 {
				return false
			}
		}
		return true
	})
	projected, caught := 0, 0
	for i, p := range projectors {
		n := p.metricSum("capstone_projection_commits_total", `outcome="ok"`)
		if n == 0 {
			t.Fatalf("projector %d applied no commit: the bus gave the other all of them, and the test checks nothing", i)
		}
		projected += n
		caught += p.metricSum("capstone_catchup_commits_total")
		for _, c := range p.app.consumers {
			name := c.Projection.Name()
			t.Logf("projector %d, %s: applied %d, the catch-up %d", i, name, p.metricSum("capstone_projection_commits_total", `projection="`+name+`"`, `outcome="ok"`),
				p.metricSum("capstone_catchup_commits_total", `projection="`+name+`"`))
		}
	}
	t.Logf("%d users created and renamed twice; the projectors applied %d commits (each once a projection), the catch-up %d", users, projected, caught)
	if caught > projected/20 {
		t.Errorf("the catch-up applied %d commits again of the %d the projectors applied, want at most a twentieth", caught, projected)
	}
}
