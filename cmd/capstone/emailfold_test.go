package main

import (
	"strings"
	"testing"
)

// TestEmailFoldsASCIIOnly: an address was folded with Unicode's lower case,
// which maps the Kelvin sign (U+212A) to k and the Angstrom sign (U+212B)
// to å: "\u212Aelvin@uni.example", another address, was taken for
// kelvin@uni.example, its creation refused as hers and a sign-in with it
// let into her account. Addresses are ASCII: only A to Z are folded, and
// an address with any other letter is refused (400 invalid) by /v1 and by
// an import, and signs no one in.
func TestEmailFoldsASCIIOnly(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "kelvin@uni.example", "Kelvin", []string{"student"}, "kelvin sign password")
	s.signIn("KELVIN@Uni.Example", "kelvin sign password") // ASCII case is still folded
	for _, email := range []string{"\u212Aelvin@uni.example", "kelvin@uni.e\u212Aample", "\u212Belvin@uni.example", "jos\u00e9@uni.example"} {
		r := s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": email, "name": "Other", "roles": []string{"student"}}), 400, "invalid")
		if !strings.Contains(r.Raw, "ASCII") {
			t.Errorf("%q: %s", email, r.Raw)
		}
		s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": "kelvin sign password"}), 401)
	}
	rep := s.expect(s.upload(admin, "students", "s.csv", []byte("QM Email,Name,Username,Student Code,Enrolment Status,Programme,Route,Start Date\n"+
		"\u212Aelvin@uni.example,Other,kk,S9,Enrolled,MSc,Full-time,2026-09-21\n"), ""), 200)
	if errs, _ := rep.Body["errors"].([]any); len(errs) != 1 || rep.num("created")+rep.num("updated") != 0 {
		t.Errorf("an import of the Kelvin-sign address: %s", rep.Raw)
	}
	if users := s.expect(s.do("GET", "/v1/users?email=kelvin@uni.example", admin, nil), 200).items(); len(users) != 1 || users[0]["name"] != "Kelvin" {
		t.Errorf("kelvin@uni.example: %v", users)
	}
}
