package embedded

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// lockFile is the data dir's lock: one process at a time serves a data dir.
// Two would each keep their own caches and write gate over the same SQLite
// files (a `users create` beside a running `serve` bypassed both).
const lockFile = "capstone.lock"

// Holder says who holds a data dir's lock, as that process wrote it.
type Holder struct {
	PID int `json:"pid"`
	// ServiceAddr is the address of the API the holder serves ("" if none).
	ServiceAddr string `json:"service_addr,omitempty"`
}

// LockedError is returned by Start when another process has the data dir.
type LockedError struct {
	Dir    string
	Holder Holder // zero if the holder's note could not be read
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder.PID > 0 {
		who = fmt.Sprintf("another capstone process (pid %d)", e.Holder.PID)
	}
	if e.Holder.ServiceAddr != "" {
		who += " serving on " + e.Holder.ServiceAddr
	}
	return fmt.Sprintf("embedded: the data dir %s is in use by %s", e.Dir, who)
}

// dirLock is a held lock on a data dir: an OS file lock (flock), which the
// kernel releases when the process ends, even by kill -9, so a crash never
// leaves a data dir locked.
type dirLock struct{ f *os.File }

// lockDir takes dir's lock without waiting and notes the holder in it.
func lockDir(dir string, h Holder) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: open the lock file: %w", err)
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		if errors.Is(err, errLocked) {
			locked := &LockedError{Dir: dir}
			if raw, err := os.ReadFile(path); err == nil {
				_ = json.Unmarshal(raw, &locked.Holder)
			}
			return nil, locked
		}
		return nil, fmt.Errorf("embedded: lock %s: %w", path, err)
	}
	note, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(note, '\n'), 0)
	}
	return &dirLock{f: f}, nil
}

// release drops the lock. The file stays: removing it would let a process
// that opened it just before lock a file no longer in the directory.
func (l *dirLock) release() error {
	if l == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	return l.f.Close() // closing the last descriptor releases the flock
}
