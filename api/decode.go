package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/capstone-pms/capstone/commands"
)

// MaxJSONBody is the largest JSON request body accepted (docs/api.md, Limits).
const MaxJSONBody = 1 << 20

// strictJSON is how request bodies are read: names match the schema's
// exactly (TITLE is not title), a name given twice is refused rather than
// the last one winning, unknown names are refused, and the text must be
// valid UTF-8. A proxy or firewall in front then reads a body the same way
// the service does.
var strictJSON = json.JoinOptions(
	json.MatchCaseInsensitiveNames(false),
	json.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decodeJSON reads a JSON object into dst: content type application/json
// (in UTF-8), at most MaxJSONBody bytes, read strictly (strictJSON),
// nothing after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return decodeJSONWith(w, r, dst, strictJSON)
}

func decodeJSONWith(w http.ResponseWriter, r *http.Request, dst any, opts json.Options) error {
	mt, params, err := MediaType(r)
	if p := (*Problem)(nil); errors.As(err, &p) {
		return p
	}
	if err != nil || mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json")
	}
	if cs, said := params["charset"]; said && !isUTF8(cs) {
		// JSON is UTF-8 (RFC 8259): a body declared in another charset,
		// read as UTF-8, would mean other text than its sender's (latin-1
		// "Ã©" is UTF-8 "é").
		return problem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"send the body as application/json in UTF-8 (charset "+strconv.Quote(cs)+" is not read)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		return jsonProblem(err)
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body), opts)
	if dec.PeekKind() == 'n' {
		// Decoding null into a request leaves it as it was, so a null
		// body would pass for {}: a release of every agreed mark, say.
		return commands.Invalid(commands.FieldError{Field: "body", Message: "must be an object"})
	}
	if err := json.UnmarshalDecode(dec, dst, opts); err != nil {
		var semantic *json.SemanticError
		if errors.As(err, &semantic) && !errors.Is(err, jsontext.ErrDuplicateName) {
			if fields := memberErrors(body, reflect.TypeOf(dst), opts, nil); len(fields) > 0 {
				return commands.Invalid(fields...)
			}
		}
		return jsonProblem(err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "malformed-json", "the body must hold one JSON object and nothing after it")
	}
	return nil
}

// maxFieldErrors bounds the invalid members memberErrors looks for.
const maxFieldErrors = 50

// memberErrors finds every member of the JSON object obj (at path, within a
// body decoded into a *T of type ptr) that the type refuses: a value of the
// wrong type or a name it does not know. The decoder stops at the first such
// member; each is decoded here on its own, wrapped in the objects of its
// path, so that a client is told of all of them at once (up to
// maxFieldErrors). Members that are objects are looked into the same way,
// as deep as the type goes; an array is reported once.
func memberErrors(obj []byte, ptr reflect.Type, opts json.Options, path []string) []commands.FieldError {
	if ptr.Kind() != reflect.Pointer {
		return nil
	}
	type member struct {
		name string
		val  jsontext.Value
	}
	var members []member // in the body's order
	dec := jsontext.NewDecoder(bytes.NewReader(obj), opts)
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil
		}
		name := tok.String() // before the next read, which reuses its bytes
		val, err := dec.ReadValue()
		if err != nil {
			return nil
		}
		members = append(members, member{name, slices.Clone(val)})
	}
	var out []commands.FieldError
	for _, m := range members {
		if len(out) >= maxFieldErrors {
			break // a body of a thousand unknown names costs no more than this
		}
		name, val := m.name, m.val
		wrapped := object(name, val)
		for i := len(path) - 1; i >= 0; i-- {
			wrapped = object(path[i], wrapped)
		}
		err := json.Unmarshal(wrapped, reflect.New(ptr.Elem()).Interface(), opts)
		if err == nil {
			continue
		}
		var semantic *json.SemanticError
		if !errors.As(err, &semantic) {
			continue
		}
		inner := append(slices.Clone(path), name)
		if val.Kind() == '{' && len(slices.Collect(semantic.JSONPointer.Tokens())) > len(inner) {
			if deeper := memberErrors(val, ptr, opts, inner); len(deeper) > 0 {
				out = append(out, deeper...)
				continue
			}
		}
		if p, ok := jsonProblem(err).(*commands.Error); ok {
			out = append(out, p.Fields...)
		}
	}
	return out
}

