package commands

import (
	"errors"
	"strings"
	"syscall"
)

// IsStorageFull reports whether err says the store had no space left for a
// write (a full disk): SQLite's "database or disk is full" as the embedded
// store reports it (an InternalError naming SQLite's code 13), MongoDB's
// OutOfDiskSpace (14031), or ENOSPC. Such a write changed nothing, and the
// same request succeeds once space is freed, so it is answered as "retry
// later", never as an internal error. It reads the driver's error through
// its message and its HasErrorCode method, so no layer above the store
// imports the driver.
func IsStorageFull(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ HasErrorCode(int) bool }
	if errors.As(err, &coded) && coded.HasErrorCode(outOfDiskSpace) {
		return true
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "No space left on device")
}

// outOfDiskSpace is MongoDB's error code for a write refused for want of disk.
const outOfDiskSpace = 14031

// IsStoreUnavailable reports whether err says the store could not be
// reached: the connection broke (the driver labels such errors
// NetworkError, as when the store is killed under a request), or no server
// could be selected in time. The request may or may not have been applied
// (a write whose answer was lost), so it is answered as "retry later", for
// the client to retry with the same Idempotency-Key or If-Match, never as
// an internal error.
func IsStoreUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrStoreUnresponsive) {
		return true
	}
	var labelled interface{ HasErrorLabel(string) bool }
	if errors.As(err, &labelled) && labelled.HasErrorLabel(networkError) {
		return true
	}
	return strings.Contains(err.Error(), "server selection error")
}

// ErrStoreUnresponsive marks a store operation that did not answer within
// a bound of the service's own (not its caller's): the store may be
// stalled or gone, and is treated as unreachable (IsStoreUnavailable).
var ErrStoreUnresponsive = errors.New("the store did not answer in time")

// networkError is the driver's label of an error of the connection to the store.
const networkError = "NetworkError"
