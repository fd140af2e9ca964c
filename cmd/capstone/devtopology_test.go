package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// devRun is one `capstone dev` process and what it printed.
type devRun struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	up   chan struct{}
	done chan error
}

func startDev(t *testing.T, bin, data, a1, a2 string) *devRun {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--data-dir", data, "--addr", a1, "--addr2", a2)
	cmd.Env = append(os.Environ(), "CAPSTONE_BOOTSTRAP_EMAIL="+adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD="+adminPassword)
	cmd.SysProcAttr = dieWithParent()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devRun{t: t, cmd: cmd, up: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.mu.Lock()
			d.out.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if strings.Contains(sc.Text(), "is up") {
				close(d.up)
			}
		}
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case <-d.up:
	case err := <-d.done:
		t.Fatalf("capstone dev ended before it was up: %v\n%s", err, d.output())
	case <-time.After(3 * time.Minute):
		t.Fatalf("capstone dev not up after 3 minutes:\n%s", d.output())
	}
	time.Sleep(200 * time.Millisecond) // the rest of the table
	return d
}

func (d *devRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out.String()
}

// printed is the first group of re in what capstone dev printed.
func (d *devRun) printed(re string) string {
	d.t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(d.output())
	if m == nil {
		d.t.Fatalf("capstone dev printed nothing matching %s:\n%s", re, d.output())
	}
	return m[1]
}

// pids are the children's pids, from the table it printed.
func (d *devRun) pids() []int {
	var out []int
	for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(d.output(), -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	if len(out) != len(devProcesses) {
		d.t.Fatalf("%d pids in the table, want %d:\n%s", len(out), len(devProcesses), d.output())
	}
	return out
}

// ended waits for capstone dev to end and checks no child is left.
func (d *devRun) ended(pids []int) error {
	d.t.Helper()
	var err error
	select {
	case err = <-d.done:
	case <-time.After(90 * time.Second):
		d.t.Fatalf("capstone dev still running 90 s after it was told to stop")
	}
	for _, pid := range pids {
		if e := syscall.Kill(pid, 0); !errors.Is(e, syscall.ESRCH) {
			d.t.Errorf("child %d is still running after capstone dev ended", pid)
		}
	}
	return err
}

// TestDevTopology runs `capstone dev` as a user would: the topology comes up
// on the ports given, a write on one API replica is read back through the
// other, SIGTERM stops it with no process left, the data is still there on
// the next start, and a child that dies takes the whole topology down (no
// half-running topology, no orphan).
func TestDevTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs six processes")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	a1, a2 := freeAddr(t), freeAddr(t)
	d := startDev(t, bin, data, a1, a2)
	pids := d.pids()
	for _, want := range []string{"http://" + a1, "http://" + a2, "MONGODB_URI='mongodb://%2F", "PUBSUB_EMULATOR_HOST=127.0.0.1:"} {
		if !strings.Contains(d.output(), want) {
			t.Errorf("the table lacks %q:\n%s", want, d.output())
		}
	}
	for _, port := range []string{":27017", ":8085"} {
		if strings.Contains(d.output(), port) {
			t.Errorf("a default port of a real MongoDB or emulator (%s) is used:\n%s", port, d.output())
		}
	}
	api1, api2 := &service{t: t, base: "http://" + a1}, &service{t: t, base: "http://" + a2}
	admin := api1.admin()
	id := api1.createUser(admin, "dev@uni.example", "Dev Student", []string{"student"}, "dev student password")
	waitFor(t, "the user through the other replica", func() bool { return api2.do("GET", "/v1/users/"+id, admin, nil).Status == 200 })

	// An extra process started with the printed settings alone accepts the
	// children's tokens and bookmarks.
	extra := startOn(t, context.Background(), nil, map[string]string{
		"MONGODB_URI": d.printed(`MONGODB_URI='([^']+)'`), "PUBSUB_EMULATOR_HOST": d.printed(`PUBSUB_EMULATOR_HOST=(\S+)`),
		"PUBSUB_PROJECT_ID": d.printed(`PUBSUB_PROJECT_ID=(\S+)`), "CAPSTONE_COMPONENTS": "api", "CAPSTONE_PUBSUB_CREATE": "false",
	})
	written := api1.expect(api1.do("PATCH", "/v1/users/"+id, admin, map[string]any{"name": "Dev Student Renamed"}), 200)
	bookmark := written.Header.Get("Capstone-Bookmark")
	if bookmark == "" {
		t.Fatal("a write on a replica of capstone dev gave no Capstone-Bookmark")
	}
	if r := extra.expect(extra.do("GET", "/v1/users/"+id+"?after="+url.QueryEscape(bookmark), admin, nil), 200); r.str("name") != "Dev Student Renamed" {
		t.Fatalf("the extra process read %q after the bookmark", r.str("name"))
	}
	extra.stop()

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.ended(pids); err != nil {
		t.Fatalf("capstone dev after SIGTERM: %v\n%s", err, d.output())
	}

	d = startDev(t, bin, data, a1, a2)
	pids = d.pids()
	api2.signIn("dev@uni.example", "dev student password")         // kept between runs
	api2.expect(api2.do("GET", "/v1/users/"+id, admin, nil), 200)  // and so are the tokens
	if err := syscall.Kill(pids[3], syscall.SIGKILL); err != nil { // a projector dies
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := d.ended(pids); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("capstone dev after a child died: %v, want a failure", err)
	}
}
