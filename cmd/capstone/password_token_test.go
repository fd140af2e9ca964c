package main

import (
	"sync"
	"testing"
)

// TestPasswordTokens: a coordinator issues a one-time token with which a
// user without a password sets one; the token then stops working, and of
// concurrent uses exactly one succeeds.
func TestPasswordTokens(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "nopass@uni.example", "No Pass", []string{"student"}, "")
	s.expect(s.do("POST", "/v1/users/"+id+"/password-token", s.signInAs(t, admin, id), nil), 403)
	tok := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201)
	token := tok.str("token")
	if len(token) < 40 || tok.str("expires_at") == "" {
		t.Fatalf("token: %s", tok.Raw)
	}
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "short"}), 400)
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "a good long password"}), 200)
	s.signIn("nopass@uni.example", "a good long password")
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "another long password"}), 401, "invalid-token")

	token2 := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	var wg sync.WaitGroup
	ok := make([]bool, 5)
	for i := range ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token2, "password": "racing long password"}).Status == 200
		}()
	}
	wg.Wait()
	n := 0
	for _, o := range ok {
		if o {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d concurrent uses of one token succeeded, want 1", n)
	}
	s.expect(s.do("POST", "/v1/users/01a224e5-0000-7000-8000-000000000000/password-token", admin, nil), 404)
}

// signInAs returns a token for a user who may have no password yet, by
// giving them one through a set-password token.
func (s *service) signInAs(t *testing.T, admin, id string) string {
	t.Helper()
	email := s.expect(s.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200).str("email")
	token := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "set by the test helper"}), 200)
	return s.signIn(email, "set by the test helper")
}
