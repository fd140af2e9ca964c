package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
)

// SignInThrottle limits password guessing at sign-in, per account and
// client, without letting a third party lock anybody out. Every successful
// Begin is settled by one of Failed, Succeeded or Abandoned.
type SignInThrottle interface {
	// Begin counts the attempt before its password is checked, or refuses
	// it; known says the client signed in to the account before.
	Begin(account, client string, now time.Time) (ok bool, retryAfter time.Duration, known bool)
	Failed(account, client string, now time.Time)
	Succeeded(account, client string, now time.Time)
	Abandoned(account, client string, now time.Time)
}

// Throttle limits failed attempts per key. Every successful Reserve is
// settled by one of Failed, Succeeded or Abandoned.
type Throttle interface {
	Reserve(key string, now time.Time) (ok bool, retryAfter time.Duration)
	Failed(key string, now time.Time)
	Succeeded(key string, now time.Time)
	Abandoned(key string, now time.Time)
}

// PasswordGate bounds the password checks (bcrypt) in flight; priority
// callers are served first. Without a slot in time the caller is busy.
type PasswordGate interface {
	Enter(ctx context.Context, priority bool) (release func(), ok bool)
}

// errBusy answers a password check that found no slot: the excess of a
// burst is answered at once instead of queueing CPU work behind it.
var errBusy = &Problem{Type: "about:blank", Title: http.StatusText(http.StatusServiceUnavailable), Status: http.StatusServiceUnavailable,
	Code: "busy", Detail: "too many passwords are being checked at the moment; retry in a second", RetryAfter: 1}

// passwordWork runs work, which checks or hashes a password, in a slot of
// the password gate.
func (s *Server) passwordWork(ctx context.Context, priority bool, work func() error) error {
	if s.PasswordGate == nil {
		return work()
	}
	release, ok := s.PasswordGate.Enter(ctx, priority)
	if !ok {
		s.Log.WarnContext(ctx, "password check refused: the password gate is full")
		return errBusy
	}
	defer release()
	return work()
}

// outcome is how a throttled attempt ended.
type outcome int

const (
	abandoned outcome = iota // no password was judged (bad input, busy, store error)
	failed                   // the secret was wrong
	succeeded
)

// outcomeOf classifies err: nil is a success, the refusal with code
// wrongCode a failure, anything else judged no password.
func outcomeOf(err error, wrongCode string) outcome {
	if err == nil {
		return succeeded
	}
	if e, ok := commands.AsError(err); ok && e.Code == wrongCode {
		return failed
	}
	return abandoned
}

// maxKeyEmail is the longest e-mail address (RFC 5321) kept as it is in a
// throttle key or a log line; a longer one is no account's and is hashed,
// so a megabyte "e-mail" costs the throttle 64 bytes.
const maxKeyEmail = 254

// accountKey is the throttle key of the account an e-mail names.
func accountKey(email string) string {
	e := user.NormalizeEmail(email)
	if len(e) <= maxKeyEmail {
		return e
	}
	sum := sha256.Sum256([]byte(e))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// logEmail is an e-mail as the logs show it: normalised and at most
// maxKeyEmail bytes.
func logEmail(email string) string {
	e := user.NormalizeEmail(email)
	if len(e) > maxKeyEmail {
		e = strings.ToValidUTF8(e[:maxKeyEmail], "") + "..."
	}
	return e
}
