package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// IdempotentRecord is what is kept per idempotency key.
type IdempotentRecord struct {
	RequestHash string
	// StreamID is the id the request's create gives its stream, fixed when
	// the key is first bound: every attempt of the request (racing, or
	// retried after a crash at any step) creates that one stream, so the
	// store's uniqueness of its first commit decides the key's outcome.
	StreamID  string
	Done      bool
	Status    int
	Header    map[string]string
	Body      []byte
	StartedAt time.Time
}

// IdempotencyStore keeps, per key, the request it is bound to and, once
// known, its final response.
type IdempotencyStore interface {
	// Begin binds key to rec unless it is bound already; it returns the
	// binding that holds (fresh: this call made it).
	Begin(ctx context.Context, key string, rec IdempotentRecord) (held IdempotentRecord, fresh bool, err error)
	// Finish records the final response of the request bound to key.
	Finish(ctx context.Context, key string, rec IdempotentRecord) error
}

// IdempotencyTTL is how long a key is remembered: far longer than any
// client retries a request, so a retry always finds its key.
const IdempotencyTTL = 24 * time.Hour

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", HeaderBookmark}

// HeaderReplayed marks an answer to a repeat of a keyed request: the first
// attempt's outcome, whether from the recorded response or, when that
// attempt died before recording it, from the stream it created.
const HeaderReplayed = "Idempotent-Replayed"

// markReplayed marks an answer a create gave from an earlier attempt's
// stream (commands.Created).
func markReplayed(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set(HeaderReplayed, "true")
	}
}

type newIDKey struct{}

// newID is the stream id an idempotency key bound the request to ("" when
// the request has no key).
func newID(ctx context.Context) string {
	id, _ := ctx.Value(newIDKey{}).(string)
	return id
}

// bodyHashes are what binds a key to a request body: the hash of its JSON in
// canonical form (RFC 8785: members sorted, no spaces, one spelling of each
// string and number), so that a client resending the same object with its
// members in another order or spaced otherwise sends the same request; and
// the hash of its bytes, which keys bound before canonical hashing (and
// bodies that are not JSON, which the handler refuses) are bound to.
func bodyHashes(body []byte) (canonical, raw string) {
	sum := sha256.Sum256(body)
	raw = hex.EncodeToString(sum[:])
	v := jsontext.Value(slices.Clone(body))
	if err := v.Canonicalize(); err != nil {
		return raw, raw
	}
	sum = sha256.Sum256(v)
	return hex.EncodeToString(sum[:]), raw
}

// idempotent makes a create with an Idempotency-Key header happen at most
// once and answer every repeat as the first. Keys are scoped to the caller
// and the route; the same key with another body is refused.
//
// The key is bound first to the request's body and to the id the create
// will give its stream; the handler creates that stream (meta's NewID), so
// however often the request is repeated, whichever attempt appends the
// stream's first commit is the one creation, and the others (racing it, or
// retried after a crash before the response was recorded) find the stream
// and answer its creation. Nothing waits on an attempt that died. Only
// create handlers, which read NewID, may be wrapped.
func (s *Server) idempotent(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a actor) error {
		key, given, err := idempotencyKey(r.Header)
		if err != nil {
			return err
		}
		if !given || s.Idempotency == nil {
			return h(w, r, a)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
		if err != nil {
			return jsonProblem(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256([]byte(a.UserID + "\x00" + r.Method + " " + r.URL.Path + "\x00" + key))
		id := hex.EncodeToString(sum[:])
		hash, rawHash := bodyHashes(body)

		now := s.Now()
		rec, _, err := s.Idempotency.Begin(r.Context(), id,
			IdempotentRecord{RequestHash: hash, StreamID: uuid.Must(uuid.NewV7()).String(), StartedAt: now.UTC()})
		if err != nil {
			return err
		}
		switch {
		case rec.RequestHash != hash && rec.RequestHash != rawHash:
			return problem(http.StatusUnprocessableEntity, "idempotency-key-reused", "this Idempotency-Key was used for a different request")
		case rec.Done:
			for k, v := range rec.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set(HeaderReplayed, "true")
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
			return nil
		}

		r = r.WithContext(context.WithValue(r.Context(), newIDKey{}, rec.StreamID))
		rw := &recorder{statusWriter: statusWriter{ResponseWriter: w, status: http.StatusOK}}
		herr := h(rw, r, a)
		if herr != nil {
			writeError(rw, r, herr)
		}
		// Only outcomes that are final are kept: after a server error, or
		// a failure that came of the client going away (499, which no one
		// saw, and which its retry must not be answered), the key stays
		// bound to the same stream id, and a retry completes it.
		if rw.status >= 500 || rw.status == StatusClientClosedRequest {
			return nil
		}
		rec.Done, rec.Status, rec.Body, rec.Header = true, rw.status, rw.body.Bytes(), map[string]string{}
		for _, name := range replayedHeaders {
			if v := rw.Header().Get(name); v != "" {
				rec.Header[name] = v
			}
		}
		if b := s.bookmarkOf(r); b != "" {
			rec.Header[HeaderBookmark] = b // what settleWrites, outside, gives the answer
		}
		ctx := context.WithoutCancel(r.Context())
		if err := s.Idempotency.Finish(ctx, id, rec); err != nil {
			// The response stands; a repeat runs the request again, which
			// finds the stream it created and answers the same.
			s.Log.WarnContext(ctx, "record idempotent response", "err", err)
		}
		return nil
	}
}

// idempotencyKey is the request's Idempotency-Key, and whether it has one.
// A header that is present is a key, so one that is empty (or only spaces,
// which HTTP trims), too long, of other characters, or given more than once
// is refused rather than taken for no key: the client meant its request to
// be repeatable, and running it unkeyed would let a retry create it twice.
func idempotencyKey(h http.Header) (key string, given bool, err error) {
	values := h.Values("Idempotency-Key")
	if len(values) == 0 {
		return "", false, nil
	}
	if len(values) > 1 || !requestIDPattern.MatchString(values[0]) {
		return "", true, problem(http.StatusBadRequest, "invalid-idempotency-key", "Idempotency-Key must be given once, as 1 to 64 characters of A-Z a-z 0-9 . _ -")
	}
	return values[0], true, nil
}

// recorder passes a response through while keeping its status and a copy
// of its body.
type recorder struct {
	statusWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
