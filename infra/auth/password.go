package auth

import (
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Password length bounds, in bytes. The upper bound is bcrypt's: it only
// looks at the first 72 bytes, so accepting longer passwords would silently
// make every suffix after byte 72 irrelevant.
const (
	MinPasswordBytes = 10
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
type policyError struct{ msg string }

func (e *policyError) Error() string        { return e.msg }
func (e *policyError) Is(target error) bool { return target == ErrWeakPassword }

// ValidatePassword enforces the password policy for new passwords: between
// MinPasswordBytes and MaxPasswordBytes bytes and not entirely whitespace.
// The policy is length-based (no composition rules), following NIST SP
// 800-63B. The returned error's message is safe to show to the user: it never
// contains the password, and it follows the name of the field or setting it
// is about ("must be at least ..."), which the caller puts first, so the
// message never says "password" twice. It matches ErrWeakPassword via
// errors.Is.
func ValidatePassword(p string) error {
	switch {
	case len(p) < MinPasswordBytes:
		return &policyError{"must be at least 10 characters long"}
	case len(p) > MaxPasswordBytes:
		return &policyError{"must be at most 72 bytes long (accented and non-Latin characters count as 2 to 4 bytes)"}
	case strings.TrimFunc(p, unicode.IsSpace) == "":
		return &policyError{"must not consist only of whitespace"}
	}
	return nil
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
func (h Hasher) Compare(hash, password string) bool {
	if len(password) > MaxPasswordBytes {
		h.CompareDummy(password)
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
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
