package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/commands"
)

// MaxJSONBody is the largest JSON request body accepted (docs/api.md, Limits).
const MaxJSONBody = 1 << 20

// decodeJSON reads a JSON object into dst: content type application/json, at
// most MaxJSONBody bytes, no unknown fields, nothing after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "malformed-json", "the body must hold one JSON object and nothing after it")
	}
	return nil
}

func jsonProblem(err error) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return problem(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body is larger than %d bytes", MaxJSONBody))
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return problem(http.StatusBadRequest, "malformed-json", "the body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return commands.Invalid(commands.FieldError{Field: field, Message: typeMessage(typ)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return commands.Invalid(commands.FieldError{Field: name, Message: "is not a known field"})
	}
	return problem(http.StatusBadRequest, "malformed-json", "the body is not valid JSON")
}

// typeMessage says what is wrong with a value of the wrong type. A number
// that does not fit an integer field is a number all the same: the client
// is told it must be whole, or that it is out of range, not that it must be
// a number.
func typeMessage(typ *json.UnmarshalTypeError) string {
	if lit, ok := strings.CutPrefix(typ.Value, "number "); ok && isInteger(typ.Type.Kind()) {
		if strings.ContainsAny(lit, ".eE") {
			return "must be a whole number, written without a fraction or an exponent"
		}
		return "is out of range"
	}
	return "must be " + jsonKind(typ.Type.Kind().String())
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}

// ifMatch reads an If-Match header ("3" or "\"3\""); nil when absent.
func ifMatch(r *http.Request) (*int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return nil, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 0 {
		return nil, problem(http.StatusBadRequest, "invalid-if-match", `If-Match must be a version, as in "3"`)
	}
	return &v, nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, commands.Invalid(commands.FieldError{Field: name, Message: "must be a non-negative integer"})
	}
	return v, nil
}

// queryTime reads an optional RFC 3339 time query parameter.
func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, commands.Invalid(commands.FieldError{Field: name, Message: "must be an RFC 3339 time, as in 2026-01-02T15:04:05Z"})
	}
	return t, nil
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
}