// errBodyTimeout answers a body that did not arrive within the body
// timeout (a client sending it a byte at a time).
var errBodyTimeout = problem(http.StatusRequestTimeout, "body-timeout", "the request body did not arrive in time")

func jsonProblem(err error) error {
	var tooBig *http.MaxBytesError
	var syntax *jsontext.SyntacticError
	var semantic *json.SemanticError
	switch {
	case errors.As(err, &tooBig):
		return problem(http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body is larger than %d bytes", MaxJSONBody))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	case errors.As(err, &syntax) && errors.Is(err, jsontext.ErrDuplicateName):
		return commands.Invalid(commands.FieldError{Field: fieldPath(syntax.JSONPointer), Message: "is given more than once"})
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return problem(http.StatusBadRequest, "malformed-json", "the body is not valid JSON")
	case errors.As(err, &semantic) && errors.Is(err, json.ErrUnknownName):
		return commands.Invalid(commands.FieldError{Field: fieldPath(semantic.JSONPointer), Message: "is not a known field"})
	case errors.As(err, &semantic) && semantic.GoType != nil:
		field := fieldPath(semantic.JSONPointer)
		if field == "" {
			field = "body"
		}
		return commands.Invalid(commands.FieldError{Field: field, Message: typeMessage(semantic)})
	}
	return problem(http.StatusBadRequest, "malformed-json", "the body is not valid JSON")
}

// object is the JSON object {name: val}.
func object(name string, val jsontext.Value) jsontext.Value {
	out, _ := jsontext.AppendQuote([]byte("{"), name) // the name came from a decoded body: valid
	return append(append(append(out, ':'), val...), '}')
}

// typeMessage says what is wrong with a value of the wrong type. A number
// that does not fit an integer field is a number all the same: the client
// is told it must be whole, or that it is out of range, not that it must be
// a number.
func typeMessage(e *json.SemanticError) string {
	if e.JSONKind == '0' && isInteger(e.GoType.Kind()) {
		if strings.ContainsAny(string(e.JSONValue), ".eE") {
			return "must be a whole number, written without a fraction or an exponent"
		}
		return "is out of range"
	}
	return "must be " + jsonKind(e.GoType.Kind().String())
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// fieldPath names a member as the field errors do ("profile.code"), from the
// JSON pointer the decoder reports ("/profile/code"); array indices are left
// out, so every element of "roles" is "roles".
func fieldPath(p jsontext.Pointer) string {
	var names []string
	for tok := range p.Tokens() {
		if _, err := strconv.ParseUint(tok, 10, 64); err == nil && len(names) > 0 {
			continue
		}
		names = append(names, tok)
	}
	return strings.Join(names, ".")
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

// MediaType parses the request's Content-Type. It refuses (a 415 *Problem)
// a body that cannot be read as the type named: one whose Content-Type is
// given more than once (reading it as the first named would take a side a
// proxy or another reader may have taken otherwise), or that is sent with
// a Content-Encoding other than identity, which the service does not
// decode (read as it came, a gzip body would be taken for malformed, and a
// body said to be compressed but not for what it never meant).
func MediaType(r *http.Request) (string, map[string]string, error) {
	if len(r.Header.Values("Content-Type")) > 1 {
		return "", nil, problem(http.StatusUnsupportedMediaType, "unsupported-media-type",
			"send Content-Type once: the request gives it more than once")
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return "", nil, problem(http.StatusUnsupportedMediaType, "unsupported-media-type",
					"send the body uncompressed: Content-Encoding "+strconv.Quote(c)+" is not read")
			}
		}
	}
	return mime.ParseMediaType(r.Header.Get("Content-Type"))
}

// ifMatch reads an If-Match header ("3" or "\"3\""): the version the
// caller expects the resource of the path at, for its use case to give to
// that resource's stream alone; any version when absent. Given empty, it
// is refused, as an empty ?limit= is: a client whose version went missing
// must not have its write made unconditionally.
func ifMatch(r *http.Request) (commands.Expected, error) {
	values := r.Header.Values("If-Match")
	if len(values) > 1 {
		// Two lines are one list (RFC 9110, section 5.3), refused as
		// "1", "7" is: not the first alone, which the other contradicts.
		return commands.AnyVersion, problem(http.StatusBadRequest, "invalid-if-match", "If-Match must be one version, given once")
	}
	if len(values) == 0 {
		return commands.AnyVersion, nil
	}
	h := strings.TrimSpace(values[0])
	h = strings.TrimPrefix(h, "W/")
	v, ok := decimal(strings.Trim(h, `"`))
	if !ok {
		return commands.AnyVersion, problem(http.StatusBadRequest, "invalid-if-match", `If-Match must be a version, as in "3"`)
	}
	return commands.ExpectVersion(v), nil
}

// queryInt reads an optional non-negative integer query parameter. Given,
// it must be one: an empty value (?limit=) is refused rather than read as
// absent, as the other query parameters' are.
func queryInt(r *http.Request, name string) (int64, error) {
	return queryAtLeast(r, name, 0, "must be a non-negative integer")
}

// queryAtLeast reads an optional integer query parameter of at least min
// (absent: 0), refusing any other value, an empty one too, with message.
func queryAtLeast(r *http.Request, name string, min int64, message string) (int64, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return 0, nil
	}
	v, ok := decimal(q.Get(name))
	if !ok || v < min {
		return 0, commands.Invalid(commands.FieldError{Field: name, Message: message})
	}
	return v, nil
}

