// Package netlimit bounds the connections a server keeps open: in all, and
// per client address. Without a bound, slow clients (a request body sent a
// byte at a time) hold a connection and a file descriptor each until the
// process runs out of descriptors and nobody can connect; with a bound per
// client, one client cannot take all of them.
//
// A connection over a bound is not left waiting in the kernel's backlog: it
// is accepted, answered 503 with Retry-After at once, and closed, so the
// client learns quickly and the backlog keeps moving for everybody else.
package netlimit

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Limits are the bounds of a Listener. Zero means no bound.
type Limits struct {
	// Max bounds the open connections in all.
	Max int
	// PerClient bounds the open connections from one client address (an
	// IPv6 client by its /64).
	PerClient int
	// Exempt are peers not bounded per client: proxies in front of the
	// service, which carry many clients' requests each.
	Exempt []netip.Prefix
	// OnRefuse, if set, is told of each refused connection: "total" or
	// "per-client".
	OnRefuse func(reason string)
	// Header, if set, gives headers the refusal carries beyond its own,
	// from the start of the request it answers (what the client sent in
	// its first write): a face whose every answer must carry one, as the
	// CORS header without which a browser hides the status from the page,
	// adds it here.
	Header func(request []byte) http.Header
}

// Listener is a net.Listener that keeps within Limits.
type Listener struct {
	net.Listener
	limits Limits

	mu        sync.Mutex
	open      int
	perClient map[string]int
}

// Listen wraps ln.
func Listen(ln net.Listener, l Limits) *Listener {
	return &Listener{Listener: ln, limits: l, perClient: make(map[string]int)}
}

// refusal is the whole answer to a connection over a bound: a problem, with
// a request id of its own like every answer of the service.
func refusal(extra http.Header) string {
	body := `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many open connections; retry in a second","code":"too-many-connections"}` + "\n"
	var b strings.Builder
	b.WriteString("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: 1\r\n" +
		"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n" +
		"X-Request-Id: " + uuid.Must(uuid.NewV7()).String() + "\r\n")
	_ = extra.Write(&b) // drops CR and LF within values: no line of its own
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	return b.String()
}

// requestWithin is how long a refused connection is given to send its
// request before it is closed unanswered. A client on a loaded machine may
// take a few hundred milliseconds from connecting to writing: with 250 ms, a
// burst of 200 requests from one client, on two busy cores, now and then
// had one closed unanswered, which its client saw as an EOF instead of the
// 503 to retry after. A connection that sends nothing holds one of the
// refusers this long.
const requestWithin = 2 * time.Second

// refusers bounds the refused connections being answered at once: past it
// they are closed without an answer, so a flood of connections costs at
// most this many descriptors on top of the limits.
var refusers = make(chan struct{}, 256)

// Accept returns the next connection within the limits, answering the
// others itself.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := l.key(c.RemoteAddr())
		if reason := l.admit(key); reason != "" {
			if l.limits.OnRefuse != nil {
				l.limits.OnRefuse(reason)
			}
			select {
			case refusers <- struct{}{}:
				go func() { refuse(c, l.limits.Header); <-refusers }()
			default:
				_ = c.Close()
			}
			continue
		}
		return &conn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

// Open returns the connections open now (for metrics and tests).
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// key is the client the per-client bound counts a peer under ("" when not
// counted).
func (l *Listener) key(addr net.Addr) string {
	if l.limits.PerClient <= 0 {
		return ""
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return ""
	}
	a := ap.Addr().WithZone("").Unmap()
	for _, p := range l.limits.Exempt {
		if p.Contains(a) {
			return ""
		}
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (l *Listener) admit(key string) (refused string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Max > 0 && l.open >= l.limits.Max {
		return "total"
	}
	if key != "" && l.perClient[key] >= l.limits.PerClient {
		return "per-client"
	}
	l.open++
	if key != "" {
		l.perClient[key]++
	}
	return ""
}

func (l *Listener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if key != "" {
		if l.perClient[key]--; l.perClient[key] <= 0 {
			delete(l.perClient, key)
		}
	}
}

// refuse answers 503 and closes. It waits a moment (requestWithin) for the
// start of the request and answers after it, as HTTP clients expect (one
// that finds an answer on a connection it has not used yet takes it for a
// broken one); then it half-closes and reads what else the client sends
// for a moment, so that the client reads the answer rather than a reset
// caused by its own unread request.
func refuse(c net.Conn, header func([]byte) http.Header) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(requestWithin))
	start := make([]byte, 4<<10)
	n, err := c.Read(start)
	if err != nil {
		return // nothing came: nobody to answer
	}
	var extra http.Header
	if header != nil {
		extra = header(start[:n])
	}
	if _, err := io.WriteString(c, refusal(extra)); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.CopyN(io.Discard, c, 64<<10)
}

// conn releases its place once, when it is closed.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
