package main

import (
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
// memory limit to the floor while its heap is small and its collector's
// target to serveGCPercent, and leaves what GOMEMLIMIT or GOGC gives
// alone. Its /metrics shows what the runtime has.
func TestServeFollowsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, c := range []struct {
		env         []string
		limit, gogc int64
	}{
		{nil, serveMemoryFloor, serveGCPercent},
		{[]string{"GOMEMLIMIT=300MiB"}, 300 << 20, serveGCPercent},
		{[]string{"GOGC=170"}, serveMemoryFloor, 170},
		{[]string{"GOMEMLIMIT=200MiB", "GOGC=30"}, 200 << 20, 30},
	} {
		name := strings.Join(c.env, ",")
		if name == "" {
			name = "defaults" // a data dir's path may not hold the # of an unnamed subtest
		}
		t.Run(name, func(t *testing.T) {
			dir, addr := t.TempDir(), freeAddr(t)
			cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-level", "error")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, c.env...)
			cmd.SysProcAttr = dieWithParent()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			shown := func(body []byte, name string) (string, int64) {
				m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
				if m == nil {
					return "", -1
				}
				v, _ := strconv.ParseFloat(string(m[1]), 64)
				return string(m[1]), int64(v)
			}
			var limit, gogc string
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var l, g int64
				limit, l = shown(body, "go_gc_gomemlimit_bytes")
				gogc, g = shown(body, "go_gc_gogc_percent")
				if l == c.limit && g == c.gogc {
					return
				}
			}
			t.Fatalf("with %q the soft memory limit shown is %q, not %d, and the collector's target %q, not %d", c.env, limit, c.limit, gogc, c.gogc)
		})
	}
}

// TestProfilesMemory: serve keeps a heap profile only when GODEBUG names
// the rate of its samples.
func TestProfilesMemory(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                              false,
		"gctrace=1":                     false,
		"nomemprofilerate=1":            false,
		"memprofilerate=1":              true,
		"memprofilerate=0":              true,
		"gctrace=1, memprofilerate=512": true,
	} {
		if got := profilesMemory(godebug); got != want {
			t.Errorf("profilesMemory(%q) = %v, want %v", godebug, got, want)
		}
	}
}
