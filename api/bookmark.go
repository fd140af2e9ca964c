package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// A bookmark names what a write stored (per stream, the versions its
// commits took), and the versions its no-ops found, so that a later read, on any replica, can wait until the
// read models show it. It is signed: a read waits only for commits a write
// of this service really stored, and a client cannot probe other streams.
//
// The form is "1.<payload>.<mac>": payload is base64url JSON, a list of
// {"t": stream type, "s": stream id, "f": first version, "l": last version},
// and mac the first 16 bytes of its HMAC-SHA256, base64url.

// mark is one stream of a bookmark, as encoded.
type mark struct {
	Type   string `json:"t"`
	Stream string `json:"s"`
	First  int64  `json:"f"`
	Last   int64  `json:"l"`
}

// maxBookmarkStreams bounds what a bookmark names. A write that stored more
// streams (a CSV import) answers once the read models show it instead.
const maxBookmarkStreams = 32

// maxBookmarkLen bounds an `after` value before it is decoded.
const maxBookmarkLen = 8 << 10

var errBadBookmark = problem(400, "invalid-bookmark", "after must be a Capstone-Bookmark this service gave out")

// bookmarks signs and checks bookmarks with a key of the deployment's.
type bookmarks struct{ key []byte }

func (b bookmarks) mac(payload string) string {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// encode returns the bookmark of the positions; ok is false when there
// are none, or more streams than a bookmark names.
func (b bookmarks) encode(positions []queries.Position) (string, bool) {
	if len(positions) == 0 || len(positions) > maxBookmarkStreams {
		return "", false
	}
	marks := make([]mark, len(positions))
	for i, p := range positions {
		marks[i] = mark{Type: p.StreamType, Stream: p.StreamID, First: p.First, Last: p.Last}
	}
	raw, err := json.Marshal(marks)
	if err != nil {
		return "", false
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return "1." + payload + "." + b.mac(payload), true
}

// decode checks a bookmark's signature and returns what it names.
func (b bookmarks) decode(s string) ([]queries.Position, error) {
	parts := strings.Split(s, ".")
	if len(s) > maxBookmarkLen || len(parts) != 3 || parts[0] != "1" ||
		!hmac.Equal([]byte(b.mac(parts[1])), []byte(parts[2])) {
		return nil, errBadBookmark
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errBadBookmark
	}
	var marks []mark
	if err := json.Unmarshal(raw, &marks); err != nil {
		return nil, errBadBookmark
	}
	out := make([]queries.Position, len(marks))
	for i, m := range marks {
		out[i] = queries.Position{StreamType: m.Type, StreamID: m.Stream, First: m.First, Last: m.Last}
	}
	return out, nil
}

// positionsOf merges commits into one position per stream, in the order
// the streams were first written, followed by the streams seen (decided on
// without a write) that no commit names, each at the version it was
// decided on: a no-op's answer names the version it found, which another
// request may have just stored and the read models may not show yet.
func positionsOf(commits []events.Commit, seen []commands.Seen) []queries.Position {
	var out []queries.Position
	index := map[string]int{}
	for _, c := range commits {
		i, ok := index[c.StreamID]
		if !ok {
			index[c.StreamID] = len(out)
			out = append(out, queries.Position{StreamType: c.StreamType, StreamID: c.StreamID, First: c.FirstVersion, Last: c.LastVersion()})
			continue
		}
		out[i].First, out[i].Last = min(out[i].First, c.FirstVersion), max(out[i].Last, c.LastVersion())
	}
	for _, v := range seen {
		if _, ok := index[v.StreamID]; !ok {
			out = append(out, queries.Position{StreamType: v.StreamType, StreamID: v.StreamID, First: v.Version, Last: v.Version})
		}
	}
	return out
}
