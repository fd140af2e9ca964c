package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/queries"
)

// Problem is an RFC 9457 problem document with our stable code.
type Problem struct {
	Type   string                `json:"type"`
	Title  string                `json:"title"`
	Status int                   `json:"status"`
	Detail string                `json:"detail,omitempty"`
	Code   string                `json:"code"`
	Errors []commands.FieldError `json:"errors,omitempty"`
	// RetryAfter becomes the Retry-After header (seconds), not a body field.
	RetryAfter int `json:"-"`
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// problem builds a Problem for the API's own refusals (bad JSON, auth, ...).
func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

var statusOfKind = map[commands.Kind]int{
	commands.KindInvalid:            http.StatusBadRequest,
	commands.KindUnauthenticated:    http.StatusUnauthorized,
	commands.KindForbidden:          http.StatusForbidden,
	commands.KindNotFound:           http.StatusNotFound,
	commands.KindConflict:           http.StatusConflict,
	commands.KindPreconditionFailed: http.StatusPreconditionFailed,
	commands.KindRule:               http.StatusUnprocessableEntity,
	commands.KindTooManyRequests:    http.StatusTooManyRequests,
}

// toProblem maps any error to what the client sees: domain refusals keep
// their code and message; anything else is a 500 whose cause is only logged.
func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	if e, ok := commands.AsError(err); ok {
		pr := problem(statusOfKind[e.Kind], e.Code, e.Message)
		pr.Errors = e.Fields
		return pr
	}
	if errors.Is(err, queries.ErrNotFound) {
		return problem(http.StatusNotFound, "not-found", "not found")
	}
	if errors.Is(err, queries.ErrForbidden) {
		return problem(http.StatusForbidden, "forbidden", "you may not see this")
	}
	var ahead *queries.VersionNotFoundError
	if errors.As(err, &ahead) {
		return problem(http.StatusNotFound, "version-not-found", ahead.Error())
	}
	var early *queries.NotYetExistingError
	if errors.As(err, &early) {
		return problem(http.StatusNotFound, "not-yet-existing", early.Error())
	}
	if commands.IsStorageFull(err) {
		p := problem(http.StatusInsufficientStorage, "storage-full", "the store has no space left; nothing was changed, retry later")
		p.RetryAfter = StorageFullRetryAfter
		return p
	}
	if commands.IsStoreUnavailable(err) {
		p := problem(http.StatusServiceUnavailable, "store-unavailable",
			"the store could not be reached; a write may or may not have been applied: retry it as it was (with its Idempotency-Key or If-Match)")
		p.RetryAfter = StoreUnavailableRetryAfter
		return p
	}
	return problem(http.StatusInternalServerError, "internal", "something went wrong on our side; it has been logged")
}

// StoreUnavailableRetryAfter is the Retry-After, in seconds, of a request
// the store could not be reached for: a store restarting is back in seconds.
const StoreUnavailableRetryAfter = 2

// StorageFullRetryAfter is the Retry-After, in seconds, of a write refused
// because the store is full: time for an operator or an autoscaler to free
// or add space.
const StorageFullRetryAfter = 30

// writeError sends err as problem+json, logging internal errors with the
// request id; or, for a face whose refusals have a shape of their own
// (EdgeAnswering), in that shape.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if refuse, ok := r.Context().Value(refuserKey{}).(Refuser); ok {
		refuse(w, r, err)
		return
	}
	writeProblem(w, FailureOf(slog.Default(), r, err))
}

// Refuser answers a refusal in the shape of a face of the service other
// than /v1 (the original frontend's plain text).
type Refuser func(w http.ResponseWriter, r *http.Request, err error)

type refuserKey struct{}

// writeProblem sends p, logging nothing (writeError logs the server's
// failures).
func writeProblem(w http.ResponseWriter, p *Problem) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := encodeJSON(v) // the answers' types always encode
	writeEncoded(w, status, body)
}

// encodeJSON is the body writeJSON sends for v.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	err := json.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

// writeEncoded sends a body encodeJSON made, with status.
func writeEncoded(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// StatusClientClosedRequest is the status a request is recorded with (in
// the access log and the HTTP metrics) when it failed only because its
// client went away before the answer: nginx's 499 "Client Closed Request".
// No client ever sees it.
const StatusClientClosedRequest = 499

// FailureOf is the problem a request failing with err answers, logged on
// log when the failure is the server's (5xx). A failure that came of the
// client going away is not the server's: net/http cancels a request's
// context when its connection closes, and whatever the request was waiting
// for (the store, say) then fails with it. That is noted at Info as "client
// went away" and answered 499, to no one, so that neither the log's errors
// nor the metrics' 5xx count it. Nothing else cancels a request's context
// (a deadline is not a cancellation, and shutting down lets requests
// finish), so a 5xx of a request whose client is still there stays one.
func FailureOf(log *slog.Logger, r *http.Request, err error) *Problem {
	p := toProblem(err)
	if p.Status < 500 {
		return p
	}
	if chosen, ok := err.(*Problem); ok && chosen.RetryAfter > 0 {
		// A "retry later" the service chose (its password checks are
		// full, the read models are behind a read's bookmark): shedding
		// load, not failing; logged where it is decided.
		return p
	}
	if errors.Is(err, errHTTPVersion) {
		// A 5xx by its status, but the client's request line is at fault
		// (HTTP/1.2): any client could fill the log's errors with it.
		return p
	}
	if errors.Is(r.Context().Err(), context.Canceled) {
		log.InfoContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path, "err", err)
		return &Problem{Type: "about:blank", Title: "Client Closed Request", Status: StatusClientClosedRequest,
			Code: "client-closed-request", Detail: "the client closed the connection before the answer"}
	}
	log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return p
}
