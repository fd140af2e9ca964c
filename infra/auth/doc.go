// Package auth holds the security primitives of the API: password hashing
// and policy, signed access tokens, the on-disk token-signing secret and an
// in-memory sign-in throttle.
//
// They live together, apart from HTTP handlers and the event store, so that
// the security-sensitive decisions (bcrypt cost and truncation, accepted JWT
// algorithms, clock handling, secret file permissions, lockout arithmetic)
// are made once, reviewed once and tested in isolation. Every function that
// depends on the clock takes "now" as a parameter, so callers and tests
// control time explicitly instead of the package reading the wall clock.
package auth
