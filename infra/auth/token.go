package auth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// ErrInvalidToken is the single error callers need to recognise from Verify:
// every rejection (bad signature, wrong algorithm, expired, wrong issuer,
// malformed, ...) wraps it, so an HTTP layer maps errors.Is(err,
// ErrInvalidToken) to 401 without learning the JWT library's error zoo. The
// wrapped reason is kept for logs and should not be sent to clients.
var ErrInvalidToken = errors.New("invalid token")

// MinSecretBytes is the smallest HS256 secret NewTokens accepts: 256 bits,
// the size of the HMAC-SHA256 output, below which the key rather than the
// hash becomes the weakest link (RFC 7518 section 3.2).
const MinSecretBytes = 32

const (
	// clockSkew is the leeway applied to exp and iat, so a token issued by
	// one replica is not rejected by another whose clock is a little behind.
	clockSkew = 5 * time.Second
	// maxTokenBytes bounds the work done on attacker-supplied input before
	// the signature has been checked.
	maxTokenBytes = 8 << 10
	// algorithm is the only accepted "alg". Pinning it defeats "none" and
	// algorithm-confusion attacks (e.g. an RS256 header with an HMAC
	// signature made with a public key).
	algorithm = "HS256"
)

// Claims is what a verified access token says about its bearer. It is the
// only token-derived data handlers should trust.
type Claims struct {
	// UserID identifies the authenticated user (the JWT "sub").
	UserID string
	// Roles are the user's roles at issue time; they are baked into the token,
	// so role changes take effect when the token is next issued.
	Roles []string
	// ExpiresAt is when the token stops being accepted (the JWT "exp"),
	// truncated to whole seconds as JWT timestamps are.
	ExpiresAt time.Time
	// ID is the token's own id (the JWT "jti"), by which one token can be
	// ended (sign-out) before it expires.
	ID string
	// Generation is the user's token generation when the token was issued:
	// a password change ends every token of an earlier generation.
	Generation int64
}

// tokenClaims is the wire format of the token payload.
type tokenClaims struct {
	Roles      []string `json:"roles"`
	Generation int64    `json:"gen,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies HS256-signed JWT access tokens. Stateless tokens
// let every replica authenticate a request with nothing but the shared secret;
// the price is that a token stays valid until it expires, hence a short TTL.
// A Tokens is immutable and safe for concurrent use.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	issuer string
	// verified remembers tokens that passed Verify, so that a client's
	// next request costs a map lookup, not a parse and an HMAC.
	verified *lru.Cache[string, verifiedToken]
}

type verifiedToken struct {
	claims Claims
	at     time.Time // when it was verified
}

// verifiedCacheSize bounds the remembered tokens: the signed-in users of a
// busy hour, about a MiB.
const verifiedCacheSize = 4096

// NewTokens returns a Tokens that signs with secret, issues tokens valid for
// ttl and stamps/expects issuer as the "iss" claim. The secret must be at
// least MinSecretBytes long (use LoadOrCreateSecretFile); it is copied, so
// later changes to the caller's slice have no effect.
func NewTokens(secret []byte, ttl time.Duration, issuer string) (*Tokens, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: token secret is %d bytes, need at least %d", len(secret), MinSecretBytes)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("auth: token ttl must be positive, got %v", ttl)
	}
	if issuer == "" {
		// jwt.WithIssuer("") would silently disable the issuer check.
		return nil, errors.New("auth: token issuer must not be empty")
	}
	verified, _ := lru.New[string, verifiedToken](verifiedCacheSize)
	return &Tokens{secret: slices.Clone(secret), ttl: ttl, issuer: issuer, verified: verified}, nil
}

// Issue signs a token for userID with roles, valid from now for the
// configured TTL. It returns the token and its expiry (whole seconds, exactly
// as encoded in the token) so the caller can tell the client. Each token
// carries a random "jti" (so two tokens are never identical and can be told
// apart in logs or ended by itself) and an "iat".
func (t *Tokens) Issue(userID string, roles []string, now time.Time) (token string, expiresAt time.Time, err error) {
	return t.IssueGeneration(userID, roles, 0, now)
}

// IssueGeneration is Issue for a user whose tokens are of generation gen.
func (t *Tokens) IssueGeneration(userID string, roles []string, gen int64, now time.Time) (token string, expiresAt time.Time, err error) {
	if userID == "" {
		return "", time.Time{}, errors.New("auth: cannot issue a token without a user id")
	}
	if roles == nil {
		roles = []string{}
	}
	exp := jwt.NewNumericDate(now.Add(t.ttl))
	c := tokenClaims{
		Roles:      slices.Clone(roles),
		Generation: gen,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   userID,
			ExpiresAt: exp,
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp.Time, nil
}

// Verify checks token as of now and returns its claims. It accepts only
// HS256 tokens signed with this secret, from this issuer, carrying an "exp"
// that has not passed and an "iat" not in the future (both with a few seconds
// of leeway for clock skew between replicas), and a non-empty subject.
// Every failure wraps ErrInvalidToken.
func (t *Tokens) Verify(token string, now time.Time) (Claims, error) {
	// A token verified before stays valid until it expires: only time can
	// change the answer (the secret and issuer are fixed for t's life).
	if v, ok := t.verified.Get(token); ok && !now.Before(v.at) && now.Before(v.claims.ExpiresAt.Add(clockSkew)) {
		c := v.claims
		c.Roles = slices.Clone(c.Roles)
		return c, nil
	}
	c, err := t.verify(token, now)
	if err == nil {
		v := c
		v.Roles = slices.Clone(c.Roles)
		t.verified.Add(token, verifiedToken{claims: v, at: now})
	}
	return c, err
}

func (t *Tokens) verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenBytes {
		return Claims{}, fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{algorithm}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(t.issuer),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var c tokenClaims
	_, err := p.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		// Belt and braces on top of WithValidMethods: never hand the HMAC
		// secret to anything but HS256.
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
		}
		return t.secret, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return Claims{}, fmt.Errorf("%w: token has no subject", ErrInvalidToken)
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	return Claims{UserID: c.Subject, Roles: roles, ExpiresAt: c.ExpiresAt.Time, ID: c.ID, Generation: c.Generation}, nil
}
