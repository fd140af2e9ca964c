package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// mountSmallDisk mounts a tmpfs of size MiB at a fresh directory, or skips
// the test where mounting is not allowed (not root).
func mountSmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small disk here (%v: %s)", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the disk refuses more.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestFullDisk runs the service on a real disk that fills up: writes answer
// 507 storage-full with Retry-After (never 500), /readyz reports the store
// unwritable, and once space is freed, a retried keyed create succeeds
// exactly once, /readyz is ready again, and every acknowledged project is in
// the read models, with nothing restarted.
func TestFullDisk(t *testing.T) {
	disk := mountSmallDisk(t, 48)
	s := startServiceIn(t, disk, &syncBuffer{})
	admin := s.admin()
	s.createUser(admin, "full.student@uni.example", "Full Student", []string{"student"}, "full student password")
	student := s.signIn("full.student@uni.example", "full student password")
	acked := map[string]bool{}
	for i := range 5 {
		acked[s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": fmt.Sprint("Before ", i)}), 201).str("id")] = true
	}

	filler := filepath.Join(disk, "filler")
	fill(t, filler)
	full, key := false, "full-disk-create"
	for i := 0; i < 200 && !full; i++ {
		r := s.do("POST", "/v1/projects", student, map[string]string{"title": fmt.Sprint("While full ", i)}, "Idempotency-Key", fmt.Sprint(key, i))
		switch r.Status {
		case 201:
			acked[r.str("id")] = true
		case 507:
			s.expect(r, 507, "storage-full")
			if r.Header.Get("Retry-After") != "30" {
				t.Fatalf("507 without Retry-After: %v", r.Header)
			}
			full, key = true, fmt.Sprint(key, i)
		default:
			t.Fatalf("a write on a full disk answered %d %s", r.Status, r.Raw)
		}
	}
	if !full {
		t.Fatal("no write was refused on a full disk")
	}
	waitForLong(t, "/readyz to report the store unwritable", 10*time.Second, func() bool {
		r := s.do("GET", "/readyz", "", nil)
		return r.Status == 503 && r.str("code") == "store-unwritable"
	})

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.expect(s.do("GET", "/readyz", "", nil), 200)
	r := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "While full " + key[len("full-disk-create"):]}, "Idempotency-Key", key), 201)
	acked[r.str("id")] = true
	again := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "While full " + key[len("full-disk-create"):]}, "Idempotency-Key", key), 201)
	if again.str("id") != r.str("id") {
		t.Fatalf("the retried create made %s and %s", r.str("id"), again.str("id"))
	}
	waitForLong(t, "every acknowledged project in the student's list", 10*time.Second, func() bool {
		items := s.do("GET", "/v1/projects?limit=200", student, nil).items()
		got := map[string]bool{}
		for _, it := range items {
			got[fmt.Sprint(it["id"])] = true
		}
		for id := range acked {
			if !got[id] {
				return false
			}
		}
		return len(items) == len(acked)
	})
}
