package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Password length bounds. The lower one counts characters after Unicode
// normalisation (NFKC), so three emoji are three characters, not twelve
// bytes. The upper one counts bytes, and is bcrypt's: it only looks at the
// first 72 bytes, so accepting longer passwords would silently make every
// suffix after byte 72 irrelevant.
const (
	MinPasswordChars = 10
	MaxPasswordBytes = 72
)

// ErrPasswordTooLong is returned by Hasher.Hash for passwords longer than
// MaxPasswordBytes. It exists because bcrypt ignores everything past byte 72;
// refusing is safer than hashing a truncated password the user never chose.
var ErrPasswordTooLong = errors.New("password is too long (at most 72 bytes)")

// ErrWeakPassword is the sentinel wrapped by every ValidatePassword error, so
// callers can map policy violations to a 400 response with errors.Is while
// still showing the (password-free) message to the user.
var ErrWeakPassword = errors.New("password does not meet the password policy")

// policyError carries a user-presentable message and matches ErrWeakPassword.
// The message says what the password must be, without naming it ("must be
// at least 10 characters long"): callers put it after the field's name.
type policyError struct{ msg string }

func (e *policyError) Error() string        { return e.msg }
func (e *policyError) Is(target error) bool { return target == ErrWeakPassword }

// NormalizePassword is the form of a password that is hashed and measured:
// Unicode NFKC, so that "é" typed as one character or as "e" and an accent,
// or a full-width digit, is the same password on every keyboard (NIST SP
// 800-63B, 5.1.1.2).
func NormalizePassword(p string) string { return norm.NFKC.String(p) }

// ValidatePassword enforces the policy for new passwords, following NIST SP
// 800-63B (length, no composition rules, a blocklist): after normalisation
// at least MinPasswordChars characters and at most MaxPasswordBytes bytes,
// valid UTF-8 without control characters, not only whitespace, not one
// character repeated or a run such as "abcdefghij", and not a common
// password (commonPasswords) with or without digits and symbols added. The
// returned error's message is safe to show to the user: it never contains
// the password, and it follows the name of the field or setting it is about
// ("must be at least ..."), which the caller puts first, so the message
// never says "password" twice. It matches ErrWeakPassword via errors.Is.
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return &policyError{"must be text (valid UTF-8)"}
	}
	n := NormalizePassword(p)
	switch {
	case utf8.RuneCountInString(n) < MinPasswordChars:
		return &policyError{fmt.Sprintf("must be at least %d characters long", MinPasswordChars)}
	case len(n) > MaxPasswordBytes:
		return &policyError{fmt.Sprintf("must be at most %d bytes long (accented and non-Latin characters count as 2 to 4 bytes)", MaxPasswordBytes)}
	case strings.ContainsFunc(n, unicode.IsControl):
		return &policyError{"must not contain control characters (such as tabs, line breaks or NUL)"}
	case strings.TrimFunc(n, unicode.IsSpace) == "":
		return &policyError{"must not consist only of whitespace"}
	case isRun(n):
		return &policyError{"must not be one character repeated or a run such as abcdefghij"}
	case isCommon(n):
		return &policyError{"is one of the passwords attackers try first; choose another"}
	}
	return nil
}

// isRun reports whether p is one character repeated, or each character the
// one after (or before) the previous.
func isRun(p string) bool {
	rs := []rune(strings.ToLower(p))
	for _, step := range []rune{0, 1, -1} {
		run := true
		for i := 1; i < len(rs) && run; i++ {
			run = rs[i]-rs[i-1] == step
		}
		if run {
			return true
		}
	}
	return false
}

// Hasher hashes and verifies passwords with bcrypt. It is a value type with
// no state other than the cost, so it can be embedded in configuration and
// copied freely.
type Hasher struct {
	// Cost is the bcrypt work factor. Zero means bcrypt.DefaultCost; tests
	// use bcrypt.MinCost to stay fast. Raising it only affects new hashes,
	// because each hash records its own cost.
	Cost int
}

func (h Hasher) cost() int {
	if h.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return h.Cost
}

// Hash returns the bcrypt hash (salt and cost included) of password, to be
// stored instead of the password. Passwords longer than MaxPasswordBytes are
// rejected with ErrPasswordTooLong rather than silently truncated.
func (h Hasher) Hash(password string) (string, error) {
	password = NormalizePassword(password)
	if len(password) > MaxPasswordBytes {
		return "", ErrPasswordTooLong
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), h.cost())
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Compare reports whether password matches hash. The comparison is done by
// bcrypt in constant time. Passwords longer than MaxPasswordBytes never
// match (bcrypt would otherwise compare only their first 72 bytes), but still
// cost a full bcrypt run so the rejection is not observable through timing.
//
// The password is normalised as Hash normalises it. A hash made before
// passwords were normalised holds the password as it was typed, so when
// normalising changes it the typed form is tried too: no password that was
// accepted stops working.
func (h Hasher) Compare(hash, password string) bool {
	n := NormalizePassword(password)
	if len(n) > MaxPasswordBytes {
		h.CompareDummy(password)
		return false
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(n)) == nil {
		return true
	}
	return n != password && len(password) <= MaxPasswordBytes &&
		bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// CompareDummy performs a bcrypt comparison against a throw-away hash of the
// same cost and discards the result. Sign-in calls it when the e-mail is
// unknown, so that a failed sign-in takes as long whether or not the account
// exists and response timing does not reveal which e-mails are registered.
func (h Hasher) CompareDummy(password string) {
	_ = bcrypt.CompareHashAndPassword(dummyHash(h.cost()), []byte(password))
}

// dummyHashes caches, per cost, a hash of a random password nobody knows.
var dummyHashes sync.Map // int -> []byte

func dummyHash(cost int) []byte {
	if v, ok := dummyHashes.Load(cost); ok {
		return v.([]byte)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		// Invalid cost: Hash fails the same way, so no real hash of this
		// cost can exist either. Fall back to the default cost so the
		// caller still pays for a comparison.
		return dummyHash(bcrypt.DefaultCost)
	}
	v, _ := dummyHashes.LoadOrStore(cost, b)
	return v.([]byte)
}
