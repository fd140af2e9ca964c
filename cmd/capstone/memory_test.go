package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeFollowsMemory: `capstone serve` run as a process sets its soft
// memory limit to the floor while its heap is small, and leaves the one
// GOMEMLIMIT gives alone. Its /metrics shows the limit the runtime has.
func TestServeFollowsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, c := range []struct {
		env  string
		want int64
	}{{"", serveMemoryFloor}, {"GOMEMLIMIT=300MiB", 300 << 20}} {
		t.Run(fmt.Sprint(c.env != ""), func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-level", "error")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOMEMLIMIT=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			cmd.SysProcAttr = dieWithParent()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			limit := regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`)
			var got string
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if m := limit.FindSubmatch(body); m != nil {
					got = string(m[1])
					if v, err := strconv.ParseFloat(got, 64); err == nil && int64(v) == c.want {
						return
					}
				}
			}
			t.Fatalf("with %q the soft memory limit shown is %q, not %d", c.env, got, c.want)
		})
	}
}
