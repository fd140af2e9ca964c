//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package embedded

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// flock does not lock where flock(2) is missing: the service is built and
// run on Linux and macOS; elsewhere nothing stops two processes on one data
// dir.
func flock(*os.File) error { return nil }

// ownedByMe cannot tell a file's owner here, so it says no: a directory
// left behind is then left alone.
func ownedByMe(os.FileInfo) bool { return false }
