package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// TokenClaims is what a verified bearer token says.
type TokenClaims struct {
	UserID string
	Roles  []string
	// ID is the token's own id, by which sign-out ends it.
	ID string
	// Generation is the user's token generation when it was issued.
	Generation int64
	ExpiresAt  time.Time
}

// Tokens issues and verifies the bearer tokens.
type Tokens interface {
	Issue(userID string, roles []string, generation int64, now time.Time) (token string, expiresAt time.Time, err error)
	Verify(token string, now time.Time) (TokenClaims, error)
}

// caller is an authenticated request's actor and the token it came with.
type caller struct {
	events.Actor
	token TokenClaims
}

// authenticate checks the token's signature, algorithm and expiry, then the
// user it names: a deleted user's token stops working, roles come from the
// user, not the token, and a token that a password change, a reset, the
// loss of a role or a sign-out ended is refused. What the user is comes from
// the principal cache: at once on the replica that made the change (it
// forgets the user), within the cache's lifetime on the others.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	// Authorization holds one credential: a request with two names two
	// callers, and a proxy in front that judged one of them need not have
	// judged the one taken here, so it is refused rather than read first.
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return caller{}, errUnauthenticated
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return caller{}, errUnauthenticated
	}
	claims, err := s.Tokens.Verify(strings.TrimSpace(token), s.Now())
	if err != nil {
		return caller{}, errUnauthenticated
	}
	id := claims.UserID
	p, err := s.principals.get(r.Context(), id, func(ctx context.Context) (principal, error) {
		session, err := s.Users.Session(ctx, id)
		if err != nil {
			return principal{}, err
		}
		doc, found, err := s.UserQ.Lookup(ctx, id)
		switch {
		case err != nil:
			return principal{}, err
		case !found:
			// Created a moment ago and not yet projected: trust the token's roles.
			return principal{actor: events.Actor{UserID: id, Roles: claims.Roles}, session: session, fromToken: true}, nil
		case doc.Status != projections.UserActive:
			return principal{}, nil
		}
		return principal{actor: events.Actor{UserID: id, Roles: doc.Roles}, session: session}, nil
	})
	if err != nil {
		return caller{}, err
	}
	if p.actor.UserID == "" || !p.session.Accepts(claims.Generation, claims.ID) {
		return caller{}, errUnauthenticated
	}
	actor := p.actor
	if p.fromToken {
		actor.Roles = claims.Roles
	}
	return caller{Actor: actor, token: claims}, nil
}

// tokenFrom returns the claims of the request's bearer token (inside authed).
func tokenFrom(r *http.Request) TokenClaims {
	c, _ := r.Context().Value(keyToken).(TokenClaims)
	return c
}

// principal is what the principal cache keeps of a user: who they are (an
// empty actor for a deleted user) and what ends their tokens.
type principal struct {
	actor   events.Actor
	session user.Session
	// fromToken: the user is not projected yet; the token's roles stand.
	fromToken bool
}

// principalCache remembers recently authenticated users for a moment, so a
// burst of requests costs one read-model lookup and one session lookup.
type principalCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]principalEntry
	// forgets counts forget calls, so a load that started before one does
	// not store what it read over the change.
	forgets uint64
}

type principalEntry struct {
	p       principal
	expires time.Time
}

const principalCacheMax = 10000

func newPrincipalCache(ttl time.Duration) *principalCache {
	return &principalCache{ttl: ttl, m: make(map[string]principalEntry)}
}

func (c *principalCache) get(ctx context.Context, id string, load func(context.Context) (principal, error)) (principal, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	forgets := c.forgets
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := load(ctx)
	if err != nil {
		return principal{}, err
	}
	c.mu.Lock()
	if c.forgets == forgets {
		if len(c.m) >= principalCacheMax {
			clear(c.m)
		}
		c.m[id] = principalEntry{p: p, expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return p, nil
}

// forget drops what the cache knows of a user whose tokens, roles or
// existence just changed, so this replica sees the change at once.
func (s *Server) forget(userID string) {
	s.principals.mu.Lock()
	delete(s.principals.m, userID)
	s.principals.forgets++
	s.principals.mu.Unlock()
}
