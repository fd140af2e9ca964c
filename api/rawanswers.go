package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"

	"github.com/google/uuid"
)

// Go's HTTP server answers a request it cannot read itself, before any
// handler runs, and closes the connection: a path with a malformed
// %-escape (GET /v1/users/%zz), a malformed request line, header or Host,
// headers over the server's limit, a transfer encoding or an HTTP version it
// does not support. It writes that answer in plain text straight to the
// connection, and net/http has no hook for it (http.Server has no handler
// for requests it could not parse, and ErrorLog only sees its own errors).
//
// ProblemAnswers wraps the API's listener so that those answers are
// problems like every other answer: application/problem+json with a stable
// code, a fresh X-Request-Id, nosniff and no-store. It recognises them by
// their exact form: a status line, then exactly Go's two headers
// (Content-Type: text/plain and Connection: close) and the text, in one
// write. No answer of a handler has that form (the server adds Date to every
// one), and a form Go changes one day is passed on as it is, which the test
// of these answers reports.
func ProblemAnswers(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

type problemConn struct{ net.Conn }

// goPlainAnswer is the form of net/http's own answers (server.go, conn.serve).
var goPlainAnswer = regexp.MustCompile(`(?s)\AHTTP/1\.1 ([45][0-9][0-9]) [^\r\n]*\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n(.*)\z`)

func (c problemConn) Write(b []byte) (int, error) {
	if len(b) > 512 || !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return c.Conn.Write(b)
	}
	m := goPlainAnswer.FindSubmatch(b)
	if m == nil {
		return c.Conn.Write(b)
	}
	status, _ := strconv.Atoi(string(m[1]))
	if _, err := c.Conn.Write(plainAsProblem(status, string(m[2]))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// plainAsProblem is the answer that replaces Go's plain one: its status,
// with a code for each kind of request it refuses and its text as detail.
func plainAsProblem(status int, text string) []byte {
	code, detail := "malformed-request", "the request could not be read as HTTP: its request line (method, path or version: "+
		"a path with a malformed %-escape, say) or a header is malformed"
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code, detail = "headers-too-large", "the request's headers are larger than the server takes"
	case http.StatusNotImplemented:
		code, detail = "unsupported-transfer-encoding", "the request's Transfer-Encoding is not one the server takes (chunked)"
	case http.StatusHTTPVersionNotSupported:
		code, detail = errHTTPVersion.Code, errHTTPVersion.Detail
	default:
		if _, why, ok := bytes.Cut([]byte(text), []byte(": ")); ok && status == http.StatusBadRequest {
			detail = "the request could not be read as HTTP: " + string(why)
		}
	}
	body, _ := json.Marshal(problem(status, code, detail))
	body = append(body, '\n')
	id := uuid.Must(uuid.NewV7()).String()
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n"+
		"Content-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: %s\r\n\r\n%s",
		status, http.StatusText(status), len(body), id, body)
}

var errHTTPVersion = problem(http.StatusHTTPVersionNotSupported, "unsupported-http-version", "the server takes HTTP/1.0 and HTTP/1.1")

// httpVersions refuses HTTP/1.x requests after HTTP/1.1. Go's server
// refuses other major versions itself (answered as a problem above) but
// reads any HTTP/1 minor version as HTTP/1.1, while the server takes only
// 1.0 and 1.1: a later minor version would be served under rules it does
// not speak. The connection is closed after the answer, as Go closes it
// after its own refusals, since the request's body is left unread.
func httpVersions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && r.ProtoMinor > 1 {
			w.Header().Set("Connection", "close")
			writeError(w, r, errHTTPVersion)
			return
		}
		next.ServeHTTP(w, r)
	})
}
