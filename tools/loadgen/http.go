package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds how much of a response is read.
const maxBody = 8 << 20

// apiClient sends JSON requests to the service.
type apiClient struct {
	base string
	hc   *http.Client
}

// reply is one response: its status, its problem code (for errors) and body.
type reply struct {
	status int
	code   string
	body   []byte
	lat    time.Duration // from sending the request to having read the body
	// retryAfter is the Retry-After header of a refusal to retry later.
	retryAfter string
}

// do sends one request and reads the whole response. body, if not nil, is
// sent as JSON; ifMatch, if >= 0, as If-Match. An error means no response
// (transport failure or ctx done); a status of 4xx/5xx is not an error here.
func (c *apiClient) do(ctx context.Context, method, path, token string, body any, ifMatch int64) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "capstone-bench/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ifMatch >= 0 {
		req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, ifMatch))
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{lat: time.Since(start)}, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	r := reply{status: resp.StatusCode, body: raw, lat: time.Since(start), retryAfter: resp.Header.Get("Retry-After")}
	if err != nil {
		return r, err
	}
	if r.status >= 400 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(raw, &p) == nil {
			r.code = p.Code
		}
	}
	return r, nil
}

// call is do for the setup phase: anything but want is an error, but for
// the service's refusals to retry later (503 and 429: sign-ins throttled
// while many passwords are checked, connections over the limit), which
// are sent again after the Retry-After they give, for up to setupPatience.
func (c *apiClient) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	giveUp := time.Now().Add(setupPatience)
	var r reply
	var err error
	for {
		var after time.Duration
		r, after, err = c.doRetryable(ctx, method, path, token, body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if after == 0 || r.status == want || time.Now().Add(after).After(giveUp) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		case <-time.After(after):
		}
	}
	if r.status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, r.status, want, snippet(r.body))
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// setupPatience bounds how long a setup request is retried while the
// service asks to retry later.
const setupPatience = 30 * time.Second

// doRetryable is do, and how long to wait before sending the request again
// when the service refused it for now (0: it did not).
func (c *apiClient) doRetryable(ctx context.Context, method, path, token string, body any) (reply, time.Duration, error) {
	r, err := c.do(ctx, method, path, token, body, -1)
	if err != nil || (r.status != http.StatusServiceUnavailable && r.status != http.StatusTooManyRequests) {
		return r, 0, err
	}
	after := time.Second
	if secs, perr := strconv.Atoi(r.retryAfter); perr == nil && secs > 0 {
		after = time.Duration(secs) * time.Second
	}
	return r, after, nil
}

// snippet is the start of a body, for error messages.
func snippet(b []byte) string {
	const n = 300
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// written is what the write answers carry that the generator needs.
type written struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

// newHTTPClient is a client whose connection pool fits the clients, so that
// no request waits for, or re-dials, a connection.
func newHTTPClient(clients int, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2*clients + 16
	t.MaxIdleConnsPerHost = 2*clients + 16
	return &http.Client{Transport: t, Timeout: timeout}
}
