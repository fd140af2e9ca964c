package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// TestLastCoordinatorStays: the last coordinator can neither drop the role
// nor lose the account; with two, one may go, and two removing each other
// at once never leave none.
func TestLastCoordinatorStays(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")

	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"student"}}), 422, "last-coordinator")
	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"supervisor", "examiner"}}), 422, "last-coordinator")
	if roles := s.expect(s.do("GET", "/v1/users/"+me, admin, nil), 200).Body["roles"]; fmt.Sprint(roles) != "[coordinator]" {
		t.Fatalf("roles after the refusals: %v", roles)
	}
	// Other changes of the last coordinator are fine.
	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"coordinator", "supervisor"}, "name": "Still Here"}), 200)

	// With a second coordinator, either may go; then the other is the last.
	c2 := s.createUser(admin, "second-coordinator@uni.example", "Second", []string{"coordinator"}, miniPassword)
	t2 := s.signIn("second-coordinator@uni.example", miniPassword)
	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"supervisor"}}), 200)
	s.expect(s.do("PATCH", "/v1/users/"+c2, t2, map[string]any{"roles": []string{"student"}}), 422, "last-coordinator")
	s.expect(s.do("DELETE", "/v1/users/"+c2, t2, nil), 422)

	// Coordinators removing each other at once, by role or by deletion:
	// exactly one of each pair wins, every time.
	ctx := context.Background()
	meta := commands.Meta{Actor: events.SystemActor}
	for round := range 6 {
		a := s.createUser(t2, fmt.Sprintf("race-a%d@uni.example", round), "Race A", []string{"coordinator"}, "")
		b := s.createUser(t2, fmt.Sprintf("race-b%d@uni.example", round), "Race B", []string{"coordinator"}, "")
		// c2 steps down (a and b remain), so that a and b are the last two.
		if _, err := s.app.Users.Update(ctx, meta, c2, commands.AnyVersion, user.Update{Roles: []string{"examiner"}}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, target := range []string{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if round%2 == 0 {
					_, errs[i] = s.app.Users.Update(ctx, meta, target, commands.AnyVersion, user.Update{Roles: []string{"student"}})
				} else {
					_, errs[i] = s.app.Users.Delete(ctx, meta, target, commands.AnyVersion)
				}
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !strings.Contains(err.Error(), "last-coordinator"):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		left := 0
		for _, id := range []string{a, b} {
			if u, err := s.app.Users.Get(ctx, id); err == nil && u.State.HasRole(events.RoleCoordinator) {
				left++
			}
		}
		if won != 1 || left != 1 {
			t.Fatalf("round %d: %d of the two removals won and %d coordinators are left, want 1 and 1 (%v)", round, won, left, errs)
		}
		// The survivor hands over to c2 for the next round (who signs in
		// again: losing the role ended their tokens).
		if _, err := s.app.Users.Update(ctx, meta, c2, commands.AnyVersion, user.Update{Roles: []string{"coordinator"}}); err != nil {
			t.Fatal(err)
		}
		t2 = s.signIn("second-coordinator@uni.example", miniPassword)
		for _, id := range []string{a, b} {
			if _, err := s.app.Users.Delete(ctx, meta, id, commands.AnyVersion); err != nil && !strings.Contains(err.Error(), "not-found") {
				t.Fatalf("round %d: clean up: %v", round, err)
			}
		}
	}
}

// TestCoordinatorsCountMended: when the coordinators stream has lost count
// of one (a change that failed halfway), refusing the last is mended from
// the coordinators the accounts show, as soon as that one's account moves on.
func TestCoordinatorsCountMended(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	c2 := s.createUser(admin, "uncounted@uni.example", "Uncounted", []string{"coordinator"}, "")
	ctx := context.Background()
	meta := commands.Meta{Actor: events.SystemActor}
	_, v, err := commands.Load(ctx, s.app.Exec, user.Decider, c2)
	if err != nil {
		t.Fatal(err)
	}
	// As if c2's removal was recorded but the change of their account failed.
	if _, err := user.CoordinatorsDecider.Execute(ctx, s.app.Exec, events.CoordinatorsStreamID,
		user.RemoveCoordinator{UserID: c2, Version: v}, meta); err != nil {
		t.Fatal(err)
	}
	// c2 is still a coordinator, but uncounted at this version: refused (safe).
	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"student"}}), 422, "last-coordinator")
	// Once c2's account moves on, c2 is counted again, and the first may go.
	s.expect(s.do("PATCH", "/v1/users/"+c2, admin, map[string]any{"name": "Counted Again"}), 200)
	waitFor(t, "the read model to show the rename", func() bool {
		return s.do("GET", "/v1/users/"+c2, admin, nil).str("name") == "Counted Again"
	})
	s.expect(s.do("PATCH", "/v1/users/"+me, admin, map[string]any{"roles": []string{"student"}}), 200)
}
