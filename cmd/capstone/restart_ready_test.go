package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/config"
)

// TestRestartReadyOnlyOnceCaughtUp: commits stored and never projected (a
// process that died after acknowledging them, as a one-off command leaves
// them) are in the read models as soon as a service restarted on the same
// data answers /readyz 200: until then it answers 503 catching-up, from
// memory, without the write that checks the store (which would queue
// behind the catch-up's writes), and /healthz 200 all along. A fresh data
// dir is ready at once.
func TestRestartReadyOnlyOnceCaughtUp(t *testing.T) {
	dir := t.TempDir()
	s := startServiceIn(t, dir, &syncBuffer{})
	admin := s.admin()
	s.stop()

	cfg, err := config.ParseServe([]string{"--data-dir", dir}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	oneOff, err := startOneOff(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n := 150 + rand.IntN(100)
	ids := make([]string, n)
	for i := range n {
		res, err := oneOff.Users.Create(ctx, commands.Meta{Actor: events.SystemActor},
			user.Create{Email: fmt.Sprintf("unprojected%d@uni.example", i), Name: "Unprojected", Roles: []string{events.RoleStudent}}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.State.ID
	}
	oneOff.Close(ctx)

	logs := &syncBuffer{}
	s2 := startServiceIn(t, dir, logs)
	storeChecks := func() int {
		return s2.metricSum("capstone_store_commands_total", `collection="settings"`, `command="update"`)
	}
	checked := storeChecks()
	notReady := 0
	for deadline := time.Now().Add(CatchUpReadyWithin + 10*time.Second); ; {
		s2.expect(s2.do("GET", "/healthz", "", nil), 200)
		r := s2.do("GET", "/readyz", "", nil)
		if r.Status == 200 {
			break
		}
		if r.Status != 503 || r.str("code") != "catching-up" {
			t.Fatalf("/readyz while catching up: %d %s", r.Status, r.Raw)
		}
		if n := storeChecks(); n != checked {
			t.Fatalf("/readyz answered catching-up after writing to the store (%d writes, %d before)", n, checked)
		}
		notReady++
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The last stored first: the catch-up applies the log in order.
	for i := n - 1; i >= 0; i-- {
		if r := s2.do("GET", "/v1/users/"+ids[i], admin, nil); r.Status != 200 {
			t.Fatalf("ready after %d answers of 503, yet user %d of %d stored before the restart is not in the read models: %d %s", notReady, i+1, n, r.Status, r.Raw)
		}
	}
	t.Logf("%d answers of 503 before ready", notReady)
	// A probe answered "not yet" is no failure of the server's.
	if notReady > 0 && strings.Contains(logs.String(), `"request failed"`) {
		t.Fatalf("%d probes answered 503 catching-up, and were logged as failed requests:\n%.800s", notReady, logs.String())
	}

	fresh := startService(t)
	fresh.expect(fresh.do("GET", "/readyz", "", nil), 200)
}
