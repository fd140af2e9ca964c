package api

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// historyEntry is one event in a history response.
type historyEntry struct {
	Type          string       `json:"type"`
	Version       int64        `json:"version"`
	At            time.Time    `json:"at"`
	Actor         events.Actor `json:"actor"`
	CorrelationID string       `json:"correlation_id,omitempty"`
	Data          events.Data  `json:"data"`
}

// historyPage answers one page of a stream's events, as every list pages.
func historyPage(r *http.Request, evs []events.Envelope) (listJSON[historyEntry], error) {
	limit, cursor, err := listParams(r)
	if err != nil {
		return listJSON[historyEntry]{}, err
	}
	page, err := queries.PageHistory(evs, cursor, limit)
	if err != nil {
		return listJSON[historyEntry]{}, errNotACursor
	}
	out := listJSON[historyEntry]{Items: make([]historyEntry, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, e := range page.Items {
		out.Items[i] = historyEntry{Type: e.Type, Version: e.Version, At: e.RecordedAt.UTC(), Actor: e.Actor,
			CorrelationID: e.CorrelationID, Data: e.Data}
	}
	return out, nil
}

// listParams reads a paged list's ?limit= (the page size; the list's
// default when absent, its maximum when larger) and ?cursor=.
func listParams(r *http.Request) (limit int, cursor string, err error) {
	limit, err = queryLimit(r)
	if err != nil {
		return 0, "", err
	}
	cursor, err = decodeCursor(r.URL.Query().Get("cursor"))
	return limit, cursor, err
}

// queryLimit reads ?limit=, capped at the lists' maximum: a page size too
// large to read as an integer is past the maximum too, so it is the
// maximum, as any other above it is, not a refusal.
func queryLimit(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit")
	if err != nil {
		if digitsOnly(r.URL.Query().Get("limit")) {
			return queries.MaxLimit, nil
		}
		return 0, err
	}
	return int(min(n, queries.MaxLimit)), nil
}

// notPaged refuses ?limit= and ?cursor= on a route whose answer is whole,
// rather than ignoring them as if the answer were a page.
func notPaged(r *http.Request, what string) error {
	q := r.URL.Query()
	for _, name := range []string{"limit", "cursor"} {
		if q.Has(name) {
			return commands.Invalid(commands.FieldError{Field: name, Message: "does not apply: " + what + " is answered whole, not in pages"})
		}
	}
	return nil
}

var errNotACursor = commands.Invalid(commands.FieldError{Field: "cursor", Message: "is not a cursor this API gave out"})

// Cursors are opaque to clients: the last id of a page, base64url-encoded.
func encodeCursor(id string) string {
	if id == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 200 || !utf8.Valid(b) || strings.ContainsFunc(string(b), unicode.IsControl) {
		// The ids a cursor names hold no control characters ("AAAA" is
		// three NULs, read as a position before every id).
		return "", errNotACursor
	}
	return string(b), nil
}

// trimmed trims a query parameter and caps its length.
func trimmed(s string, max int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
