package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowClient opens a connection from the local address from and starts a
// sign-in whose body it then sends a byte at a time, as a slow-body attack
// does. refused is true when the service answered 503 at once; otherwise the
// connection is held, trickling, until the service ends it (ended is closed
// then, and took says how long after the headers).
type slowClient struct {
	refused bool
	took    time.Duration
	ended   chan struct{}
	conn    net.Conn
}

func openSlow(t *testing.T, addr, from string) *slowClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	sc := &slowClient{ended: make(chan struct{}), conn: c}
	start := time.Now()
	_, _ = io.WriteString(c, "POST /v1/auth/sign-in HTTP/1.1\r\nHost: capstone\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(400 * time.Millisecond))
	if line, err := br.ReadString('\n'); err == nil && strings.Contains(line, " 503 ") {
		sc.refused = true
		close(sc.ended)
		return sc
	}
	_ = c.SetReadDeadline(time.Time{})
	go func() { // the trickle, until the service gives up on it
		for {
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	go func() { // whatever the service answers (408), or the end of the connection
		_, _ = io.Copy(io.Discard, br)
		sc.took = time.Since(start)
		close(sc.ended)
	}()
	return sc
}

// TestSlowClientsAreBounded: slow-body connections are bounded per client
// and in all, and cut off after the body timeout; meanwhile a real user
// signs in. The limits are set low so that the attack stays small.
func TestSlowClientsAreBounded(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--max-connections", "40", "--max-connections-per-client", "8", "--body-timeout", "1s")
	admin := s.admin()
	s.createUser(admin, "patient@uni.example", "Patient", []string{"student"}, "the patient's password")
	user := s.from("127.0.0.3")
	addr := s.app.Addr()

	// One attacker, 60 slow connections: 8 are held, the rest refused at once.
	var mu sync.Mutex
	var attack []*slowClient
	var wg sync.WaitGroup
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := openSlow(t, addr, "127.0.0.2")
			mu.Lock()
			attack = append(attack, sc)
			mu.Unlock()
		}()
	}
	wg.Wait()
	held := 0
	for _, sc := range attack {
		if !sc.refused {
			held++
		}
	}
	if held > 8 {
		t.Fatalf("one client holds %d slow connections, want at most 8", held)
	}
	start := time.Now()
	user.expect(user.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "patient@uni.example", "password": "the patient's password"}), 200)
	t.Logf("one attacker: %d of 60 held; a sign-in meanwhile took %v", held, time.Since(start))

	// Held connections are cut off after the body timeout, not the minute
	// the whole request may take.
	for _, sc := range attack {
		select {
		case <-sc.ended:
			if !sc.refused && sc.took > 4*time.Second {
				t.Fatalf("a slow body was held for %v, want about the 1s body timeout", sc.took)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a slow body was still held 5 s later (body timeout 1s)")
		}
	}

	// Many attackers: at most 40 connections are held in all; a real user
	// refused at that moment is told to retry in a second, and gets in as
	// the slow ones are cut off.
	attack = nil
	for i := range 6 {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := openSlow(t, addr, fmt.Sprintf("127.0.0.%d", 10+i))
				mu.Lock()
				attack = append(attack, sc)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	held = 0
	for _, sc := range attack {
		if !sc.refused {
			held++
		}
	}
	if held > 40 {
		t.Fatalf("%d slow connections held, want at most 40", held)
	}
	start = time.Now()
	fresh := s.from("127.0.0.4") // a new connection, not one kept alive from before the attack
	for {
		a := fresh.post("/v1/auth/sign-in", "", map[string]string{"email": "patient@uni.example", "password": "the patient's password"})
		if a.status == 200 {
			break
		}
		if a.err == nil && (a.status != 503 || a.retryAfter != "1") {
			t.Fatalf("a real user during the attack: %d %s", a.status, a.code)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("a real user could not sign in for 10 s during the attack: %v %d", a.err, a.status)
		}
		time.Sleep(time.Second)
	}
	t.Logf("six attackers: %d of 48 held; a new user signed in after %v", held, time.Since(start))
	if r := s.do("GET", "/metrics", "", nil); !strings.Contains(r.Raw, `capstone_http_connections_refused_total{reason="per-client"}`) {
		t.Error("/metrics does not count the refused connections")
	}
}

// TestMetricsAreNotPublic: without --metrics-addr, /metrics on the API port
// answers only a client on this machine that came through no proxy; with
// it, /metrics is served only on its own listener.
func TestMetricsAreNotPublic(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--trusted-proxies", "127.0.0.1/32")
	s.expect(s.do("GET", "/metrics", "", nil), 200)
	s.expect(s.do("GET", "/metrics", "", nil, "X-Forwarded-For", "203.0.113.9"), 404, "route-not-found")
	s.expect(s.do("GET", "/metrics", "", nil, "X-Forwarded-For", "127.0.0.1"), 404, "route-not-found")

	apart := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--metrics-addr", "127.0.0.1:0")
	apart.admin()
	apart.expect(apart.do("GET", "/metrics", "", nil), 404, "route-not-found")
	resp, err := http.Get("http://" + apart.app.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `capstone_http_requests_total{code="200",method="POST",route="/v1/auth/sign-in"}`) {
		t.Fatalf("the metrics listener: %d\n%.500s", resp.StatusCode, body)
	}
	for _, p := range []string{"/v1/me", "/healthz", "/openapi.json"} {
		if resp, err := http.Get("http://" + apart.app.MetricsAddr() + p); err != nil || resp.StatusCode != 404 {
			t.Fatalf("the metrics listener serves %s: %v %v", p, resp, err)
		}
	}
}
