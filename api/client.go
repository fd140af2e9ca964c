package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// client is who sent a request, as far as the server can tell: the address
// the throttles key on and the logs and audit record, and whether the
// client reached us over TLS.
type client struct {
	Addr  netip.Addr
	HTTPS bool
}

// maxForwardedHops bounds how many X-Forwarded-For entries are looked at, so
// a header of thousands of entries costs no more than a short one.
const maxForwardedHops = 32

// clientOf works out the client of r. The peer of the connection is the
// client unless it is one of the trusted proxies; only then is
// X-Forwarded-For read, from the right (the entry the nearest proxy added)
// to the left, skipping further trusted proxies, and the first address that
// is not a trusted proxy is the client. Entries left of it were written by
// the client or by proxies nobody vouches for, so they are never believed:
// a client cannot choose the address it is throttled and audited under.
func clientOf(r *http.Request, trusted []netip.Prefix) client {
	peer := peerAddr(r.RemoteAddr)
	c := client{Addr: peer, HTTPS: r.TLS != nil}
	if !isTrusted(peer, trusted) {
		return c
	}
	c.Addr = forwardedFor(peer, r.Header.Values("X-Forwarded-For"), trusted)
	if proto := lastListEntry(r.Header.Values("X-Forwarded-Proto")); strings.EqualFold(proto, "https") {
		c.HTTPS = true
	}
	return c
}

// forwardedFor walks the X-Forwarded-For values right to left past trusted
// proxies. The client is the first entry that is not a trusted proxy; when
// an entry cannot be parsed (garbage, or one written by a broken proxy) or
// the hops run out, it is the last trusted hop walked past, which is
// vouched for, rather than anything further left, which is not.
func forwardedFor(peer netip.Addr, values []string, trusted []netip.Prefix) netip.Addr {
	last := peer
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for rest != "" {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, entry = rest[:j], rest[j+1:]
			} else {
				rest, entry = "", rest
			}
			if hops++; hops > maxForwardedHops {
				return last
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // an empty list element is no element (RFC 9110, 5.6.1)
			}
			addr, ok := parseForwarded(entry)
			if !ok {
				return last
			}
			if !isTrusted(addr, trusted) {
				return addr
			}
			last = addr
		}
	}
	return last
}

// parseForwarded reads one X-Forwarded-For entry: an IPv4 or IPv6 address,
// optionally with a port ("1.2.3.4:80", "[::1]:80") as some proxies add.
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return normalAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalAddr(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// peerAddr is the address of the connection's other end.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return normalAddr(ap.Addr())
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return normalAddr(a)
}

// normalAddr drops an IPv6 zone and unmaps IPv4-in-IPv6, so one client has
// one address whatever notation reached us.
func normalAddr(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func lastListEntry(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if j := strings.LastIndexByte(v, ','); j >= 0 {
		v = v[j+1:]
	}
	return strings.TrimSpace(v)
}

// key is what the throttles count a client under: its IPv4 address, or the
// /64 network of an IPv6 one, since one IPv6 host usually has a whole /64 to
// pick addresses from.
func (c client) key() string {
	if !c.Addr.IsValid() {
		return "unknown"
	}
	if c.Addr.Is6() {
		p, _ := c.Addr.Prefix(64)
		return p.String()
	}
	return c.Addr.String()
}

func (c client) String() string {
	if !c.Addr.IsValid() {
		return "unknown"
	}
	return c.Addr.String()
}

// withClient puts the request's client in its context, for the handlers,
// the logs and the security headers.
func (s *Server) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := clientOf(r, s.TrustedProxies)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClient, c)))
	})
}

// clientFrom returns the client withClient found for the request.
func clientFrom(r *http.Request) client {
	c, _ := r.Context().Value(keyClient).(client)
	return c
}
