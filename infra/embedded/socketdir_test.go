//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package embedded

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The socket directory a killed process left behind is removed and taken
// again; one of the same name that another user owns is left as it is,
// even by a process that may remove it (root).
func TestSocketDirLeavesAnotherUsersAlone(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	named := func(dataDir string) string {
		sum := sha256.Sum256([]byte(dataDir))
		return filepath.Join(os.TempDir(), "capstone-store-"+hex.EncodeToString(sum[:8]))
	}
	stale := func(dataDir string) (dir, file string) {
		dir = named(dataDir)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		file = filepath.Join(dir, "left-behind")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir, file
	}

	mine, file := stale("/srv/mine")
	got, err := socketDir("/srv/mine")
	if err != nil {
		t.Fatal(err)
	}
	if got != mine {
		t.Errorf("socketDir = %s, want the one left behind, %s, taken again", got, mine)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("what the last process left in its socket directory is still there (%v)", err)
	}

	if os.Getuid() != 0 {
		t.Skip("another user's directory: only root can make one to test with")
	}
	theirs, file := stale("/srv/theirs")
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	got, err = socketDir("/srv/theirs")
	if err != nil {
		t.Fatal(err)
	}
	if got == theirs {
		t.Errorf("socketDir took %s, another user's directory", theirs)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("another user's socket directory was emptied: %v", err)
	}
}
