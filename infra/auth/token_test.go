package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	testNow    = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

const (
	testTTL    = 15 * time.Minute
	testIssuer = "capstone-test"
)

func newTestTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens(testSecret, testTTL, testIssuer)
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tk
}

func TestNewTokensValidation(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		ttl     time.Duration
		issuer  string
		wantErr bool
	}{
		{"ok", testSecret, time.Minute, "iss", false},
		{"31-byte secret", testSecret[:31], time.Minute, "iss", true},
		{"nil secret", nil, time.Minute, "iss", true},
		{"zero ttl", testSecret, 0, "iss", true},
		{"negative ttl", testSecret, -time.Minute, "iss", true},
		{"empty issuer", testSecret, time.Minute, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTokens(tc.secret, tc.ttl, tc.issuer)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tk := newTestTokens(t)
	roles := []string{"student", "ta"}
	now := testNow.Add(123 * time.Millisecond)
	tok, exp, err := tk.Issue("user-42", roles, now)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if want := testNow.Add(testTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	roles[0] = "admin" // must not affect the issued token

	for _, at := range []time.Time{now, now.Add(testTTL - time.Second)} {
		c, err := tk.Verify(tok, at)
		if err != nil {
			t.Fatalf("Verify at %v: %v", at, err)
		}
		if c.UserID != "user-42" || !slices.Equal(c.Roles, []string{"student", "ta"}) || !c.ExpiresAt.Equal(exp) {
			t.Fatalf("claims = %+v", c)
		}
	}

	// The payload carries iss, sub, exp, iat and a random jti.
	payload := decodeSegment(t, strings.Split(tok, ".")[1])
	for _, k := range []string{"iss", "sub", "exp", "iat", "jti", "roles"} {
		if _, ok := payload[k]; !ok {
			t.Errorf("payload lacks %q: %v", k, payload)
		}
	}
	tok2, _, err := tk.Issue("user-42", []string{"student", "ta"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok || decodeSegment(t, strings.Split(tok2, ".")[1])["jti"] == payload["jti"] {
		t.Fatal("two tokens issued at the same instant share a jti")
	}

	// The secret is copied: mutating the caller's slice changes nothing.
	secret := slices.Clone(testSecret)
	tk2, err := NewTokens(secret, testTTL, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := tk2.Verify(tok, now); err != nil {
		t.Fatalf("Verify after mutating caller's secret: %v", err)
	}
}

func TestIssueNilRolesAndEmptyUser(t *testing.T) {
	tk := newTestTokens(t)
	tok, _, err := tk.Issue("u", nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Roles == nil || len(c.Roles) != 0 {
		t.Fatalf("roles = %#v, want empty non-nil", c.Roles)
	}
	if _, _, err := tk.Issue("", nil, testNow); err == nil {
		t.Fatal("Issue with empty user id succeeded")
	}
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("decode segment: %v", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal segment: %v", err)
	}
	return m
}

func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256 signs header.payload by hand, so tests can forge tokens the library
// would refuse to build.
func hs256(secret []byte, signingInput string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signingInput))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"sub":   "user-42",
		"roles": []string{"student"},
		"iat":   testNow.Unix(),
		"exp":   testNow.Add(testTTL).Unix(),
		"jti":   "abc",
	}
}

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	tk := newTestTokens(t)
	good, _, err := tk.Issue("user-42", []string{"student"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, err := NewTokens(testSecret, testTTL, "someone-else")
	if err != nil {
		t.Fatal(err)
	}
	wrongIss, _, err := otherIssuer.Issue("user-42", nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, err := NewTokens([]byte("ffffffffffffffffffffffffffffffff"), testTTL, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, _, err := otherSecret.Issue("user-42", nil, testNow)
	if err != nil {
		t.Fatal(err)
	}

	// Tampered payload: escalate roles, keep the original signature.
	tampered := validClaims()
	tampered["roles"] = []string{"admin"}
	tamperedTok := parts[0] + "." + encodeSegment(t, tampered) + "." + parts[2]

	// Algorithm confusion: RS256 header, HMAC-SHA256 signature with our secret.
	rsHeader := encodeSegment(t, map[string]string{"alg": "RS256", "typ": "JWT"})
	rsPayload := encodeSegment(t, validClaims())
	rsConfused := rsHeader + "." + rsPayload + "." + hs256(testSecret, rsHeader+"."+rsPayload)

	// Header "alg":"none" with an empty and with a valid HMAC signature.
	noneHeader := encodeSegment(t, map[string]string{"alg": "none", "typ": "JWT"})
	payload := encodeSegment(t, validClaims())
	noneHandMade := noneHeader + "." + payload + "."
	noneWithSig := noneHeader + "." + payload + "." + hs256(testSecret, noneHeader+"."+payload)

	// A well-signed HS256 token with missing or bad claims.
	withClaims := func(mut func(jwt.MapClaims)) string {
		c := validClaims()
		mut(c)
		return sign(t, jwt.SigningMethodHS256, c, testSecret)
	}

	tests := []struct {
		name  string
		token string
		at    time.Time
	}{
		{"expired", good, testNow.Add(testTTL + clockSkew)},
		{"expired long ago", good, testNow.Add(24 * time.Hour)},
		{"wrong secret", wrongSecret, testNow},
		{"wrong issuer", wrongIss, testNow},
		{"alg none (library)", sign(t, jwt.SigningMethodNone, validClaims(), jwt.UnsafeAllowNoneSignatureType), testNow},
		{"alg none (hand made)", noneHandMade, testNow},
		{"alg none with HMAC signature", noneWithSig, testNow},
		{"HS384 same secret", sign(t, jwt.SigningMethodHS384, validClaims(), testSecret), testNow},
		{"HS512 same secret", sign(t, jwt.SigningMethodHS512, validClaims(), testSecret), testNow},
		{"RS256 real", sign(t, jwt.SigningMethodRS256, validClaims(), rsaKey), testNow},
		{"RS256 header, HMAC signature", rsConfused, testNow},
		{"tampered payload", tamperedTok, testNow},
		{"tampered signature", parts[0] + "." + parts[1] + "." + hs256([]byte("x"), "y"), testNow},
		{"signature stripped", parts[0] + "." + parts[1] + ".", testNow},
		{"missing exp", withClaims(func(c jwt.MapClaims) { delete(c, "exp") }), testNow},
		{"missing iss", withClaims(func(c jwt.MapClaims) { delete(c, "iss") }), testNow},
		{"missing sub", withClaims(func(c jwt.MapClaims) { delete(c, "sub") }), testNow},
		{"exp as string", withClaims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), testNow},
		{"issued in the future", withClaims(func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Hour).Unix() }), testNow},
		{"empty", "", testNow},
		{"one segment", "abc", testNow},
		{"garbage segments", "a.b.c", testNow},
		{"four segments", good + ".x", testNow},
		{"padded signature", parts[0] + "." + parts[1] + "." + parts[2] + "=", testNow},
		{"non-canonical base64 signature (same bytes)", parts[0] + "." + parts[1] + "." + flipPaddingBit(parts[2]), testNow},
		{"oversized but validly signed", withClaims(func(c jwt.MapClaims) { c["roles"] = []string{strings.Repeat("r", maxTokenBytes)} }), testNow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tk.Verify(tc.token, tc.at)
			if err == nil {
				t.Fatalf("Verify accepted the token, claims %+v", c)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, does not wrap ErrInvalidToken", err)
			}
			if c.UserID != "" || c.Roles != nil {
				t.Fatalf("claims returned with error: %+v", c)
			}
		})
	}
}

// flipPaddingBit changes the last character of an unpadded base64url string
// encoding 32 bytes (43 characters, the last carrying 2 data bits and 4 zero
// bits) so that it decodes to the same bytes under lenient decoding. Only
// strict decoding rejects it; accepting it would make tokens malleable.
func flipPaddingBit(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[i^1])
}

// The control case for TestVerifyRejects: the same forging helpers, used
// correctly, produce a token that verifies, so the rejections above are due
// to the defect each case introduces and not to the helpers.
func TestVerifyAcceptsHandForgedValidToken(t *testing.T) {
	tk := newTestTokens(t)
	h := encodeSegment(t, map[string]string{"alg": "HS256", "typ": "JWT"})
	p := encodeSegment(t, validClaims())
	for name, tok := range map[string]string{
		"hand made": h + "." + p + "." + hs256(testSecret, h+"."+p),
		"library":   sign(t, jwt.SigningMethodHS256, validClaims(), testSecret),
	} {
		c, err := tk.Verify(tok, testNow)
		if err != nil {
			t.Fatalf("%s: Verify: %v", name, err)
		}
		if c.UserID != "user-42" || !slices.Equal(c.Roles, []string{"student"}) {
			t.Fatalf("%s: claims = %+v", name, c)
		}
	}
}

func TestVerifyExpiryBoundary(t *testing.T) {
	tk := newTestTokens(t)
	tok, exp, err := tk.Issue("u", nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(tok, exp.Add(clockSkew-time.Nanosecond)); err != nil {
		t.Fatalf("rejected within leeway: %v", err)
	}
	_, err = tk.Verify(tok, exp.Add(clockSkew))
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("err = %v, want ErrInvalidToken wrapping jwt.ErrTokenExpired", err)
	}
}

// TestVerifyRemembersOnlyWhatTimeCannotChange: a token verified once is
// accepted again without a parse, but only for the time it would have been
// accepted anyway; a caller changing the returned roles changes nothing.
func TestVerifyRemembersOnlyWhatTimeCannotChange(t *testing.T) {
	tk := newTestTokens(t)
	tok, exp, err := tk.Issue("u", []string{"student"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Verify(tok, testNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	c.Roles[0] = "coordinator"
	if c, err := tk.Verify(tok, testNow.Add(2*time.Minute)); err != nil || !slices.Equal(c.Roles, []string{"student"}) {
		t.Fatalf("again: %+v, %v; want the issued roles", c, err)
	}
	if _, err := tk.Verify(tok, testNow.Add(-time.Hour)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("before it was issued: %v, want ErrInvalidToken", err)
	}
	if _, err := tk.Verify(tok, exp.Add(time.Hour)); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("after expiry: %v, want jwt.ErrTokenExpired", err)
	}
	tampered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	if _, err := tk.Verify(tampered, testNow.Add(time.Minute)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("tampered signature: %v, want ErrInvalidToken", err)
	}
}

// TestTokenCarriesGenerationAndID: the generation and the jti come back
// from Verify, parsed and from the cache alike, so that a password change
// and a sign-out can end a token.
func TestTokenCarriesGenerationAndID(t *testing.T) {
	tk := newTestTokens(t)
	tok, _, err := tk.IssueGeneration("u", []string{"student"}, 3, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // parsed, then remembered
		c, err := tk.Verify(tok, testNow.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if c.Generation != 3 || len(c.ID) < 20 {
			t.Fatalf("verify %d: generation %d, id %q", i, c.Generation, c.ID)
		}
	}
	old, _, _ := tk.Issue("u", nil, testNow)
	if c, err := tk.Verify(old, testNow); err != nil || c.Generation != 0 {
		t.Fatalf("a token without a generation: %+v %v, want generation 0", c, err)
	}
}
