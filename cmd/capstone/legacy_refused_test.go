package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLegacyConnectionRefusalCarriesCORS: a connection to the original
// routes over the connection limits is answered 503 before any handler
// runs, and that answer too carries the CORS header for the page's origin
// (it had none, so the page saw a bare network error): any origin with the
// default setting; with --legacy-origins, an allowed origin (in any case)
// echoed, and none for another origin or a request without one.
func TestLegacyConnectionRefusalCarriesCORS(t *testing.T) {
	rng := seeded(t, 8)
	const allowed = "https://ui.uni.example"
	origins := []string{"", uiOrigin, allowed, "HTTPS://UI.UNI.EXAMPLE", "https://evil.example", "null", allowed + ".evil.example"}
	for _, listed := range []bool{false, true} {
		flags := []string{"--max-connections-per-client", "1"}
		if listed {
			flags = append(flags, "--legacy-origins", allowed)
		}
		_, lc := startLegacy(t, flags...)
		addr := strings.TrimPrefix(lc.base, "http://")
		held, err := net.Dial("tcp", addr) // the one connection this client may have
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // accepted before the next one
		for range 12 {
			origin := origins[rng.IntN(len(origins))]
			status, header := refusedGet(t, addr, origin)
			if status != http.StatusServiceUnavailable {
				t.Fatalf("with one connection held, another answered %d, want 503", status)
			}
			want := ""
			switch {
			case !listed:
				want = "*"
			case strings.EqualFold(origin, allowed):
				want = origin
			}
			if got := header.Get("Access-Control-Allow-Origin"); got != want {
				t.Fatalf("listed %v, Origin %q: refusal's Access-Control-Allow-Origin %q, want %q", listed, origin, got, want)
			}
		}
		held.Close()
	}
}

// refusedGet sends GET /supervisor/all with origin (none when empty) on a
// connection of its own and returns the answer's status and header.
func refusedGet(t *testing.T, addr, origin string) (int, http.Header) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET /supervisor/all HTTP/1.1\r\nHost: " + addr + "\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
