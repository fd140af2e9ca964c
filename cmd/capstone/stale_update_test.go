package main

import (
	"fmt"
	"testing"
)

// TestStaleRoleRemovalEndsNoSignIn: an update that would take a role away
// but names a version the user has moved on from is refused (412) and
// changes nothing, the user's sign-ins included: their token still works.
// The sign-ins used to be ended before the update was refused.
func TestStaleRoleRemovalEndsNoSignIn(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "stale.roles@uni.example", "Stale Roles", []string{"student", "examiner"}, "stale roles password")
	tok := s.signIn("stale.roles@uni.example", "stale roles password")
	read := s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 200).num("version")
	s.expect(s.do("PATCH", "/v1/users/"+id, admin, map[string]string{"name": "Moved On"}), 200)
	s.expect(s.do("PATCH", "/v1/users/"+id, admin, map[string]any{"roles": []string{"student"}},
		"If-Match", fmt.Sprintf(`"%d"`, read)), 412, "precondition-failed")
	s.expect(s.do("GET", "/v1/me", tok, nil), 200)
}