// decimal reads a whole number written in decimal digits alone, as the
// API gives its versions and counts: no sign (strconv takes "+5" and
// "-0"), no space.
func decimal(s string) (int64, bool) {
	if !digitsOnly(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// digitsOnly reports whether s is one or more decimal digits: a number as
// the API writes one, however large.
func digitsOnly(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// queryTime reads an optional RFC 3339 time query parameter. Given, it must
// be a time: an empty value (?as_of=) is refused rather than read as absent,
// and so is an offset out of RFC 3339's range (+24:00, +12:60), which Go's
// parser takes (and would move the time by a day).
func queryTime(r *http.Request, name string) (time.Time, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return time.Time{}, nil
	}
	t, ok := parseRFC3339(q.Get(name))
	if !ok {
		return time.Time{}, commands.Invalid(commands.FieldError{Field: name, Message: "must be an RFC 3339 time, as in 2026-01-02T15:04:05Z"})
	}
	return t, nil
}

// parseRFC3339 parses a time in RFC 3339's ranges: time.Parse checks the
// date and the time of day, not the offset's hour (00 to 23) and minute
// (00 to 59).
func parseRFC3339(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	if !strings.HasSuffix(s, "Z") { // the parse took a numeric offset: [+-]hh:mm
		hh, _ := strconv.Atoi(s[len(s)-5 : len(s)-3])
		mm, _ := strconv.Atoi(s[len(s)-2:])
		if hh > 23 || mm > 59 {
			return time.Time{}, false
		}
	}
	return t, true
}

// queryVersion reads an optional version query parameter: absent is 0;
// given, it must be a version, 1 or more (no resource has a version 0, the
// state before its first event). An empty value is refused rather than
// read as absent.
func queryVersion(r *http.Request, name string) (int64, error) {
	return queryAtLeast(r, name, 1, "must be a version, a whole number from 1")
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
}

// queryBool reads an optional yes/no query parameter (false when absent) in
// the spellings every yes/no takes (commands.ParseBool). One given without a
// value (?dry_run) is refused rather than read as either: a coordinator who
// meant a preview must not get a real import.
func queryBool(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	v, err := commands.ParseBool(q.Get(name))
	if err != nil {
		return false, commands.Invalid(commands.FieldError{Field: name, Message: "must be " + commands.BoolSpellings})
	}
	return v, nil
}

// isUTF8 reports whether a charset parameter names UTF-8.
func isUTF8(charset string) bool {
	return strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8")
}
