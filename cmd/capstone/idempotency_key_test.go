package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestIdempotencyKeyShape: an Idempotency-Key header that is present is a
// key, over the whole range of header values a client can send: one of 1 to
// 64 characters of A-Z a-z 0-9 . _ - creates the user, and any other (empty,
// only spaces, too long, another character, or the header given twice) is
// 400 invalid-idempotency-key and stores nothing, so the same body sent
// afterwards without a key still creates the user. An empty key used to be
// taken for no key at all, so a client's retries of it each created a user.
func TestIdempotencyKeyShape(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := seeded(t, 32)
	valid := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	used := map[string]bool{}
	for i := range 60 {
		values := randomKeyHeader(rng)
		// HTTP does not count the spaces and tabs around a field's value
		// as part of it (RFC 9110 section 5.5).
		ok := len(values) == 1 && valid.MatchString(strings.Trim(values[0], " \t"))
		if ok && used[strings.Trim(values[0], " \t")] {
			continue
		}
		body := fmt.Sprintf(`{"email":"key%d@uni.example","name":"Key %d","roles":["examiner"]}`, i, i)
		req, err := s.request("POST", "/v1/users", admin, body)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			req.Header.Add("Idempotency-Key", v)
		}
		resp, err := s.httpClient().Do(req)
		if err != nil {
			t.Fatalf("key %q: %v", values, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ok {
			used[strings.Trim(values[0], " \t")] = true
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("key %q: status %d, want 201", values, resp.StatusCode)
			}
			continue
		}
		var problem struct{ Code string }
		_ = json.Unmarshal(raw, &problem)
		if resp.StatusCode != http.StatusBadRequest || problem.Code != "invalid-idempotency-key" ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("key %q: %d %s %s, want 400 invalid-idempotency-key", values, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
		s.expect(s.do("POST", "/v1/users", admin, body), 201)
	}
}

// randomKeyHeader is the values of one request's Idempotency-Key header:
// empty, blank, of the key's alphabet at every length around its bounds,
// of any byte a header value may hold, a good key with one other byte in it,
// or the header twice.
func randomKeyHeader(rng *rand.Rand) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
	of := func(chars string, n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(chars[rng.IntN(len(chars))])
		}
		return b.String()
	}
	var headerBytes strings.Builder // what a header value may hold: HTAB, visible ASCII, obs-text
	headerBytes.WriteByte('\t')
	for c := 0x20; c <= 0xff; c++ {
		if c != 0x7f {
			headerBytes.WriteByte(byte(c))
		}
	}
	switch rng.IntN(7) {
	case 0:
		return []string{""}
	case 1:
		return []string{of(" \t", 1+rng.IntN(5))}
	case 2:
		return []string{of(alphabet, 1+rng.IntN(64))}
	case 3:
		return []string{of(alphabet, 60+rng.IntN(10))}
	case 4:
		return []string{of(headerBytes.String(), rng.IntN(80))}
	case 5:
		k := []byte(of(alphabet, 1+rng.IntN(64)))
		k[rng.IntN(len(k))] = headerBytes.String()[rng.IntN(headerBytes.Len())]
		return []string{string(k)}
	default:
		return []string{of(alphabet, 1+rng.IntN(64)), of(alphabet, 1+rng.IntN(64))}
	}
}
