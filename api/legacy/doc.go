// Package legacy serves the HTTP API of the system this service replaces,
// as its web frontend calls it: the same routes, request and response
// shapes, status codes and CORS, on a listener of their own, so that a
// department keeps its frontend, unchanged, while it moves to /v1.
//
// It is an adapter and nothing more. Each call is decoded from the
// original's shape, served by the same use cases and queries as /v1, and
// encoded back: every rule, capacity, permission, idempotency and audit
// record holds as it does through /v1, and every write is in the history
// with its actor and request. Sign-in issues the tokens /v1 takes, through
// the same throttle and revocation. A write answers only once the read
// models show it, in every topology, since the frontend reloads the page
// right after. docs/legacy.md is the contract, call by call.
package legacy
