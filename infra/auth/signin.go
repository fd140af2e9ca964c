package auth

import (
	"slices"
	"sync"
	"time"
)

// SignInPolicy sets the limits of a SignInThrottle.
type SignInPolicy struct {
	// Pair locks one client out of one account: PairFailures failures
	// within Window lock the pair for PairLockout, doubling up to
	// PairMaxLockout. Only the client guessing is shut out.
	PairFailures   int
	PairLockout    time.Duration
	PairMaxLockout time.Duration
	// AccountFailures failures on one account within Window, from any
	// clients, slow it down: clients that have not signed in to it before
	// get one attempt per AccountInterval between them.
	AccountFailures int
	AccountInterval time.Duration
	// ClientFailures failures from one client within Window, on any
	// accounts, slow it down: its attempts on accounts it has not signed in
	// to before get one per ClientInterval.
	ClientFailures int
	ClientInterval time.Duration
	Window         time.Duration
	// KnownFor is how long a successful sign-in makes the client known to
	// the account; KnownPerAccount bounds how many clients one account
	// remembers (the least recently seen is forgotten first).
	KnownFor        time.Duration
	KnownPerAccount int
}

// DefaultSignInPolicy is the service's policy (docs/security.md).
var DefaultSignInPolicy = SignInPolicy{
	PairFailures: 5, PairLockout: 30 * time.Second, PairMaxLockout: 15 * time.Minute,
	AccountFailures: 20, AccountInterval: 5 * time.Second,
	ClientFailures: 100, ClientInterval: time.Second,
	Window:   15 * time.Minute,
	KnownFor: 30 * 24 * time.Hour, KnownPerAccount: 8,
}

// SignInThrottle limits password guessing without letting a third party
// lock anybody out.
//
// The hard limit is per account and client: a client that keeps guessing at
// an account is locked out of that account, and nobody else is. Two soft
// limits bound what many clients (a botnet) can do against one account and
// what one client can do against many accounts (password spraying): past
// them attempts are delayed, not refused outright, and clients that signed
// in to the account before are exempt, so a third party cannot slow down the
// owner at an address they have used. A client is an address (or an IPv6
// /64): everybody behind one NAT shares the soft client limit, but each of
// them has their own pair with their own account.
//
// It is in-memory and per process, like Lockout. Every successful Begin must
// be followed by exactly one of Failed, Succeeded or Abandoned with the same
// account and client. It is safe for concurrent use.
type SignInThrottle struct {
	pair    *Lockout
	account *Slowdown
	client  *Slowdown
	known   *knownClients
}

// NewSignInThrottle returns a SignInThrottle with policy p.
func NewSignInThrottle(p SignInPolicy) *SignInThrottle {
	return &SignInThrottle{
		pair:    NewLockout(p.PairFailures, p.Window, p.PairLockout, p.PairMaxLockout),
		account: NewSlowdown(p.AccountFailures, p.Window, p.AccountInterval),
		client:  NewSlowdown(p.ClientFailures, p.Window, p.ClientInterval),
		known:   newKnownClients(p.KnownFor, p.KnownPerAccount),
	}
}

func pairKey(account, client string) string { return account + "\x00" + client }

// Begin counts an attempt of client on account before any password work, or
// refuses it with how long to wait. known says whether the client has signed
// in to the account before (a returning user, who may be served first).
func (t *SignInThrottle) Begin(account, client string, now time.Time) (ok bool, retryAfter time.Duration, known bool) {
	known = t.known.has(account, client, now)
	if ok, retryAfter = t.pair.Reserve(pairKey(account, client), now); !ok {
		return false, retryAfter, known
	}
	if ok, retryAfter = t.account.reserve(account, now, known); !ok {
		t.pair.Abandoned(pairKey(account, client), now)
		return false, retryAfter, known
	}
	if ok, retryAfter = t.client.reserve(client, now, known); !ok {
		t.pair.Abandoned(pairKey(account, client), now)
		t.account.Abandoned(account, now)
		return false, retryAfter, known
	}
	return true, 0, known
}

// Failed settles an attempt whose password was wrong.
func (t *SignInThrottle) Failed(account, client string, now time.Time) {
	t.pair.Failed(pairKey(account, client), now)
	t.account.Failed(account, now)
	t.client.Failed(client, now)
}

// Succeeded settles an attempt whose password was right: the pair is
// forgiven and the client becomes known to the account.
func (t *SignInThrottle) Succeeded(account, client string, now time.Time) {
	t.pair.Succeeded(pairKey(account, client), now)
	t.account.Succeeded(account, now)
	t.client.Succeeded(client, now)
	t.known.add(account, client, now)
}

// Abandoned settles an attempt that checked no password.
func (t *SignInThrottle) Abandoned(account, client string, now time.Time) {
	t.pair.Abandoned(pairKey(account, client), now)
	t.account.Abandoned(account, now)
	t.client.Abandoned(client, now)
}

// knownClients remembers, per account, the clients that signed in to it.
type knownClients struct {
	ttl        time.Duration
	perAccount int

	mu   sync.Mutex
	keys keyed[[]seenClient]
}

type seenClient struct {
	client string
	at     time.Time
}

func newKnownClients(ttl time.Duration, perAccount int) *knownClients {
	k := &knownClients{ttl: ttl, perAccount: max(1, perAccount)}
	k.keys = newKeyed(func(cs *[]seenClient, now time.Time) bool {
		return !slices.ContainsFunc(*cs, func(c seenClient) bool { return now.Sub(c.at) < ttl })
	})
	return k
}

func (k *knownClients) has(account, client string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs := k.keys.get(account, now)
	return cs != nil && slices.ContainsFunc(*cs, func(c seenClient) bool { return c.client == client && now.Sub(c.at) < k.ttl })
}

func (k *knownClients) add(account, client string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cs := k.keys.entry(account, now)
	*cs = slices.DeleteFunc(*cs, func(c seenClient) bool { return c.client == client || now.Sub(c.at) >= k.ttl })
	if len(*cs) >= k.perAccount {
		*cs = (*cs)[1:] // the least recently seen
	}
	*cs = append(*cs, seenClient{client: client, at: now})
}
