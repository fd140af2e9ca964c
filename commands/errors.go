package commands

import (
	"errors"
	"fmt"
)

// Kind classifies a refusal so the HTTP layer can map it to a status code in
// one place.
type Kind int

// Kinds of refusal.
const (
	KindInvalid            Kind = iota + 1 // 400: malformed or invalid input
	KindUnauthenticated                    // 401
	KindForbidden                          // 403
	KindNotFound                           // 404: absent, or not visible to the caller
	KindConflict                           // 409: conflicts with the current state
	KindPreconditionFailed                 // 412: If-Match is stale
	KindRule                               // 422: a rule of the domain refused it
	KindTooManyRequests                    // 429
)

// FieldError names one invalid field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a refusal with a stable machine-readable code and a message meant
// for people. It never wraps a driver error: those stay internal.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors by code, so a sentinel matches a copy that carries fields.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel refusals shared by every aggregate.
var (
	ErrNotFound           = &Error{Kind: KindNotFound, Code: "not-found", Message: "not found"}
	ErrForbidden          = &Error{Kind: KindForbidden, Code: "forbidden", Message: "you may not do this"}
	ErrAlreadyExists      = &Error{Kind: KindConflict, Code: "already-exists", Message: "it already exists"}
	ErrVersionConflict    = &Error{Kind: KindConflict, Code: "version-conflict", Message: "it was changed concurrently; read it again and retry"}
	ErrPreconditionFailed = &Error{Kind: KindPreconditionFailed, Code: "precondition-failed", Message: "If-Match does not match the current version"}
)

// Invalid builds a validation refusal from field errors.
func Invalid(fields ...FieldError) *Error {
	msg := "the request is invalid"
	if len(fields) == 1 {
		msg = fmt.Sprintf("%s: %s", fields[0].Field, fields[0].Message)
	}
	return &Error{Kind: KindInvalid, Code: "invalid", Message: msg, Fields: fields}
}

// Validation collects field errors while checking a command.
type Validation []FieldError

// Add records a problem with field.
func (v *Validation) Add(field, message string) { *v = append(*v, FieldError{field, message}) }

// Err returns nil when nothing was recorded.
func (v Validation) Err() error {
	if len(v) == 0 {
		return nil
	}
	return Invalid(v...)
}

// AsError extracts an *Error, if err is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
