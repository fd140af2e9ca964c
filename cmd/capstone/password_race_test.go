package main

import (
	"fmt"
	"sync"
	"testing"
)

// TestPasswordChangesRaced: of password changes that prove the same current
// password at once, exactly one is made (200) and the others are refused
// (422 wrong-password, or 429 once they have failed often enough), and the
// password answered as set is the one that signs in. Both used to check
// the same old hash and both were answered 200, the later one's hash
// replacing the earlier's: a user was told their new password was one that
// no longer worked.
func TestPasswordChangesRaced(t *testing.T) {
	rng := seeded(t, 43)
	s := startService(t)
	admin := s.admin()
	for round := range 4 {
		email := fmt.Sprintf("raced.change%d@uni.example", round)
		const current = "the password before the race"
		s.createUser(admin, email, "Raced", []string{"student"}, current)
		tok := s.signIn(email, current)
		n := 2 + rng.IntN(4)
		status := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				status[i] = s.do("PUT", "/v1/me/password", tok, map[string]string{
					"current_password": current, "new_password": fmt.Sprintf("the new password number %d", i)})
			})
		}
		wg.Wait()
		made := -1
		for i, r := range status {
			switch {
			case r.Status == 200 && made < 0:
				made = i
			case r.Status == 200:
				t.Fatalf("round %d: %d changes raced, and both %d and %d were answered as made", round, n, made, i)
			case r.Status == 422 && r.str("code") == "wrong-password", r.Status == 429:
			default:
				t.Fatalf("round %d: change %d answered %d %s", round, i, r.Status, r.Raw)
			}
		}
		if made < 0 {
			t.Fatalf("round %d: none of %d changes raced was made: %v", round, n, status)
		}
		s.signIn(email, fmt.Sprintf("the new password number %d", made))
	}
}
