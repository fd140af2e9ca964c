package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"
)

// IdempotentRecord is what is kept per idempotency key.
type IdempotentRecord struct {
	RequestHash string
	Done        bool
	Status      int
	Header      map[string]string
	Body        []byte
	StartedAt   time.Time
}

// IdempotencyStore keeps the first response per key.
type IdempotencyStore interface {
	// Begin claims key; fresh is false when a record exists (rec is that record).
	Begin(ctx context.Context, key, requestHash string, now time.Time) (rec IdempotentRecord, fresh bool, err error)
	Finish(ctx context.Context, key string, rec IdempotentRecord) error
	Abort(ctx context.Context, key string) error
}

// idempotencyAbandoned is how long a claimed key may stay unfinished before a
// retry may run the request again (the process that claimed it died): longer
// than any request may take (the server's write timeout is a minute).
const idempotencyAbandoned = 2 * time.Minute

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotent makes a POST with an Idempotency-Key header answer a repeat with
// the first response and store nothing new. Keys are scoped to the caller and
// the route; the same key with another body is refused.
func (s *Server) idempotent(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a actor) error {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || s.Idempotency == nil {
			return h(w, r, a)
		}
		if !requestIDPattern.MatchString(key) {
			return problem(http.StatusBadRequest, "invalid-idempotency-key", "Idempotency-Key must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
		if err != nil {
			return jsonProblem(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256([]byte(a.UserID + "\x00" + r.Method + " " + r.URL.Path + "\x00" + key))
		id := hex.EncodeToString(sum[:])
		bodySum := sha256.Sum256(body)
		hash := hex.EncodeToString(bodySum[:])

		now := s.Now()
		rec, fresh, err := s.Idempotency.Begin(r.Context(), id, hash, now)
		if err != nil {
			return err
		}
		if !fresh && !rec.Done && now.Sub(rec.StartedAt) > idempotencyAbandoned {
			if err := s.Idempotency.Abort(r.Context(), id); err != nil {
				return err
			}
			if rec, fresh, err = s.Idempotency.Begin(r.Context(), id, hash, now); err != nil {
				return err
			}
		}
		switch {
		case !fresh && rec.RequestHash != hash:
			return problem(http.StatusUnprocessableEntity, "idempotency-key-reused", "this Idempotency-Key was used for a different request")
		case !fresh && !rec.Done:
			p := problem(http.StatusConflict, "idempotency-in-progress", "a request with this Idempotency-Key is still running")
			p.RetryAfter = 1
			return p
		case !fresh:
			for k, v := range rec.Header {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
			return nil
		}

		rw := &recorder{statusWriter: statusWriter{ResponseWriter: w, status: http.StatusOK}}
		herr := h(rw, r, a)
		if herr != nil {
			writeError(rw, r, herr)
		}
		// Only outcomes that are final are kept: a server error may succeed on retry.
		if rw.status >= 500 {
			if err := s.Idempotency.Abort(context.WithoutCancel(r.Context()), id); err != nil {
				s.Log.WarnContext(r.Context(), "release idempotency key", "err", err)
			}
			return nil
		}
		rec = IdempotentRecord{RequestHash: hash, Done: true, Status: rw.status, Body: rw.body.Bytes(), StartedAt: now,
			Header: map[string]string{}}
		for _, name := range replayedHeaders {
			if v := rw.Header().Get(name); v != "" {
				rec.Header[name] = v
			}
		}
		ctx := context.WithoutCancel(r.Context())
		if err := s.Idempotency.Finish(ctx, id, rec); err != nil {
			// The response stands; a repeat will run the request again rather than wait.
			s.Log.ErrorContext(ctx, "record idempotent response", "err", err)
			_ = s.Idempotency.Abort(ctx, id)
		}
		return nil
	}
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
