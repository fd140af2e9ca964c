package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// uiOrigin is where the original frontend's pages come from in these tests
// (its dev server's address): another origin than the routes', as in a
// browser.
const uiOrigin = "http://localhost:8081"

// legacyClient calls the original frontend's routes as the frontend does
// (axios in a browser): JSON bodies, a bearer token, an Origin header. Every
// answer, an error included, must carry the CORS header the browser needs,
// or the page would see a bare network error: do checks it on each one.
type legacyClient struct {
	t      testing.TB
	base   string
	origin string
}

// startLegacy starts the service with the original routes on a listener of
// their own (and the further serve flags given).
func startLegacy(t testing.TB, flags ...string) (*service, legacyClient) {
	t.Helper()
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, append([]string{"--legacy-addr", "127.0.0.1:0"}, flags...)...)
	return s, legacyFor(t, s)
}

// legacyFor is a client of the original routes of a running service.
func legacyFor(t testing.TB, s *service) legacyClient {
	t.Helper()
	if s.app.LegacyAddr() == "" {
		t.Fatal("the service does not serve the original routes")
	}
	return legacyClient{t: t, base: "http://" + s.app.LegacyAddr(), origin: uiOrigin}
}

// lresp is an answer of the original routes: an object, an array or text.
type lresp struct {
	Status int
	Header http.Header
	Raw    string
}

func (r lresp) obj() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(r.Raw), &m)
	return m
}

func (r lresp) arr() []map[string]any {
	var a []map[string]any
	_ = json.Unmarshal([]byte(r.Raw), &a)
	return a
}

func (r lresp) str(key string) string {
	v, _ := r.obj()[key].(string)
	return v
}

func (c legacyClient) do(method, path, token string, body any, headers ...string) lresp {
	c.t.Helper()
	headers = append([]string{"Accept", "application/json, text/plain, */*"}, headers...)
	if c.origin != "" {
		headers = append(headers, "Origin", c.origin)
	}
	req, err := (&service{base: c.base}).request(method, path, token, body, headers...)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(req)
}

func (c legacyClient) send(req *http.Request) lresp {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := lresp{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if req.Header.Get("Origin") != "" && c.origin == uiOrigin && resp.Header.Get("Access-Control-Allow-Origin") == "" {
		c.t.Errorf("%s %s answered %d without Access-Control-Allow-Origin: the browser would show a network error", req.Method, req.URL.Path, resp.StatusCode)
	}
	return out
}

// upload sends a CSV file as the Admin page does: multipart, one part
// named "file" with the file's own name.
func (c legacyClient) upload(token, path, file string, csv []byte) lresp {
	c.t.Helper()
	rd, ctype := multipartFile(file, csv)
	return c.do("POST", path, token, rd, "Content-Type", ctype)
}

// expect fails the test unless the answer has the status.
func (c legacyClient) expect(r lresp, status int) lresp {
	c.t.Helper()
	if r.Status != status {
		c.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// signIn signs in through the original route and returns the token and
// the stored user, as the frontend keeps it.
func (c legacyClient) signIn(email, password string) (string, map[string]any) {
	c.t.Helper()
	r := c.expect(c.do("POST", "/sign-in", "", map[string]string{"email": email, "password": password}), 200)
	body := r.obj()
	tok, _ := body["token"].(string)
	if tok == "" {
		c.t.Fatalf("sign-in answered no token: %s", r.Raw)
	}
	return tok, body
}
