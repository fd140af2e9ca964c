package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestReadModelsStayCurrentThroughAPubSubOutage: on the split topology
// under a steady load of writes, Pub/Sub out of reach for some seconds
// (at a random moment, for a random while) does not leave the read models
// behind: the catch-up applies from the event store what the bus cannot
// deliver, as fast as the writes come, so every write acknowledged is shown
// within a few seconds of its answer, during the outage as after it; and
// once Pub/Sub is back, the commits the API could not publish are published
// within seconds, not after the client library's reconnection back-off has
// grown through the outage.
func TestReadModelsStayCurrentThroughAPubSubOutage(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 17))
	t.Logf("seed %d", seed)
	em, ctx, store := splitStore(t)
	px := newProxy(t, em.Addr())
	env := func(components string) map[string]string { return splitEnv(components, px.addr, "warn") }
	api := startOn(t, ctx, store, env("api,relay"))
	projector := startOn(t, ctx, store, env("projector"))
	defer func() {
		if t.Failed() {
			t.Logf("api logs:\n%s\nprojector logs:\n%s", api.logs.String(), projector.logs.String())
		}
	}()
	admin := api.admin()

	// Writers: each creates a user and renames it over and over, "edit N"
	// with N counting up; the read model must come to show the last edit
	// acknowledged, or a later one.
	const writers = 6
	var (
		mu      sync.Mutex
		acked   = map[string]int{} // user id -> the last edit acknowledged
		failed  []string
		stop    = make(chan struct{})
		running sync.WaitGroup
	)
	for w := range writers {
		running.Go(func() {
			a := api.post("/v1/users", admin, map[string]any{"email": fmt.Sprintf("outage.%d.%d@uni.example", seed%1000, w),
				"name": "edit 0", "roles": []string{"student"}})
			id, _ := a.body["id"].(string)
			mu.Lock()
			if a.status == 201 {
				acked[id] = 0
			} else {
				failed = append(failed, fmt.Sprintf("create: %d %s %v", a.status, a.code, a.err))
			}
			mu.Unlock()
			for n := 1; a.status == 201; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := api.send("PATCH", "/v1/users/"+id, admin, map[string]any{"name": fmt.Sprint("edit ", n)})
				mu.Lock()
				if a.status == 200 {
					acked[id] = n
				} else {
					failed = append(failed, fmt.Sprintf("edit: %d %s %v", a.status, a.code, a.err))
				}
				mu.Unlock()
			}
		})
	}
	snapshot := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(acked)
	}
	// behind lists the users whose read model shows an edit before the one
	// of want.
	behind := func(want map[string]int) []string {
		var late []string
		for id, n := range want {
			r := api.send("GET", "/v1/users/"+id, admin, nil)
			var shown int
			if name, _ := r.body["name"].(string); r.status != 200 || !scanned(name, "edit %d", &shown) || shown < n {
				late = append(late, fmt.Sprintf("%s shows %q (%d), want edit %d or later", id, r.body["name"], r.status, n))
			}
		}
		return late
	}

	time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
	px.cut()
	down := time.Duration(10000+rng.IntN(6000)) * time.Millisecond
	t.Logf("Pub/Sub out of reach for %v", down)
	// During the outage the read models follow from the event store: each
	// second, what was acknowledged within seconds before is shown.
	const within = 6 * time.Second
	type taken struct {
		at    time.Time
		edits map[string]int
	}
	var snaps []taken
	checks, lagging := 0, []string{}
	for end := time.Now().Add(down); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		snaps = append(snaps, taken{time.Now(), snapshot()})
		for len(snaps) > 0 && time.Since(snaps[0].at) > within {
			checks++
			if late := behind(snaps[0].edits); len(late) > 0 {
				lagging = append(lagging, fmt.Sprintf("%v into the outage, %d users not showing an edit acknowledged %v before, such as %s",
					time.Since(end.Add(-down)).Round(time.Millisecond), len(late), time.Since(snaps[0].at).Round(time.Millisecond), late[0]))
			}
			snaps = snaps[1:]
		}
	}
	if checks == 0 || len(lagging) > 0 {
		t.Errorf("%d checks of %d during the outage found the read models behind:\n%s", len(lagging), checks, strings.Join(lagging, "\n"))
	}
	px.restore(t)
	restored := time.Now()
	groups := outbox.Groups(api.app.store.DB)
	// The writes go on: the groups in flight are the new ones, the
	// outage's are gone. The Pub/Sub client may take up to 30 s to open
	// its stream again after an outage, and the relay then publishes the
	// outage's backlog: 20 s was not always enough in CI.
	waitForLong(t, "the commits of the outage published", 45*time.Second, func() bool {
		n, err := groups.CountDocuments(context.Background(), bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: restored}}}})
		return err == nil && n == 0
	})
	t.Logf("the outage's commits were published %v after Pub/Sub came back", time.Since(restored).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	close(stop)
	running.Wait()
	last, stopped := snapshot(), time.Now()
	var late []string
	for end := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if late = behind(last); len(late) == 0 || time.Now().After(end) {
			break
		}
	}
	if len(late) > 0 {
		t.Fatalf("%v after the writes stopped, %d users not showing their last edit, such as %s", within, len(late), late[0])
	}
	t.Logf("every acknowledged edit shown %v after the writes stopped", time.Since(stopped).Round(time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Errorf("%d writes refused, such as %s", len(failed), failed[0])
	}
	if len(acked) != writers {
		t.Fatalf("%d writers made a user, want %d", len(acked), writers)
	}
}

// scanned reports whether s is exactly of format, with one value read into v.
func scanned(s, format string, v any) bool {
	n, err := fmt.Sscanf(s, format, v)
	return err == nil && n == 1 && fmt.Sprintf(format, reflect.ValueOf(v).Elem().Interface()) == s
}
