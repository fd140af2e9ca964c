package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestProjectorStartsWhilePubSubIsDown: a projector process started while
// Pub/Sub is out of reach starts all the same (it used to fail its start
// once the client library had retried for a minute), answers /readyz
// 503 not-ready while it has no subscription, keeps trying well past the
// bound of one try, and once Pub/Sub is back it subscribes, is ready, and
// receives every commit published meanwhile: the read models show every
// write of the outage exactly once, equal to a rebuild.
func TestProjectorStartsWhilePubSubIsDown(t *testing.T) {
	defer func(w, r time.Duration) { pubsubSetUpWithin, resubscribeAtMost = w, r }(pubsubSetUpWithin, resubscribeAtMost)
	pubsubSetUpWithin, resubscribeAtMost = 300*time.Millisecond, 500*time.Millisecond

	em, ctx, store := splitStore(t)
	px := newProxy(t, em.Addr())
	px.cut()
	env := func(components, emulator string) map[string]string { return splitEnv(components, emulator, "warn") }
	// The API reaches Pub/Sub; the projector only through the cut proxy.
	api := startOn(t, ctx, store, env("api", em.Addr()))
	admin := api.admin()
	started := time.Now()
	projector := startOn(t, ctx, store, env("projector", px.addr))
	t.Logf("the projector started in %v with Pub/Sub out of reach", time.Since(started).Round(time.Millisecond))

	var ids []string
	for i := range 8 {
		id := api.createUser(admin, fmt.Sprintf("during.outage%d@uni.example", i), "Outage", []string{"student"}, "")
		api.expect(api.do("PATCH", "/v1/users/"+id, admin, map[string]any{"name": fmt.Sprintf("Outage %d", i)}), 200)
		ids = append(ids, id)
	}
	// Down for ten times one try's bound: the projector keeps trying.
	for end := time.Now().Add(10 * pubsubSetUpWithin); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		projector.expect(projector.do("GET", "/readyz", "", nil), 503, "not-ready")
		select {
		case err := <-projector.app.Served():
			t.Fatalf("the projector stopped while Pub/Sub was out of reach: %v", err)
		default:
		}
	}
	if !strings.Contains(projector.logs.String(), "cannot subscribe to the bus") {
		t.Errorf("no warning that the projector cannot subscribe:\n%s", projector.logs.String())
	}

	px.restore(t)
	waitForLong(t, "the projector to be ready once Pub/Sub is back", 20*time.Second, func() bool {
		return projector.do("GET", "/readyz", "", nil).Status == 200
	})
	for i := range 4 {
		id := api.createUser(admin, fmt.Sprintf("after.outage%d@uni.example", i), "After", []string{"student"}, "")
		ids = append(ids, id)
	}
	for i, id := range ids {
		want := fmt.Sprintf("Outage %d", i)
		if i >= 8 {
			want = "After"
		}
		waitForLong(t, "user "+id+" in the read model", 20*time.Second, func() bool {
			r := api.do("GET", "/v1/users/"+id, admin, nil)
			return r.Status == 200 && r.str("name") == want
		})
	}
	// Every commit published while the projector could not subscribe, and
	// after, is received over Pub/Sub too (acked by every group).
	waitForLong(t, "every message acked by every projection", 20*time.Second, func() bool {
		msgs := em.Server().Messages()
		for _, m := range msgs {
			if m.Acks < len(projectionGroups) {
				return false
			}
		}
		return len(msgs) >= len(ids)*2
	})
	list := api.expect(api.do("GET", "/v1/users?limit=200", admin, nil), 200).items()
	seen := map[string]int{}
	for _, u := range list {
		seen[u["id"].(string)]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("user %s listed %d times", id, seen[id])
		}
	}
	started2 := api.expect(api.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"verify": true}), 202)
	if started2.Body["running"] != true {
		t.Fatalf("rebuild: %s", started2.Raw)
	}
	waitForLong(t, "the verifying rebuild", 30*time.Second, func() bool {
		rb, _ := api.do("GET", "/v1/admin/projections", admin, nil).Body["rebuild"].(map[string]any)
		if rb["running"] == true {
			return false
		}
		if rb["error"] != nil || rb["differences"] != nil || rb["phase"] != "done" {
			t.Fatalf("the read models differ from a rebuild: %v", rb)
		}
		return true
	})
}
