package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFileBytes is the size of a generated secret: MinSecretBytes, i.e.
// exactly what HS256 needs.
const secretFileBytes = MinSecretBytes

// LoadOrCreateSecretFile returns the secret stored in path, creating it if it
// does not exist, so a deployment gets a stable token-signing secret without
// an operator having to generate one (restarts keep tokens valid).
//
// A new secret is 32 random bytes, stored hex-encoded in a file of mode 0600
// whose parent directories are created with mode 0700. Creation is atomic and
// exclusive: the secret is written and synced to a temporary file (itself
// created with O_EXCL) in the same directory, which is then hard-linked to
// path. link(2) fails if path already exists, exactly like O_CREATE|O_EXCL,
// but unlike an O_EXCL create-then-write it never lets another process see
// an empty or half-written file. Whichever process links first wins; the
// others read the winner's file, so processes starting together agree.
//
// An existing file that does not hold at least 32 hex-encoded bytes is an
// error and is left untouched: replacing it could split replicas between two
// secrets. The filesystem must support hard links (all common Linux ones do).
func LoadOrCreateSecretFile(path string) ([]byte, error) {
	secret, err := readSecretFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret directory: %w", err)
	}
	if err := createSecretFile(path); err != nil {
		return nil, err
	}
	// Read back whichever secret is now installed: ours, or that of a
	// process that won the race.
	return readSecretFile(path)
}

// createSecretFile writes a fresh secret to path unless path already exists,
// in which case it does nothing and returns nil.
func createSecretFile(path string) error {
	secret := make([]byte, secretFileBytes)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("auth: generate secret: %w", err)
	}
	content := append([]byte(hex.EncodeToString(secret)), '\n')

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600, O_EXCL
	if err != nil {
		return fmt.Errorf("auth: create secret file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // only the link at path survives

	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: create secret file: %w", err)
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: write secret file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: sync secret file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: close secret file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("auth: install secret file: %w", err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a new directory entry durable. Failures are ignored: the
// secret is usable either way, and some platforms cannot fsync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// readSecretFile decodes the hex secret in path. A missing file yields an
// error matching fs.ErrNotExist.
func readSecretFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read secret file: %w", err)
	}
	secret, err := hex.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil {
		return nil, fmt.Errorf("auth: secret file %s is not hex-encoded", path)
	}
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: secret file %s holds %d bytes, need at least %d", path, len(secret), MinSecretBytes)
	}
	return secret, nil
}
