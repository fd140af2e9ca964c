package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestHasherRoundTrip(t *testing.T) {
	h := Hasher{Cost: bcrypt.MinCost}
	const pw = "correct horse battery staple"
	hash, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if strings.Contains(hash, pw) {
		t.Fatal("hash contains the password")
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.MinCost {
		t.Fatalf("cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
	}
	hash2, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if hash == hash2 {
		t.Fatal("two hashes of the same password are equal: salt missing")
	}

	long72 := strings.Repeat("a", 72)
	hash72, err := h.Hash(long72)
	if err != nil {
		t.Fatalf("Hash(72 bytes): %v", err)
	}

	tests := []struct {
		name     string
		hash     string
		password string
		want     bool
	}{
		{"right password", hash, pw, true},
		{"right password, second hash", hash2, pw, true},
		{"wrong password", hash, "correct horse battery stapler", false},
		{"empty password", hash, "", false},
		{"case differs", hash, strings.ToUpper(pw), false},
		{"72-byte password", hash72, long72, true},
		// bcrypt ignores bytes past 72; Compare must not.
		{"73-byte password sharing the first 72 bytes", hash72, long72 + "b", false},
		{"empty hash", "", pw, false},
		{"garbage hash", "not-a-bcrypt-hash", pw, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.Compare(tc.hash, tc.password); got != tc.want {
				t.Fatalf("Compare = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHasherRejectsTooLong(t *testing.T) {
	h := Hasher{Cost: bcrypt.MinCost}
	for _, pw := range []string{strings.Repeat("a", 73), strings.Repeat("é", 37) /* 74 bytes */} {
		if _, err := h.Hash(pw); !errors.Is(err, ErrPasswordTooLong) {
			t.Errorf("Hash(%d bytes) err = %v, want ErrPasswordTooLong", len(pw), err)
		}
	}
}

func TestHasherDefaultCost(t *testing.T) {
	if got := (Hasher{}).cost(); got != bcrypt.DefaultCost {
		t.Fatalf("zero Hasher cost = %d, want %d", got, bcrypt.DefaultCost)
	}
}

// CompareDummy must cost about as much as a real comparison, or it does not
// hide which e-mails exist. Cost 8 makes bcrypt dominate scheduling noise.
func TestCompareDummyTakesAsLongAsCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	h := Hasher{Cost: 8}
	hash, err := h.Hash("some password 123")
	if err != nil {
		t.Fatal(err)
	}
	h.CompareDummy("warm up the dummy hash")
	timed := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	// Interleaved, so that both see the same load from other processes; the
	// best of many rounds is each one's own cost.
	realDur, dummy := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for range 15 {
		realDur = min(realDur, timed(func() { h.Compare(hash, "wrong password 1") }))
		dummy = min(dummy, timed(func() { h.CompareDummy("wrong password 1") }))
	}
	if ratio := float64(dummy) / float64(realDur); ratio < 0.5 || ratio > 2 {
		t.Fatalf("dummy compare %v vs real compare %v (ratio %.2f), want comparable", dummy, realDur, ratio)
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr string // a part of the message; "" for accepted
	}{
		{"empty", "", "at least 10 characters"},
		{"9 characters", "tr0ub4dor", "at least 10 characters"},
		{"10 characters", "tr0ub4dor&", ""},
		{"72 bytes", strings.Repeat("xy", 36), ""},
		{"73 bytes", strings.Repeat("xy", 36) + "z", "at most 72 bytes"},
		{"three emoji are three characters", "😀😀😀", "at least 10 characters"},
		{"ten accented letters", "åäöüßéèêçñ", ""},
		{"nine letters and a combining accent", "ajmolkrbe\u0301", "at least 10 characters"},
		{"ten NULs", strings.Repeat("\x00", 10), "control characters"},
		{"a NUL inside", "good pass\x00word", "control characters"},
		{"a tab", "good\tpassword", "control characters"},
		{"a line break", "good pass\nword", "control characters"},
		{"not UTF-8", "good pass\xffword", "valid UTF-8"},
		{"only spaces", strings.Repeat(" ", 12), "whitespace"},
		{"mixed whitespace", "\u00a0\u2003\u2002\u2009\u3000\u00a0\u2003\u2002\u2009\u3000", "whitespace"},
		{"spaces inside", "  pass word  x", ""},
		{"one character repeated", "zzzzzzzzzzzz", "repeated"},
		{"a run", "abcdefghijkl", "run"},
		{"a run down", "9876543210", "run"},
		{"common", "qwertyuiop", "attackers try first"},
		{"common, other case", "QwertyUIOP", "attackers try first"},
		{"common with digits", "Password2026", "attackers try first"},
		{"common with symbols and digits around", "!!123monkey123!!", "attackers try first"},
		{"common with a space", "iloveyou 4ever", ""},
		{"full-width digits are digits", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10", "attackers try first"},
		{"a passphrase", "correct horse battery staple", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.pw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrWeakPassword) {
				t.Errorf("error %v does not match ErrWeakPassword", err)
			}
			if strings.HasPrefix(err.Error(), "password") {
				t.Errorf("message %q names the field itself: callers put the field's name before it", err)
			}
			if strings.TrimSpace(tc.pw) != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("error message %q contains the password", err.Error())
			}
		})
	}
}

// TestPasswordsAreNormalised: a password typed composed or decomposed, or
// with full-width characters, is one password; and a hash made from the
// typed form before normalisation still matches.
func TestPasswordsAreNormalised(t *testing.T) {
	h := Hasher{Cost: bcrypt.MinCost}
	composed, decomposed := "Ångström räknare", "A\u030angstro\u0308m ra\u0308knare"
	if composed == decomposed {
		t.Fatal("the test needs two spellings")
	}
	hash, err := h.Hash(decomposed)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Compare(hash, composed) || !h.Compare(hash, decomposed) {
		t.Fatal("one spelling of the password does not match")
	}
	old, _ := bcrypt.GenerateFromPassword([]byte(decomposed), bcrypt.MinCost) // hashed as typed, before normalisation
	if !h.Compare(string(old), decomposed) {
		t.Fatal("a hash of the password as typed no longer matches")
	}
	if h.Compare(hash, "Angstrom raknare") {
		t.Fatal("a password without the accents matches")
	}
}
