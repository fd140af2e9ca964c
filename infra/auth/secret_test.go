package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateSecretFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "keys")
	path := filepath.Join(dir, "jwt.secret")

	s1, err := LoadOrCreateSecretFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(s1) != 32 {
		t.Fatalf("secret is %d bytes, want 32", len(s1))
	}
	if bytes.Equal(s1, make([]byte, 32)) {
		t.Fatal("secret is all zeros")
	}
	if _, err := NewTokens(s1, 1, "iss"); err != nil {
		t.Fatalf("generated secret unusable by NewTokens: %v", err)
	}

	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, dir, 0o700)
		assertMode(t, filepath.Dir(dir), 0o700)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(raw)); len(got) != 64 {
		t.Fatalf("file content %q is not 64 hex characters", got)
	}

	s2, err := LoadOrCreateSecretFile(path)
	if err != nil {
		t.Fatalf("re-read: %v", err)
	}
	if !bytes.Equal(s1, s2) {
		t.Fatal("re-reading returned a different secret")
	}

	// A different path gets a different secret.
	s3, err := LoadOrCreateSecretFile(filepath.Join(dir, "other.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s1, s3) {
		t.Fatal("two secret files hold the same secret")
	}
	assertNoTempFiles(t, dir)
}

func TestLoadOrCreateSecretFileConcurrent(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "sub", "jwt.secret")
		const n = 10
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			secrets = make([][]byte, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				secrets[i], errs[i] = LoadOrCreateSecretFile(path)
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d goroutine %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(secrets[i], secrets[0]) {
				t.Fatalf("round %d: goroutine %d got a different secret", round, i)
			}
		}
		onDisk, err := LoadOrCreateSecretFile(path)
		if err != nil || !bytes.Equal(onDisk, secrets[0]) {
			t.Fatalf("round %d: file holds a different secret than the goroutines got (%v)", round, err)
		}
		assertNoTempFiles(t, filepath.Dir(path))
	}
}

func TestLoadOrCreateSecretFileRejectsBadContent(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"empty", ""},
		{"not hex", strings.Repeat("zz", 32)},
		{"too short", strings.Repeat("ab", 31)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "jwt.secret")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if s, err := LoadOrCreateSecretFile(path); err == nil {
				t.Fatalf("accepted bad secret file, got %x", s)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != tc.content {
				t.Fatal("bad secret file was overwritten")
			}
		})
	}
}

func TestLoadOrCreateSecretFileAcceptsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt.secret")
	want := bytes.Repeat([]byte{0xab}, 48) // operators may provide longer secrets
	if err := os.WriteFile(path, []byte(strings.Repeat("ab", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateSecretFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", path, got, want)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
