package main

import (
	"strings"
	"testing"
)

// TestPasswordPolicy: passwords are measured in characters after Unicode
// normalisation, control characters and the passwords attackers try first
// are refused, on every route that sets a password, with a message that
// names the field once; and a password typed composed or decomposed is one
// password.
func TestPasswordPolicy(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	for _, c := range []struct{ name, password, message string }{
		{"three emoji (12 bytes)", "😀😀😀", "must be at least 10 characters long"},
		{"nine letters and a combining accent", "ajmolkrbe\u0301", "must be at least 10 characters long"},
		{"ten NULs", strings.Repeat("\x00", 10), "must not contain control characters (such as tabs, line breaks or NUL)"},
		{"a line break inside", "first line\nsecond", "must not contain control characters (such as tabs, line breaks or NUL)"},
		{"common, with digits and a symbol", "Password2026!", "is one of the passwords attackers try first; choose another"},
		{"common", "qwertyuiop", "is one of the passwords attackers try first; choose another"},
		{"a run", "abcdefghijk", "must not be one character repeated or a run such as abcdefghij"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := *s
			sub.t = t
			r := sub.expect(sub.do("POST", "/v1/users", admin, map[string]any{"email": "weak@uni.example", "name": "Weak", "roles": []string{"student"}, "password": c.password}), 400, "invalid")
			if r.str("detail") != "password: "+c.message {
				t.Fatalf("detail %q, want %q", r.str("detail"), "password: "+c.message)
			}
		})
	}
	// Nothing was stored: the address is still free.
	id := s.createUser(admin, "weak@uni.example", "Weak", []string{"student"}, "")
	token := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": "1234567890"}), 400, "invalid")
	decomposed := "A\u030angstro\u0308m ra\u0308knare"
	s.expect(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": decomposed}), 200)
	tok := s.signIn("weak@uni.example", "Ångström räknare") // typed composed
	r := s.expect(s.do("PUT", "/v1/me/password", tok, map[string]string{"current_password": decomposed, "new_password": "Letmein2026"}), 400, "invalid")
	if r.str("detail") != "new_password: is one of the passwords attackers try first; choose another" {
		t.Fatalf("detail %q", r.str("detail"))
	}
}
