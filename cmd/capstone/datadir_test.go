package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDataDirInUse runs the binary: while `serve` has a data dir, a second
// serve, users create, import and replay on it are refused, each saying what
// to do (the latter three with the equivalent call on the running service,
// users create before asking for the password). After the serve is killed
// with SIGKILL the data dir opens again: the kernel dropped the lock, and the
// socket left behind is replaced.
func TestDataDirInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	c := &cluster{t: t, bin: buildBinary(t), dir: t.TempDir(), procs: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	t.Cleanup(c.stopAll)
	data := filepath.Join(c.dir, "data")
	c.env = []string{"CAPSTONE_DATA_DIR=" + data, "CAPSTONE_LOG_LEVEL=warn"}
	c.serve("first", "all", "CAPSTONE_BOOTSTRAP_EMAIL="+adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD="+adminPassword)
	base := "http://" + c.addrs["first"]
	csvFile := filepath.Join(c.dir, "examiners.csv")
	if err := os.WriteFile(csvFile, fixture(t, "examiners.csv"), 0o600); err != nil {
		t.Fatal(err)
	}
	pid := c.procs["first"].Process.Pid
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--addr", freeAddr(t)}, []string{"stop it first"}},
		{[]string{"users", "create", "--email", "late@uni.example", "--name", "Late Coordinator"},
			[]string{"curl -X POST '" + base + "/v1/users'", `"email":"late@uni.example"`, `"roles":["coordinator"]`}},
		{[]string{"import", "--dry-run", "examiners", csvFile}, []string{"curl -X POST '" + base + "/v1/imports/examiners?dry_run=true'", "'file=@" + csvFile + "'"}},
		{[]string{"replay", "--verify"}, []string{"curl -X POST '" + base + "/v1/admin/projections/rebuild'", `"verify":true`}},
	} {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a command not refused would serve on
		cmd := exec.CommandContext(ctx, c.bin, tc.args...)
		cmd.Env = append(os.Environ(), c.env...)
		cmd.Stdin = strings.NewReader("a password that must not be asked for\n")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		cancel()
		var exit *exec.ExitError
		msg := errOut.String()
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("capstone %s on a data dir in use: %v\n%s", strings.Join(tc.args, " "), err, msg)
			continue
		}
		for _, want := range append(tc.want, "in use", "pid "+strconv.Itoa(pid)) {
			if !strings.Contains(msg, want) {
				t.Errorf("capstone %s: the refusal lacks %q:\n%s", strings.Join(tc.args, " "), want, msg)
			}
		}
		if strings.Contains(msg, "password (one line") {
			t.Errorf("capstone %s asked for a password before refusing", strings.Join(tc.args, " "))
		}
	}

	c.kill("first") // SIGKILL: no clean-up at all
	if err := c.procs["first"].Process.Signal(syscall.Signal(0)); err == nil {
		t.Fatal("the first serve is still running")
	}
	c.serve("second", "all")
	second := &service{t: t, base: "http://" + c.addrs["second"]}
	second.admin()
}
