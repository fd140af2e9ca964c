package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestBenchCohort: capstone bench-cohort imports a generated cohort into a
// service, allocates, and reports every figure; with --out it only writes
// the cohort's files, which import as they are.
func TestBenchCohort(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a cohort")
	}
	s := startService(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench-cohort", "--students", "60", "--supervisors", "8", "--target", s.base,
		"--email", adminEmail, "--password", adminPassword, "--pid", fmt.Sprint(os.Getpid())}, nil, &out, &errOut, func(string) string { return "" })
	if err != nil {
		t.Fatalf("bench-cohort: %v\n%s", err, errOut.String())
	}
	// The service runs in the test's process: its /metrics shows this
	// process's CPU time, and /proc its RSS, on Linux.
	if runtime.GOOS == "linux" {
		for _, want := range []string{`import supervisors .*; service CPU [0-9.]+ s, [0-9.]+ ms a row`,
			`import students .*; service CPU [0-9.]+ s`, `import preferences .*; service CPU [0-9.]+ s`, `service peak RSS: [1-9][0-9]* MiB`} {
			if !regexp.MustCompile(want).MatchString(out.String()) {
				t.Errorf("the report lacks %q:\n%s", want, out.String())
			}
		}
	}
	for _, want := range []string{`import supervisors +8 rows`, `import students +60 rows`, `import preferences +60 rows`,
		`allocation: solved \(dry run\) in [0-9.]+ s; applied, [1-9][0-9]* placements`, `every placement shown`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}

	// Any number of choices makes files that import: a preferences file
	// has every Choice column, those past the choices blank.
	dir := t.TempDir()
	out.Reset()
	choices := 1 + rand.IntN(5)
	t.Logf("--choices %d", choices)
	if err := run(context.Background(), []string{"bench-cohort", "--students", "50", "--supervisors", "7", "--choices", fmt.Sprint(choices), "--out", dir}, nil, &out, &errOut,
		func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	admin := s.admin()
	for _, kind := range []string{"supervisors", "students", "preferences"} {
		raw, err := os.ReadFile(filepath.Join(dir, kind+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if n, want := strings.Count(string(raw), "\n")-1, map[string]int{"supervisors": 7, "students": 50, "preferences": 50}[kind]; n != want {
			t.Errorf("%s.csv has %d rows, want %d", kind, n, want)
		}
		r := s.expect(s.upload(admin, kind, kind+".csv", raw, ""), 200)
		if errs := r.Body["errors"].([]any); len(errs) > 0 {
			t.Errorf("%s.csv: refused rows %v", kind, errs)
		}
		if kind == "preferences" && r.num("updated") != 50 {
			t.Errorf("preferences.csv: %.300s; want 50 rankings set", r.Raw)
		}
	}
}

// TestBenchCohortOutMakesTheDirectory: --out writes into a directory that
// does not exist yet (nested too), as a fresh clone's first run asks.
func TestBenchCohortOutMakesTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cohort", "files")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench-cohort", "--students", "20", "--supervisors", "5", "--out", dir}, nil, &out, &errOut,
		func(string) string { return "" }); err != nil {
		t.Fatalf("bench-cohort --out %s: %v\n%s", dir, err, errOut.String())
	}
	for kind, want := range map[string]int{"supervisors": 5, "students": 20, "preferences": 20} {
		raw, err := os.ReadFile(filepath.Join(dir, kind+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(raw), "\n") - 1; n != want {
			t.Errorf("%s.csv has %d rows, want %d", kind, n, want)
		}
	}
}
