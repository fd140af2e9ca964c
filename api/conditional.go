package api

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// conditional gives a read's answer an ETag and answers a request whose
// If-None-Match names it 304 Not Modified, with no body: a client that polls
// a list or an overview pays for the answer only when it has changed.
//
// A resource with a version (a user, a project) keeps its version as its
// ETag, the one If-Match takes. Any other answer (a list, an overview, an
// export) gets a strong tag of its bytes, so two answers share a tag only
// when they are byte for byte the same. Either way the answer is made in
// full first: the tag says what the caller would be sent now, never what
// it was sent before.
func conditional(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a actor) error {
		buf := bufferFor(w, nil)
		defer buf.release()
		if err := h(buf, r, a); err != nil {
			return err
		}
		if buf.status != http.StatusOK && buf.status != 0 {
			buf.flush(w)
			return nil
		}
		tag := w.Header().Get("ETag")
		if tag == "" {
			tag = contentTag(buf.body.Bytes())
			w.Header().Set("ETag", tag)
		}
		if noneMatch(r.Header.Values("If-None-Match"), tag) {
			w.Header().Del("Content-Type")
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		buf.flush(w)
		return nil
	}
}

// contentTag is a strong entity tag of an answer's bytes: 128 bits of
// their SHA-256, base64url, quoted.
func contentTag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// noneMatch reports whether If-None-Match (its values, each a list of tags
// or "*") names tag, comparing weakly as a GET's If-None-Match is compared:
// W/"x" matches "x".
func noneMatch(values []string, tag string) bool {
	want := strings.TrimPrefix(tag, "W/")
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == want {
				return true
			}
		}
	}
	return false
}
