package api

import (
	"encoding/base64"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
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

func historyJSON(evs []events.Envelope) map[string]any {
	out := make([]historyEntry, len(evs))
	for i, e := range evs {
		out[i] = historyEntry{Type: e.Type, Version: e.Version, At: e.RecordedAt.UTC(), Actor: e.Actor,
			CorrelationID: e.CorrelationID, Data: e.Data}
	}
	return map[string]any{"items": out}
}

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
	if err != nil || len(b) > 200 || !utf8.Valid(b) {
		return "", commands.Invalid(commands.FieldError{Field: "cursor", Message: "is not a cursor this API gave out"})
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
