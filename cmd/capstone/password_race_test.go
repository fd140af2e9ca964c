package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
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

// TestImportedPasswordRacesTheUsersOwn: a people file imported with
// ?passwords=true while its user sets their own password through their
// set-password token never replaces the one they chose: whichever comes
// first, the user's password is theirs afterwards (the file's is kept only
// when it was set before theirs, which then replaced it). The import used
// to check that the user had no password, and then store the file's over
// the one the user had set in the meantime, which "a user who has a
// password keeps it" promises never happens.
func TestImportedPasswordRacesTheUsersOwn(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const own = "the password I chose myself"
	for round := range 8 {
		email := fmt.Sprintf("raced.import%d@uni.example", round)
		id := s.createUser(admin, email, "Raced Import", []string{"student"}, "")
		token := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
		file := fmt.Appendf(nil, "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"+
			"RI%d,Raced Import,Enrolled,MSc,Full-time,2026-09-21,%s,,the password in the file\n", round, email)
		var redeemed, imported, signedIn response
		var wg sync.WaitGroup
		wg.Go(func() {
			redeemed = s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": own})
			if redeemed.Status == 200 {
				signedIn = s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": own})
			}
		})
		wg.Go(func() { imported = s.upload(admin, "students", "students.csv", file, "?passwords=true") })
		wg.Wait()
		if imported.Status != 200 || len(imported.Body["errors"].([]any)) != 0 {
			t.Fatalf("round %d: the import answered %d %s", round, imported.Status, imported.Raw)
		}
		if redeemed.Status != 200 {
			// Refused only because the import's password ended the token
			// first: then the file's password is the user's.
			s.expect(redeemed, 401, "invalid-token")
			s.signIn(email, "the password in the file")
			continue
		}
		if r := s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": own}); r.Status != 200 {
			t.Fatalf("round %d: the user set their own password (200), but it does not sign in after the import: %d %s",
				round, r.Status, r.Raw)
		}
		// Their sign-in after it stands: an import that keeps the user's
		// password ends none of their sign-ins.
		if signedIn.Status != 200 {
			t.Fatalf("round %d: signing in with the password just set: %d %s", round, signedIn.Status, signedIn.Raw)
		}
		if r := s.do("GET", "/v1/me", signedIn.str("token"), nil); r.Status != 200 {
			t.Fatalf("round %d: the user's sign-in after setting their password was ended by the import that kept it: %d %s",
				round, r.Status, r.Raw)
		}
	}
}

// heldHasher is the service's hasher, except that hashing the password
// held waits: it says so on entered, then waits for release.
type heldHasher struct {
	commands.PasswordHasher
	held             string
	entered, release chan struct{}
}

func (h heldHasher) Hash(password string) (string, error) {
	if password == h.held {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.PasswordHasher.Hash(password)
}

// TestImportedPasswordKeepsTheUsersSignIns: an import that sets a first
// password waits, once it has found the user without one, while the user
// sets their own and signs in with it; the import then keeps the user's
// password, and ends none of their sign-ins. It used to end every sign-in
// of the user before storing its hash, and only then find that the user
// had set one meanwhile: the user, signed in a moment before with the
// password they had just chosen, was signed out by a file that changed
// nothing. Now every write of a password takes the password's turn, so the
// user's waits for the import's: either the import's password is stored
// first and the user's token is ended with it, or the user's is stored and
// signs in afterwards.
func TestImportedPasswordKeepsTheUsersSignIns(t *testing.T) {
	h := heldHasher{PasswordHasher: passwordHasher, held: "the password in the file",
		entered: make(chan struct{}), release: make(chan struct{})}
	defer func(p commands.PasswordHasher) { passwordHasher = p }(passwordHasher)
	passwordHasher = h
	s := startService(t)
	admin := s.admin()
	const own = "the password I chose myself"
	email := "held.import@uni.example"
	id := s.createUser(admin, email, "Held Import", []string{"student"}, "")
	token := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	file := fmt.Appendf(nil, "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"+
		"HI1,Held Import,Enrolled,MSc,Full-time,2026-09-21,%s,,%s\n", email, h.held)
	var imported response
	var wg sync.WaitGroup
	wg.Go(func() { imported = s.upload(admin, "students", "students.csv", file, "?passwords=true") })
	select {
	case <-h.entered: // the import found no password, and hashes the file's
	case <-time.After(30 * time.Second):
		t.Fatal("the import never hashed the file's password")
	}
	var redeemed, signedIn response
	userDone := make(chan struct{})
	go func() {
		defer close(userDone)
		redeemed = s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": token, "password": own})
		if redeemed.Status == 200 {
			signedIn = s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": own})
		}
	}()
	select {
	case <-userDone: // the user's password set and signed in while the import holds its hash
	case <-time.After(500 * time.Millisecond): // the user's waits for the import's turn
	}
	close(h.release)
	wg.Wait()
	<-userDone
	if imported.Status != 200 || len(imported.Body["errors"].([]any)) != 0 {
		t.Fatalf("the import answered %d %s", imported.Status, imported.Raw)
	}
	if redeemed.Status != 200 {
		// The import's password was stored first, and ended the token.
		s.expect(redeemed, 401, "invalid-token")
		s.signIn(email, h.held)
		return
	}
	if signedIn.Status != 200 {
		t.Fatalf("signing in with the password just set: %d %s", signedIn.Status, signedIn.Raw)
	}
	if r := s.do("GET", "/v1/me", signedIn.str("token"), nil); r.Status != 200 {
		t.Fatalf("the user's sign-in with the password they had just set was ended by an import that kept it: %d %s", r.Status, r.Raw)
	}
	s.signIn(email, own)
}
