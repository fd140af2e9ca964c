package embedded

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestOwnerOnly: the store is reachable only through a Unix socket that only
// the data dir's owner can use: no new TCP listener, the dir 0700, the socket
// and every file 0600, including those of a data dir made too open before.
func TestOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jwt-secret"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := tcpListeners(t)
	s, client := startStore(t, dir, nil)
	if err := s.PrepareCollections(context.Background(), testDB, "things"); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(context.Background(), nil); err != nil {
		t.Fatalf("the owner cannot use the socket: %v", err)
	}
	for inode := range tcpListeners(t) {
		if !before[inode] {
			t.Errorf("the store opened a TCP listener (socket inode %s)", inode)
		}
	}
	mode := func(path string) os.FileMode {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Mode()
	}
	if m := mode(dir).Perm(); m != 0o700 {
		t.Errorf("data dir mode %o, want 700", m)
	}
	sock := filepath.Join(dir, socketName)
	if m := mode(sock); m&os.ModeSocket == 0 || m.Perm() != 0o600 {
		t.Errorf("socket %s mode %v, want a socket of mode 600", sock, m)
	}
	entries, _ := os.ReadDir(dir)
	files := 0
	for _, e := range entries {
		if e.Type().IsRegular() {
			files++
			if m := mode(filepath.Join(dir, e.Name())).Perm(); m != 0o600 {
				t.Errorf("%s mode %o, want 600", e.Name(), m)
			}
		}
	}
	if files < 3 { // the lock, the old secret, the database
		t.Errorf("only %d files in the data dir: %v", files, entries)
	}
}

// tcpListeners lists the inodes of this process's listening TCP sockets.
func tcpListeners(t *testing.T) map[string]bool {
	t.Helper()
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("needs /proc (Linux)")
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			mine[strings.TrimSuffix(inode, "]")] = true
		}
	}
	out := map[string]bool{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && mine[f[9]] { // 0A: LISTEN
				out[f[9]] = true
			}
		}
	}
	return out
}

// TestDataDirLock: a second store on a data dir in use is refused with who
// holds it; once the first is closed (or its process dies: the kernel drops
// the lock) the data dir can be opened again, a socket left behind and all.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := Start(ctx, Options{DataDir: dir, ServiceAddr: "127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, Options{DataDir: dir})
	var locked *LockedError
	if !errors.As(err, &locked) || locked.Holder.PID != os.Getpid() || locked.Holder.ServiceAddr != "127.0.0.1:8080" {
		t.Fatalf("second Start: %v (%+v), want a LockedError naming this process and its address", err, locked)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// A stale socket (as a kill -9 leaves it) does not stop the next start.
	if err := os.WriteFile(filepath.Join(dir, socketName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Start(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatalf("Start after Close: %v", err)
	}
	_ = again.Close()
}

// TestDataDirPaths: a data dir whose path holds any printable character but
// those in unusableInPath works, and keeps what was written across a
// restart; one with any of those is refused with UnusablePathError before
// anything is made (FerretDB opened other files than it listed there: the
// service failed to start with "table _ferretdb_collections already
// exists", or a missing file).
func TestDataDirPaths(t *testing.T) {
	const usable = " !\"$&'()+,-.:;<=>@]^_`{|}~azAZ09éü中"
	name := func(with string) string {
		r := []rune(usable)
		var b strings.Builder
		for range 1 + rand.IntN(6) {
			b.WriteRune(r[rand.IntN(len(r))])
		}
		b.WriteString(with)
		return "d" + b.String() + "x"
	}
	for range 3 {
		dir := filepath.Join(t.TempDir(), name(""))
		for round := range 2 {
			s, client := startStore(t, dir, nil)
			if err := s.PrepareCollections(context.Background(), testDB, "things"); err != nil {
				t.Fatalf("data dir %q: %v", dir, err)
			}
			things := client.Database(testDB).Collection("things")
			if round == 0 {
				if _, err := things.InsertOne(context.Background(), bson.D{{Key: "_id", Value: "kept"}}); err != nil {
					t.Fatalf("data dir %q: %v", dir, err)
				}
			} else if n, err := things.CountDocuments(context.Background(), bson.D{}); err != nil || n != 1 {
				t.Fatalf("data dir %q after a restart: %d documents, %v; want the one written", dir, n, err)
			}
			_ = client.Disconnect(context.Background())
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range unusableInPath {
		dir := filepath.Join(t.TempDir(), name(string(c)), "data")
		_, err := Start(context.Background(), Options{DataDir: dir})
		var unusable *UnusablePathError
		if !errors.As(err, &unusable) || unusable.Char != byte(c) || !strings.Contains(err.Error(), "choose a path without any of ? # % * [ \\") {
			t.Fatalf("Start with %q: %v, want an UnusablePathError naming %q", dir, err, c)
		}
		if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Start with %q made its parent (%v)", dir, err)
		}
	}
}

// TestSocketDirOfAKilledProcess: a data dir whose path is too long for a
// socket, or holds a colon, has its socket in a directory of its own under
// the system's temporary directory. A process killed with -9 cannot remove
// it; the next start on that data dir does, so restarts after crashes do
// not pile up directories (each with a dead socket) in /tmp.
func TestSocketDirOfAKilledProcess(t *testing.T) {
	for _, dir := range []string{
		filepath.Join(t.TempDir(), "with:colon", "data"),
		filepath.Join(t.TempDir(), strings.Repeat("long", 30), "data"),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		first, err := Start(ctx, Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		left := first.sockDir
		if left == "" {
			t.Fatalf("data dir %q: the socket is in it (%s), want it in a directory of its own", dir, first.socket)
		}
		killed(t, first)
		if _, err := os.Stat(left); err != nil {
			t.Fatalf("the killed process's socket dir: %v, want it left behind as kill -9 leaves it", err)
		}
		again, err := Start(ctx, Options{DataDir: dir})
		if err != nil {
			t.Fatalf("Start after a kill: %v", err)
		}
		if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) && left != again.sockDir {
			t.Errorf("data dir %q: the killed process's socket dir %s is still there (%v) beside the new one %s", dir, left, err, again.sockDir)
		}
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(again.sockDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data dir %q: the socket dir %s outlives Close (%v)", dir, again.sockDir, err)
		}
		cancel()
	}
}

// killed stops s as kill -9 would leave it: the server gone and the data
// dir's lock released (the kernel drops it with the process), but nothing
// removed.
func killed(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	_ = s.client.Disconnect(context.Background())
	s.cancel()
	<-s.done
	for _, db := range s.dbs {
		_ = db.Close()
	}
	if err := s.lock.release(); err != nil {
		t.Fatal(err)
	}
}
