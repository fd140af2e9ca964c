package netlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve accepts on l and holds every accepted connection until it is closed
// by the client; it returns the accepted connections as they come.
func serve(t *testing.T, l *Listener) <-chan net.Conn {
	out := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			out <- c
		}
	}()
	t.Cleanup(func() { l.Close() })
	return out
}

func dial(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether the server answered c with the 503 at once.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"code":"too-many-connections"`) ||
		resp.Header.Get("Content-Type") != "application/problem+json" || len(resp.Header.Get("X-Request-Id")) != 36 {
		t.Fatalf("refusal %d %v %s", resp.StatusCode, resp.Header, body)
	}
	return true
}

// TestListenerBounds: per client, then in all, connections past the bound
// are answered 503 at once; exempt peers are bounded only in all; closing a
// connection gives its place back, once however often it is closed.
func TestListenerBounds(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	reasons := map[string]int{}
	l := Listen(inner, Limits{Max: 5, PerClient: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")},
		OnRefuse: func(r string) { mu.Lock(); reasons[r]++; mu.Unlock() }})
	accepted := serve(t, l)
	addr := inner.Addr().String()

	dial(t, addr, "127.0.0.2")
	dial(t, addr, "127.0.0.2")
	first := <-accepted
	<-accepted
	if !refused(t, dial(t, addr, "127.0.0.2")) {
		t.Fatal("a third connection from one client was not refused")
	}
	for range 3 { // a proxy is not bounded per client
		dial(t, addr, "127.0.0.9")
		<-accepted
	}
	if l.Open() != 5 {
		t.Fatalf("%d open, want 5", l.Open())
	}
	if !refused(t, dial(t, addr, "127.0.0.3")) {
		t.Fatal("a connection past the total was not refused")
	}
	first.Close()
	first.Close()
	if l.Open() != 4 {
		t.Fatalf("%d open after one closed twice, want 4", l.Open())
	}
	dial(t, addr, "127.0.0.2") // its client has a place again, and so has the total
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a connection within the bounds was not accepted")
	}
	mu.Lock()
	defer mu.Unlock()
	if reasons["per-client"] != 1 || reasons["total"] != 1 {
		t.Fatalf("refusals %v, want one of each", reasons)
	}
}

// TestListenerKeysIPv6By64: addresses of one IPv6 /64 are one client.
func TestListenerKeysIPv6By64(t *testing.T) {
	l := Listen(nil, Limits{PerClient: 1})
	a := l.key(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1})
	b := l.key(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 2})
	c := l.key(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 3})
	if a != b || a == c {
		t.Fatalf("keys %q %q %q", a, b, c)
	}
	if k := l.key(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 4}); k != "192.0.2.1" {
		t.Fatalf("a mapped IPv4 address is keyed %q", k)
	}
}

// TestRefusalWaitsForASlowRequest: a refused connection whose client is
// slow to send its request (a loaded machine) still gets the 503 to retry
// after, not a connection closed unanswered.
func TestRefusalWaitsForASlowRequest(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, Limits{PerClient: 1})
	accepted := serve(t, l)
	addr := inner.Addr().String()
	dial(t, addr, "127.0.0.4")
	<-accepted
	c := dial(t, addr, "127.0.0.4")
	const slow = 600 * time.Millisecond // as a loaded machine's client may be
	time.Sleep(slow)
	if !refused(t, c) {
		t.Fatalf("a refused client that wrote its request %s after connecting got no 503", slow)
	}
}
