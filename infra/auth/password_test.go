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
	measure := func(f func()) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 5 {
			start := time.Now()
			f()
			best = min(best, time.Since(start))
		}
		return best
	}
	realDur := measure(func() { h.Compare(hash, "wrong password 1") })
	dummy := measure(func() { h.CompareDummy("wrong password 1") })
	if ratio := float64(dummy) / float64(realDur); ratio < 0.5 || ratio > 2 {
		t.Fatalf("dummy compare %v vs real compare %v (ratio %.2f), want comparable", dummy, realDur, ratio)
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantErr bool
	}{
		{"empty", "", true},
		{"9 bytes", "123456789", true},
		{"10 bytes", "1234567890", false},
		{"72 bytes", strings.Repeat("x", 72), false},
		{"73 bytes", strings.Repeat("x", 73), true},
		{"only spaces", strings.Repeat(" ", 12), true},
		{"mixed whitespace", " \t\n\r\u00a0\u2003    ", true},
		{"spaces inside", "  pass word  ", false},
		{"multibyte counted in bytes", "ééééé", false}, // 10 bytes
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword(tc.pw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ValidatePassword err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrWeakPassword) {
				t.Errorf("error %v does not match ErrWeakPassword", err)
			}
			if strings.TrimSpace(tc.pw) != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("error message %q contains the password", err.Error())
			}
		})
	}
}
