package api

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFailureLogsOnlyTheServersFaults: a 5xx the server fails with is
// logged at ERROR as "request failed"; a 505 refusing a client's HTTP/1.2
// request line is the client's fault and logs nothing (any client could
// fill the log's errors with it).
func TestFailureLogsOnlyTheServersFaults(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		status int
		logged bool
	}{
		{"the store failing", errors.New("store unreachable"), http.StatusInternalServerError, true},
		{"an HTTP/1.2 request line", errHTTPVersion, http.StatusHTTPVersionNotSupported, false},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		p := FailureOf(log, httptest.NewRequest(http.MethodGet, "/v1/users", nil), c.err)
		if p.Status != c.status || strings.Contains(buf.String(), "request failed") != c.logged {
			t.Errorf("%s: status %d, log %q; want %d, logged %v", c.name, p.Status, buf.String(), c.status, c.logged)
		}
	}
}
