package api

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

var testProxies = []netip.Prefix{
	netip.MustParsePrefix("130.211.0.0/22"),
	netip.MustParsePrefix("35.191.0.0/16"),
	netip.MustParsePrefix("10.8.0.0/14"),
	netip.MustParsePrefix("2600:1900::/28"),
}

// gen makes the addresses and header entries of the property tests.
type gen struct{ r *rand.Rand }

func (g gen) trusted() netip.Addr {
	p := testProxies[g.r.IntN(len(testProxies))]
	return randomIn(g.r, p)
}

// untrusted is any address outside the trusted networks, IPv4 or IPv6.
func (g gen) untrusted() netip.Addr {
	for {
		var a netip.Addr
		if g.r.IntN(2) == 0 {
			a = netip.AddrFrom4([4]byte{byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(g.r.IntN(256)), byte(g.r.IntN(256))})
		} else {
			var b [16]byte
			for i := range b {
				b[i] = byte(g.r.IntN(256))
			}
			a = netip.AddrFrom16(b)
		}
		a = a.Unmap()
		if !isTrusted(a, testProxies) {
			return a
		}
	}
}

func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		if bit := i * 8; bit >= p.Bits() {
			b[i] = byte(r.IntN(256))
		} else if p.Bits() < bit+8 {
			keep := byte(0xff << (8 - (p.Bits() - bit)))
			b[i] = b[i]&keep | byte(r.IntN(256))&^keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// spelling writes a the ways proxies do: plain, with a port, IPv6 in
// brackets with a port, IPv4 mapped into IPv6, padded with spaces.
func (g gen) spelling(a netip.Addr) string {
	s := a.String()
	switch g.r.IntN(5) {
	case 1:
		s = netip.AddrPortFrom(a, uint16(g.r.IntN(65536))).String()
	case 2:
		if a.Is4() {
			s = netip.AddrFrom16(a.As16()).String()
		}
	case 3:
		s = "  " + s + " "
	}
	return s
}

// garbage is an entry that is no address.
func (g gen) garbage() string {
	return []string{"_", "unknown", "_hidden", "1.2.3", "256.1.1.1", "::g", "[::1", "1.2.3.4:99999", "evil.example",
		"1.2.3.4 5.6.7.8", "\x00", strings.Repeat("9", 300), "fe80::1%", "for=1.2.3.4"}[g.r.IntN(14)]
}

// header splits entries (left to right) over one or more header lines.
func (g gen) header(entries []string) []string {
	var lines []string
	for len(entries) > 0 {
		n := 1 + g.r.IntN(len(entries))
		lines = append(lines, strings.Join(entries[:n], ","+strings.Repeat(" ", g.r.IntN(2))))
		entries = entries[n:]
	}
	return lines
}

func request(peer string, xff []string, proto string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = peer
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	if proto != "" {
		r.Header.Set("X-Forwarded-Proto", proto)
	}
	return r
}

func peerString(a netip.Addr, r *rand.Rand) string {
	return netip.AddrPortFrom(a, uint16(1+r.IntN(65535))).String()
}

// A peer that is not a trusted proxy is the client, whatever it claims in
// X-Forwarded-For or X-Forwarded-Proto: spoofed addresses, trusted-looking
// addresses, garbage and long chains change nothing.
func TestClientUntrustedPeerIsTheClient(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := range 2000 {
		peer := g.untrusted()
		var entries []string
		for range g.r.IntN(6) {
			switch g.r.IntN(3) {
			case 0:
				entries = append(entries, g.spelling(g.trusted()))
			case 1:
				entries = append(entries, g.spelling(g.untrusted()))
			default:
				entries = append(entries, g.garbage())
			}
		}
		c := clientOf(request(peerString(peer, g.r), g.header(entries), "https"), testProxies)
		if c.Addr != peer || c.HTTPS {
			t.Fatalf("case %d: peer %s, X-Forwarded-For %q: client %+v, want the peer over http", i, peer, entries, c)
		}
	}
}

// Behind trusted proxies the client is the first address, from the right,
// that is not a trusted proxy: whatever the client wrote to the left of it
// (spoofed addresses, addresses of trusted proxies, garbage) is ignored,
// however the entries are spelt and spread over header lines.
func TestClientBehindTrustedProxies(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i := range 3000 {
		real := g.untrusted()
		var spoofed []string
		for range g.r.IntN(5) {
			switch g.r.IntN(3) {
			case 0:
				spoofed = append(spoofed, g.spelling(g.trusted()))
			case 1:
				spoofed = append(spoofed, g.spelling(g.untrusted()))
			default:
				spoofed = append(spoofed, g.garbage())
			}
		}
		entries := append(spoofed, g.spelling(real))
		for range g.r.IntN(4) { // proxies between the client and the nearest one
			entries = append(entries, g.spelling(g.trusted()))
		}
		c := clientOf(request(peerString(g.trusted(), g.r), g.header(entries), "https"), testProxies)
		if c.Addr != real {
			t.Fatalf("case %d: X-Forwarded-For %q: client %s, want %s", i, entries, c.Addr, real)
		}
		if !c.HTTPS {
			t.Fatalf("case %d: a trusted proxy's X-Forwarded-Proto: https was not believed", i)
		}
	}
}

// When the chain is all trusted proxies, or an entry cannot be read, the
// client is the last trusted hop walked past: never an address further left,
// which nobody vouches for. Without the header the trusted peer is the client.
func TestClientWhenTheChainEndsEarly(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for i := range 2000 {
		peer := g.trusted()
		var entries []string
		if g.r.IntN(2) == 0 {
			entries = append(entries, g.spelling(g.untrusted()), g.garbage())
		}
		hops := []netip.Addr{peer}
		for range g.r.IntN(4) {
			a := g.trusted()
			hops = append(hops, a)
			entries = append(entries, g.spelling(a))
		}
		want := hops[min(1, len(hops)-1)] // the leftmost trusted entry, or the peer

		c := clientOf(request(peerString(peer, g.r), g.header(entries), ""), testProxies)
		if c.Addr != want || c.HTTPS {
			t.Fatalf("case %d: peer %s, X-Forwarded-For %q: client %+v, want %s over http", i, peer, entries, c, want)
		}
	}
}

// A header of many hops costs a bounded walk: past maxForwardedHops the last
// trusted hop is the client.
func TestClientManyHops(t *testing.T) {
	proxy := netip.MustParseAddr("10.8.0.1")
	entries := []string{"198.51.100.7"}
	for range 10000 {
		entries = append(entries, "10.8.0.2")
	}
	c := clientOf(request("10.8.0.1:4000", []string{strings.Join(entries, ",")}, ""), testProxies)
	if c.Addr != netip.MustParseAddr("10.8.0.2") {
		t.Fatalf("client %s, want the last trusted hop walked past", c.Addr)
	}
	short := clientOf(request(proxy.String()+":1", []string{"198.51.100.7, 10.8.0.2"}, ""), testProxies)
	if short.Addr != netip.MustParseAddr("198.51.100.7") {
		t.Fatalf("client %s", short.Addr)
	}
}

// Spellings of one client are one client, and IPv6 clients are counted by
// their /64.
func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, xff, key string }{
		{"192.0.2.1:5", "", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5", "", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:5", "", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:5", "", "fe80::/64"},
		{"10.8.0.1:5", "[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"},
		{"10.8.0.1:5", "::ffff:203.0.113.9", "203.0.113.9"},
		{"not an address", "", "unknown"},
	} {
		var xff []string
		if tc.xff != "" {
			xff = []string{tc.xff}
		}
		if got := clientOf(request(tc.remote, xff, ""), testProxies).key(); got != tc.key {
			t.Errorf("%s with %q: key %q, want %q", tc.remote, tc.xff, got, tc.key)
		}
	}
}

func ExampleServer_clientOf() {
	r := request("35.191.3.4:5555", []string{"6.6.6.6, 203.0.113.9, 130.211.0.8"}, "https")
	c := clientOf(r, testProxies)
	fmt.Println(c.Addr, c.HTTPS)
	// Output: 203.0.113.9 true
}
