package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/infra/embedded"
)

// startReplicas starts two API replicas on one store, as on GKE: the first
// runs the projector and relay too, the second only the API; both sign with
// one secret. They share this process's client of the embedded store, and
// so its write gate.
func startReplicas(t *testing.T) (a, b *service) { return startReplicasOn(t, false) }

// startReplicasOn is startReplicas; byURI has each reach the store by its
// URI instead, as separate processes do (capstone dev's reach dev-store):
// then nothing orders their writes.
func startReplicasOn(t *testing.T, byURI bool) (a, b *service) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	store, err := embedded.Start(ctx, embedded.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	start := func(components string) *service {
		env := map[string]string{
			"CAPSTONE_BOOTSTRAP_EMAIL": adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD": adminPassword, "CAPSTONE_LOG_LEVEL": "warn",
			"CAPSTONE_JWT_SECRET": "a-test-secret-that-is-long-enough-0123456789", "CAPSTONE_COMPONENTS": components,
		}
		if byURI {
			env["MONGODB_URI"] = store.URI()
		}
		return startOn(t, ctx, store, env)
	}
	return start("all"), start("api")
}

// ended fails the test unless token is refused by s at once.
func (s *service) ended(token, what string) {
	s.t.Helper()
	if r := s.do("GET", "/v1/me", token, nil); r.Status != 401 {
		s.t.Fatalf("%s: %s still works (%d)", s.base, what, r.Status)
	}
}

// endedSoon fails the test unless token is refused by s within a few seconds
// (another replica's cache of the user lasts two).
func (s *service) endedSoon(token, what string) {
	s.t.Helper()
	start := time.Now()
	waitFor(s.t, what+" to stop working on "+s.base, func() bool { return s.do("GET", "/v1/me", token, nil).Status == 401 })
	s.t.Logf("%s stopped working on the other replica after %v", what, time.Since(start).Round(time.Millisecond))
}

func (s *service) works(token, what string) {
	s.t.Helper()
	if r := s.do("GET", "/v1/me", token, nil); r.Status != 200 {
		s.t.Fatalf("%s: %s does not work (%d %s)", s.base, what, r.Status, r.Raw)
	}
}

// TestTokensEndAcrossReplicas: a password change, a reset, the loss of a
// role and a deactivation end every earlier token of the user, on the
// replica that made the change at once and on the other within seconds; a
// sign-out ends the token in hand and no other.
func TestTokensEndAcrossReplicas(t *testing.T) {
	a, b := startReplicas(t)
	admin := a.admin()
	id := a.createUser(admin, "moving@uni.example", "Moving", []string{"student", "examiner"}, "the first password")
	onA, onB := a.signIn("moving@uni.example", "the first password"), b.signIn("moving@uni.example", "the first password")
	a.works(onB, "a token from the other replica")
	b.works(onA, "a token from the other replica")

	// A password change on A.
	a.expect(a.do("PUT", "/v1/me/password", onA, map[string]string{"current_password": "the first password", "new_password": "the second password"}), 200)
	a.ended(onA, "the token that changed the password")
	a.ended(onB, "a token from before the password change")
	b.endedSoon(onA, "a token from before the password change")
	b.endedSoon(onB, "a token from before the password change")
	fresh := b.signIn("moving@uni.example", "the second password")
	a.works(fresh, "a token from after the password change")

	// A coordinator's reset, redeemed on B.
	reset := a.expect(a.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	b.expect(b.do("POST", "/v1/auth/set-password", "", map[string]string{"token": reset, "password": "the third password"}), 200)
	b.ended(fresh, "a token from before the reset")
	a.endedSoon(fresh, "a token from before the reset")

	// Sign-out ends the token in hand, not the user's others.
	phone, laptop := a.signIn("moving@uni.example", "the third password"), b.signIn("moving@uni.example", "the third password")
	b.expect(b.do("POST", "/v1/auth/sign-out", laptop, nil), 204)
	b.ended(laptop, "a signed-out token")
	a.endedSoon(laptop, "a signed-out token")
	a.works(phone, "another token of a user who signed out elsewhere")
	b.works(phone, "another token of a user who signed out elsewhere")
	b.expect(b.do("POST", "/v1/auth/sign-out", laptop, nil), 401)

	// Gaining a role ends nothing; losing one ends every token.
	a.expect(a.do("PATCH", "/v1/users/"+id, admin, map[string]any{"roles": []string{"student", "examiner", "supervisor"}}), 200)
	a.works(phone, "a token of a user who gained a role")
	a.expect(a.do("PATCH", "/v1/users/"+id, admin, map[string]any{"roles": []string{"student"}}), 200)
	a.ended(phone, "a token from before a role was taken away")
	b.endedSoon(phone, "a token from before a role was taken away")

	// Deactivation.
	last := b.signIn("moving@uni.example", "the third password")
	b.works(last, "a token after the role change")
	b.expect(b.do("DELETE", "/v1/users/"+id, admin, nil), 204)
	b.ended(last, "a deleted user's token")
	a.endedSoon(last, "a deleted user's token")
	a.works(admin, "the coordinator's token")
}

// TestSetPasswordTokensReplaceEachOther: only the latest set-password token
// of a user works; redeeming it ends the others; a password change ends the
// one outstanding.
func TestSetPasswordTokensReplaceEachOther(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "reset@uni.example", "Reset", []string{"student"}, "")
	issue := func() string {
		return s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	}
	redeem := func(token, password string) response {
		return s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": password})
	}
	first, second := issue(), issue()
	s.expect(redeem(first, "set with the first token"), 401, "invalid-token")
	s.expect(redeem(second, "set with the second token"), 200)
	s.expect(redeem(first, "set with the first token"), 401, "invalid-token")

	third := issue()
	token := s.signIn("reset@uni.example", "set with the second token")
	s.expect(s.do("PUT", "/v1/me/password", token, map[string]string{"current_password": "set with the second token", "new_password": "changed by the user"}), 200)
	s.expect(redeem(third, "set with the third token"), 401, "invalid-token")
	s.signIn("reset@uni.example", "changed by the user")
}

// TestSignOutsAcrossProcessesAtOnce: two processes on one store that nothing
// orders their writes to (the embedded store reached by its URI, as the
// processes of capstone dev reach dev-store) sign out many tokens of one
// user at once, and every one of them stops working on both: at once on the
// process that signed it out, within the principal cache's lifetime on the
// other (which may hold the user's record from before).
func TestSignOutsAcrossProcessesAtOnce(t *testing.T) {
	a, b := startReplicasOn(t, true)
	a.createUser(a.admin(), "many@uni.example", "Many", []string{"student"}, "a long password")
	rng := seeded(t, 0)
	for round := range 3 {
		tokens := make([]string, 4+rng.IntN(8))
		for i := range tokens {
			tokens[i] = a.signIn("many@uni.example", "a long password")
		}
		var wg sync.WaitGroup
		on := make([]int, len(tokens)) // the process that signs each out
		for i, tok := range tokens {
			on[i] = rng.IntN(2)
			by := []*service{a, b}[on[i]]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := by.do("POST", "/v1/auth/sign-out", tok, nil); r.Status != 204 {
					t.Errorf("round %d: sign-out %d on %s: %d %s", round, i, by.base, r.Status, r.Raw)
				}
			}()
		}
		wg.Wait()
		for i, tok := range tokens {
			what := fmt.Sprintf("round %d: token %d of %d signed out at once", round, i, len(tokens))
			[]*service{a, b}[on[i]].ended(tok, what)
			[]*service{b, a}[on[i]].endedSoon(tok, what)
		}
	}
}
