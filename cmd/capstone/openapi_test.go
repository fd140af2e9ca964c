package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/capstone-pms/capstone/api"
)

// This file checks api/openapi.json against the running service: every
// registered route is documented and every documented path is registered
// (TestOpenAPIMatchesRoutes), and real responses match the schemas the
// document declares for their operation and status
// (TestOpenAPIResponsesMatchSchemas), validated with kin-openapi.

// oaDoc is a decoded OpenAPI document (numbers kept as json.Number).
type oaDoc struct{ root map[string]any }

func parseOpenAPI(t testing.TB, raw []byte) oaDoc {
	t.Helper()
	var root map[string]any
	if err := decodeJSONNumbers(raw, &root); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	return oaDoc{root: root}
}

func decodeJSONNumbers(raw []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// resolve follows a local JSON pointer such as "#/components/schemas/User".
func (d oaDoc) resolve(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = d.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve (no %q)", ref, tok)
		}
	}
	return cur, nil
}

// deref returns v as an object, following $ref chains.
func (d oaDoc) deref(v any) (map[string]any, error) {
	for range 20 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", v)
		}
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return m, nil
		}
		var err error
		if v, err = d.resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

func (d oaDoc) paths() map[string]any {
	p, _ := d.root["paths"].(map[string]any)
	return p
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// operations lists every documented operation as "METHOD /path".
func (d oaDoc) operations() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range d.paths() {
		im, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if op, ok := im[m].(map[string]any); ok {
				out[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return out
}

// ---------------------------------------------------------------- validator

// The document and the responses are validated with kin-openapi, a
// maintained implementation of OpenAPI 3: loading resolves every $ref,
// Validate holds the document to the OpenAPI 3.0 rules (a misspelt keyword,
// or one 3.0 does not have such as const, fails it, so the document cannot
// rely on something nothing checks), and openapi3filter checks a response's
// headers, content type and body against the operation that answered it.

// stringFormats check the string formats the document names. kin-openapi
// checks date-time on its own but lets uuid, email and any other format
// through unchecked, so loadOpenAPI refuses a document naming a format that
// is not here.
var stringFormats = map[string]openapi3.StringFormatValidator{
	"date-time": openapi3.NewCallbackValidator(func(s string) error {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err
	}),
	"uuid": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
	"email": openapi3.NewCallbackValidator(func(s string) error {
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return errors.New("not an e-mail address")
		}
		return nil
	}),
	"binary": openapi3.NewCallbackValidator(func(string) error { return nil }), // any bytes
}

// schemaOptions validate a value: every violation, each without the schema
// and value dumped beside it (the body is printed once instead), with the
// formats above.
var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.MultiErrors(), openapi3.DisableSchemaErrorDetails(), openapi3.WithStringFormatValidators(stringFormats),
}

// loadOpenAPI loads an OpenAPI document and validates it.
func loadOpenAPI(raw []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("the OpenAPI document does not load: %w", err)
	}
	if err := spec.Validate(loader.Context, openapi3.EnableSchemaFormatValidation()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid OpenAPI 3.0: %w", err)
	}
	err = spec.WalkSchemas(func(at string, s *openapi3.SchemaRef) error {
		if f := s.Value.Format; f != "" && stringFormats[f] == nil {
			return fmt.Errorf("%s: the format %q is not among those the tests check (stringFormats)", at, f)
		}
		return nil
	})
	return spec, err
}

func loadSpec(t testing.TB, raw []byte) *openapi3.T {
	t.Helper()
	spec, err := loadOpenAPI(raw)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// validateValue returns one message per violation of schema by val (none
// when val matches).
func validateValue(schema *openapi3.Schema, val any) []string {
	return errorMessages(schema.VisitJSON(val, schemaOptions...))
}

// errorMessages flattens kin-openapi's multi-errors into one message each,
// a response error's reason kept in front of each of its causes.
func errorMessages(err error) []string {
	var out []string
	switch e := err.(type) {
	case nil:
	case openapi3.MultiError:
		for _, inner := range e {
			out = append(out, errorMessages(inner)...)
		}
	case *openapi3filter.ResponseError:
		if _, multi := e.Err.(openapi3.MultiError); !multi {
			return []string{e.Error()}
		}
		for _, m := range errorMessages(e.Err) {
			out = append(out, e.Reason+": "+m)
		}
	default:
		out = append(out, err.Error())
	}
	return out
}

// operation is the documented operation method+path (a template), or nil.
func operation(spec *openapi3.T, method, path string) (*openapi3.PathItem, *openapi3.Operation) {
	item := spec.Paths.Value(path)
	if item == nil {
		return nil, nil
	}
	return item, item.GetOperation(method)
}

// responseProblems lists how a response of the operation method+path (a
// template) departs from the document: a status it does not declare, a
// required header missing or a header not matching its schema, a content
// type it does not declare, a body where it declares none or one not matching
// the schema; for a problem, a code not among the response's x-codes or a
// status that is not the HTTP one.
func responseProblems(spec *openapi3.T, method, path string, r response) []string {
	item, op := operation(spec, method, path)
	if op == nil {
		return []string{"the operation is not documented"}
	}
	declared := op.Responses.Status(r.Status)
	if declared == nil {
		return []string{fmt.Sprintf("the document does not declare the status %d: %s", r.Status, r.Raw)}
	}
	var problems []string
	if len(declared.Value.Content) == 0 && r.Raw != "" {
		problems = append(problems, fmt.Sprintf("the document declares no body, got %q", r.Raw))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: httptest.NewRequest(method, path, nil),
			Route:   &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
		},
		Status: r.Status,
		Header: r.Header,
		Body:   io.NopCloser(strings.NewReader(r.Raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: schemaOptions},
	}
	if errs := errorMessages(openapi3filter.ValidateResponse(context.Background(), in)); len(errs) > 0 {
		errs[len(errs)-1] += "\nbody: " + r.Raw
		problems = append(problems, errs...)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/problem+json" {
		var problem struct {
			Code   any `json:"code"`
			Status any `json:"status"`
		}
		_ = json.Unmarshal([]byte(r.Raw), &problem) // a body that is not JSON is reported above
		codes, _ := declared.Value.Extensions["x-codes"].([]any)
		if !slices.Contains(codes, problem.Code) {
			problems = append(problems, fmt.Sprintf("code %v is not among the documented %v", problem.Code, codes))
		}
		if fmt.Sprint(problem.Status) != strconv.Itoa(r.Status) {
			problems = append(problems, fmt.Sprintf("the problem's status %v is not the HTTP status", problem.Status))
		}
	}
	return problems
}

// TestOpenAPIValidator: the validation the tests rely on refuses what it
// must, and accepts what conforms. In a value: a missing required field, a
// wrong type, an unknown key, a bad format, a value outside an enum or a
// bound, an unexpected null, a oneOf matched by none or by two. In a
// document: a keyword OpenAPI 3.0 does not have, a $ref that does not
// resolve, a format the tests do not check. In a response: an undeclared
// status, a required header missing or invalid, an undeclared content type,
// a body that does not match, a problem code not in x-codes.
func TestOpenAPIValidator(t *testing.T) {
	spec := loadSpec(t, api.OpenAPI())
	component := func(name string) *openapi3.Schema {
		ref := spec.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			t.Fatalf("no component schema %s", name)
		}
		return ref.Value
	}
	inline := func(js string) *openapi3.Schema {
		var s openapi3.Schema
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Fatalf("bad test schema %s: %v", js, err)
		}
		return &s
	}
	user := component("User")
	good := `{"id":"01a22504-11cb-782c-be73-b07ed3339155","email":"ada@uni.example","name":"Ada","roles":["student"],
		"profile":{"code":"S1"},"version":3,"created_at":"2026-01-02T15:04:05.123Z"}`
	if errs := validateValue(user, mustJSON(t, good)); len(errs) > 0 {
		t.Fatalf("a valid user is refused: %v", errs)
	}
	oneOf := `{"oneOf":[{"type":"string"},{"type":"integer"}]}`
	for name, c := range map[string]struct {
		schema *openapi3.Schema
		body   string
		want   string
	}{
		"missing required": {user, `{"id":"01a22504-11cb-782c-be73-b07ed3339155","name":"Ada","roles":["student"],"profile":{},"version":1}`, `property "email" is missing`},
		"wrong type":       {user, strings.Replace(good, `"version":3`, `"version":"3"`, 1), `"/version": value must be an integer`},
		"not an integer":   {user, strings.Replace(good, `"version":3`, `"version":3.5`, 1), `"/version": value must be an integer`},
		"unknown key":      {user, strings.Replace(good, `"version":3`, `"version":3,"password":"x"`, 1), `property "password" is unsupported`},
		"nested unknown":   {user, strings.Replace(good, `"code":"S1"`, `"shoe_size":"9"`, 1), `"/profile": property "shoe_size" is unsupported`},
		"enum":             {user, strings.Replace(good, `["student"]`, `["admin"]`, 1), `"/roles/0": value is not one of the allowed values`},
		"date-time":        {user, strings.Replace(good, `2026-01-02T15:04:05.123Z`, `yesterday`, 1), `"/created_at": string doesn't match the format "date-time"`},
		"uuid":             {user, strings.Replace(good, `01a22504-11cb-782c-be73-b07ed3339155`, `42`, 1), `"/id": string doesn't match the format "uuid"`},
		"email":            {user, strings.Replace(good, `ada@uni.example`, `Ada <ada@uni.example>`, 1), `"/email": string doesn't match the format "email"`},
		"null":             {user, strings.Replace(good, `["student"]`, `null`, 1), `"/roles": Value is not nullable`},
		"array of wrong":   {user, strings.Replace(good, `["student"]`, `"student"`, 1), `"/roles": value must be an array`},
		"min items":        {user, strings.Replace(good, `["student"]`, `[]`, 1), "minimum number of items is 1"},
		"problem field":    {component("Problem"), `{"type":"about:blank","title":"Bad Request","status":400,"code":"invalid","errors":[{"field":"x"}]}`, `property "message" is missing`},
		"problem status":   {component("Problem"), `{"type":"about:blank","title":"OK","status":200,"code":"x"}`, "number must be at least 400"},
		"oneOf none":       {inline(oneOf), `true`, "value must be an integer"},
		"oneOf both":       {inline(`{"oneOf":[{"type":"number"},{"type":"integer"}]}`), `3`, "matches more than one oneOf"},
		"max length":       {inline(`{"type":"string","maxLength":2}`), `"abc"`, "maximum string length is 2"},
		"unique items":     {inline(`{"type":"array","items":{"type":"string"},"uniqueItems":true}`), `["a","a"]`, "duplicate items found"},
		"above maximum":    {component("AllocationResult"), strings.Replace(allocationResult, "SEED", "9007199254740992", 1), `"/seed": number must be at most`},
	} {
		errs := validateValue(c.schema, mustJSON(t, c.body))
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, c.want) }) {
			t.Errorf("%s: got %q, want an error containing %q", name, errs, c.want)
		}
	}
	for name, c := range map[string]struct {
		schema *openapi3.Schema
		body   string
	}{
		"nullable":     {inline(`{"type":"string","nullable":true}`), `null`},
		"oneOf":        {inline(oneOf), `7`},
		"largest seed": {component("AllocationResult"), strings.Replace(allocationResult, "SEED", "9007199254740991", 1)},
		"free data":    {component("HistoryEntry"), `{"type":"X","version":1,"at":"2026-01-02T15:04:05Z","actor":{"user_id":"system"},"data":{"anything":[1,{"a":null}]}}`},
	} {
		if errs := validateValue(c.schema, mustJSON(t, c.body)); len(errs) > 0 {
			t.Errorf("%s: a valid value is refused: %v", name, errs)
		}
	}

	// The document: each mutation of the committed one must be refused.
	doc := string(api.OpenAPI())
	for name, c := range map[string]struct{ old, new, want string }{
		"unknown keyword": {`"User": {`, `"User": {"shoeSize": 3, `, "shoeSize"},
		"3.1 keyword":     {`"User": {`, `"User": {"const": {}, `, "const"},
		"bad ref":         {`"$ref": "#/components/schemas/User"`, `"$ref": "#/components/schemas/NoSuchThing"`, "NoSuchThing"},
		"bad type":        {`"type": "object"`, `"type": "record"`, "record"},
		"unchecked":       {`"format": "email"`, `"format": "hostname"`, `format "hostname" is not among those the tests check`},
	} {
		mutated := strings.Replace(doc, c.old, c.new, 1)
		if mutated == doc {
			t.Fatalf("%s: the document has no %s", name, c.old)
		}
		if _, err := loadOpenAPI([]byte(mutated)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: loadOpenAPI = %v, want an error containing %q", name, err, c.want)
		}
	}

	// Responses of GET /v1/me: each mutation of a conforming one must be refused.
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	ok := response{Status: 200, Header: header("Content-Type", "application/json", "X-Request-Id", "r1", "ETag", `"3"`), Raw: good}
	problem := `{"type":"about:blank","title":"Not Found","status":404,"code":"not-found","detail":"No such user."}`
	notFound := response{Status: 404, Header: header("Content-Type", "application/problem+json", "X-Request-Id", "r1"), Raw: problem}
	for name, r := range map[string]response{"200": ok, "404": notFound} {
		if problems := responseProblems(spec, "GET", "/v1/me", r); len(problems) > 0 {
			t.Errorf("a conforming %s is refused: %q", name, problems)
		}
	}
	for name, c := range map[string]struct {
		method, path string
		r            response
		want         string
	}{
		"undocumented operation": {"GET", "/v1/nowhere", ok, "not documented"},
		"undeclared status":      {"GET", "/v1/me", response{Status: 418, Header: ok.Header, Raw: good}, "does not declare the status 418"},
		"required header":        {"GET", "/v1/me", response{Status: 200, Header: header("Content-Type", "application/json", "X-Request-Id", "r1"), Raw: good}, `header "ETag" missing`},
		"header schema":          {"GET", "/v1/me", response{Status: 200, Header: header("Content-Type", "application/json", "X-Request-Id", "r1", "ETag", "3"), Raw: good}, `header "ETag" doesn't match`},
		"content type":           {"GET", "/v1/me", response{Status: 200, Header: header("Content-Type", "text/html", "X-Request-Id", "r1", "ETag", `"3"`), Raw: good}, "text/html"},
		"not JSON":               {"GET", "/v1/me", response{Status: 200, Header: ok.Header, Raw: "{"}, "failed to decode response body"},
		"body":                   {"GET", "/v1/me", response{Status: 200, Header: ok.Header, Raw: strings.Replace(good, `"version":3`, `"version":"3"`, 1)}, "value must be an integer"},
		"problem code":           {"GET", "/v1/me", response{Status: 404, Header: notFound.Header, Raw: strings.Replace(problem, "not-found", "gone", 1)}, "code gone is not among the documented [not-found]"},
		"problem status":         {"GET", "/v1/me", response{Status: 404, Header: notFound.Header, Raw: strings.Replace(problem, "404", "400", 1)}, "the problem's status 400 is not the HTTP status"},
		"body where none":        {"POST", "/v1/auth/sign-out", response{Status: 204, Header: header("X-Request-Id", "r1"), Raw: "{}"}, "declares no body"},
	} {
		problems := responseProblems(spec, c.method, c.path, c.r)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: got %q, want a problem containing %q", name, problems, c.want)
		}
	}
}

// allocationResult is an AllocationResult with its seed left as SEED.
const allocationResult = `{"run_id":"01a22504-11f0-7688-af47-9503be28e50d","applied":false,"dry_run":true,"objective":"generous","seed":SEED,"assignments":[],"unplaced":[],"profile":{"by_rank":{"1":0,"2":0,"3":0,"4":0,"5":0},"outside_list":0,"unplaced":0,"students":0,"capacity":0}}`

// schemaInt reads an integer keyword (minLength, maxItems...) of a decoded
// schema.
func schemaInt(sm map[string]any, key string) (int, bool) {
	n, ok := sm[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := decodeJSONNumbers([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

// ---------------------------------------------------------------- routes

// muxTemplate turns a gorilla/mux path template into an OpenAPI one: a
// variable's pattern is dropped, as in {name:assignments|grades} -> {name}.
func muxTemplate(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] != '{' {
			b.WriteByte(path[i])
			continue
		}
		depth, j := 1, i+1
		for ; j < len(path) && depth > 0; j++ {
			switch path[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		name, _, _ := strings.Cut(path[i+1:j-1], ":")
		b.WriteString("{" + name + "}")
		i = j - 1
	}
	return b.String()
}

// infrastructureOps take no client input, so they have no 4xx answer.
var infrastructureOps = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true}

// publicOps are the operations that need no bearer token (docs/api.md).
var publicOps = map[string]bool{"POST /v1/auth/sign-in": true, "POST /v1/auth/set-password": true,
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true}

func fetchOpenAPI(t *testing.T, s *service) oaDoc {
	t.Helper()
	r := s.do("GET", "/openapi.json", "", nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if r.Raw != string(api.OpenAPI()) {
		t.Fatal("GET /openapi.json does not serve the embedded document")
	}
	return parseOpenAPI(t, []byte(r.Raw))
}

// TestOpenAPIMatchesRoutes: the served document describes exactly the
// registered routes, each operation is complete (operationId, summary,
// security, path parameters, a 2xx and a 4xx answer), every $ref resolves and
// every component is used; and the security each operation declares is what
// the service does without a token.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := startService(t)
	doc := fetchOpenAPI(t, s)
	if doc.root["openapi"] != "3.0.3" {
		t.Errorf("openapi = %v, want 3.0.3", doc.root["openapi"])
	}

	registered := map[string]bool{}
	for _, r := range s.app.API.Routes() {
		registered[r.Method+" "+muxTemplate(r.Path)] = true
	}
	ops := doc.operations()
	var missing, extra []string
	for k := range registered {
		if ops[k] == nil {
			missing = append(missing, k)
		}
	}
	for k := range ops {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is registered but not documented in api/openapi.json", k)
	}
	for _, k := range extra {
		method, path, _ := strings.Cut(k, " ")
		if r := s.do(method, regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x"), "", nil); r.Status != 404 && r.Status != 405 {
			t.Errorf("%s is documented and served (%d), but Routes() does not list it", k, r.Status)
			continue
		}
		t.Errorf("%s is documented but no such route is registered", k)
	}
	if len(registered) == 0 {
		t.Fatal("Routes() listed nothing")
	}

	opIDs := map[string]string{}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		op := ops[key]
		method, path, _ := strings.Cut(key, " ")
		id, _ := op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s has no operationId", key)
		case opIDs[id] != "":
			t.Errorf("%s and %s share the operationId %q", opIDs[id], key, id)
		default:
			opIDs[id] = key
		}
		if sum, _ := op["summary"].(string); sum == "" {
			t.Errorf("%s has no summary", key)
		}
		responses, _ := op["responses"].(map[string]any)
		has2xx, has4xx := false, false
		for code := range responses {
			has2xx = has2xx || strings.HasPrefix(code, "2")
			has4xx = has4xx || strings.HasPrefix(code, "4")
			if code != "default" && !regexp.MustCompile(`^[1-5][0-9][0-9]$`).MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", key, code)
			}
		}
		if !has2xx {
			t.Errorf("%s documents no 2xx response", key)
		}
		if !has4xx && !infrastructureOps[key] {
			t.Errorf("%s documents no 4xx response", key)
		}
		for code, r := range responses {
			rm, err := doc.deref(r)
			if err != nil {
				t.Errorf("%s %s: %v", key, code, err)
				continue
			}
			if d, _ := rm["description"].(string); d == "" {
				t.Errorf("%s %s: a response needs a description", key, code)
			}
			if code >= "400" {
				content, _ := rm["content"].(map[string]any)
				if _, ok := content["application/problem+json"]; !ok || len(content) != 1 {
					t.Errorf("%s %s: errors must be documented as application/problem+json only", key, code)
				}
			}
		}

		// Security: explicit on every operation; public exactly where docs/api.md says.
		sec, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s does not state its security", key)
		}
		public := ok && len(sec) == 0
		if public != publicOps[key] {
			t.Errorf("%s: public = %v in the document, want %v", key, public, publicOps[key])
		}
		if !public && !strings.Contains(compactJSON(sec), `"bearerAuth"`) {
			t.Errorf("%s: security %s, want bearerAuth", key, compactJSON(sec))
		}

		// Path parameters: each {name} declared, required, and nothing else.
		declared := map[string]bool{}
		var params []any
		if item, ok := doc.paths()[path].(map[string]any); ok {
			pp, _ := item["parameters"].([]any)
			params = append(params, pp...)
		}
		op2, _ := op["parameters"].([]any)
		params = append(params, op2...)
		concrete := path
		for _, p := range params {
			pm, err := doc.deref(p)
			if err != nil {
				t.Errorf("%s: parameter: %v", key, err)
				continue
			}
			if pm["in"] != "path" {
				continue
			}
			name := fmt.Sprint(pm["name"])
			declared[name] = true
			if pm["required"] != true {
				t.Errorf("%s: path parameter %s must be required", key, name)
			}
			value := "01a22504-0000-7000-8000-000000000000"
			if sch, err := doc.deref(pm["schema"]); err == nil {
				if enum, ok := sch["enum"].([]any); ok && len(enum) > 0 {
					value = fmt.Sprint(enum[0])
				}
			}
			concrete = strings.ReplaceAll(concrete, "{"+name+"}", value)
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %s is not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %s, which is not in the path", key, name)
		}

		// JSON request bodies refuse unknown fields, as the decoder does.
		if rb, ok := op["requestBody"]; ok {
			rbm, err := doc.deref(rb)
			if err == nil {
				content, _ := rbm["content"].(map[string]any)
				if js, ok := content["application/json"].(map[string]any); ok {
					sch, err := doc.deref(js["schema"])
					if err != nil || sch["type"] != "object" || sch["additionalProperties"] != false {
						t.Errorf("%s: a JSON request body must be an object schema with additionalProperties: false", key)
					}
				}
			}
		}

		// What the service does without a token matches the declared security.
		r := s.do(method, concrete, "", nil)
		switch {
		case public && r.Status == 401:
			t.Errorf("%s is documented as public but answers 401 without a token", key)
		case !public && r.Status != 401:
			t.Errorf("%s is documented as needing a bearer token but answers %d without one", key, r.Status)
		case !public && r.Header.Get("WWW-Authenticate") == "":
			t.Errorf("%s: a 401 without WWW-Authenticate", key)
		}
	}

	// Every $ref resolves, and every component is used.
	refs := map[string]bool{}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs[ref] = true
				if _, err := doc.resolve(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc.root, "#")
	components, _ := doc.root["components"].(map[string]any)
	for kind, group := range components {
		if kind == "securitySchemes" {
			continue
		}
		gm, _ := group.(map[string]any)
		for name := range gm {
			if !refs["#/components/"+kind+"/"+name] {
				t.Errorf("components/%s/%s is never used", kind, name)
			}
		}
	}
}

// ---------------------------------------------------------------- responses

// contract checks responses against the document.
type contract struct {
	t       *testing.T
	spec    *openapi3.T
	checked map[string]bool // "METHOD /path STATUS"
}

// check reports every way a response of the operation method+path (a
// template) departs from the document (responseProblems), and counts the
// (operation, status) pair as checked when the document declares it.
func (c *contract) check(method, path string, r response) response {
	c.t.Helper()
	where := fmt.Sprintf("%s %s %d", method, path, r.Status)
	for _, p := range responseProblems(c.spec, method, path, r) {
		c.t.Errorf("%s: %s", where, p)
	}
	if _, op := operation(c.spec, method, path); op != nil && op.Responses.Status(r.Status) != nil {
		c.checked[where] = true
	}
	return r
}

// TestOpenAPIResponsesMatchSchemas drives a tour of real requests, success
// and failure, and validates every answer against the document.
func TestOpenAPIResponsesMatchSchemas(t *testing.T) {
	s := startService(t)
	doc := fetchOpenAPI(t, s)
	c := &contract{t: t, spec: loadSpec(t, api.OpenAPI()), checked: map[string]bool{}}
	want := func(r response, status int) response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
		}
		return r
	}

	// Operations and authentication.
	c.check("GET", "/healthz", want(s.do("GET", "/healthz", "", nil), 200))
	c.check("GET", "/readyz", want(s.do("GET", "/readyz", "", nil), 200))
	c.check("GET", "/metrics", want(s.do("GET", "/metrics", "", nil), 200))
	c.check("GET", "/openapi.json", want(s.do("GET", "/openapi.json", "", nil), 200))
	signIn := c.check("POST", "/v1/auth/sign-in", want(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": adminEmail, "password": adminPassword}), 200))
	admin := signIn.str("token")
	c.check("POST", "/v1/auth/sign-in", want(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": adminEmail, "password": "wrong password"}), 401))
	c.check("POST", "/v1/auth/sign-in", want(s.do("POST", "/v1/auth/sign-in", "", "{"), 400))
	c.check("GET", "/v1/me", want(s.do("GET", "/v1/me", admin, nil), 200))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users", "", nil), 401))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users", "not-a-token", nil), 401))

	// Users.
	newUser := map[string]any{"email": "Ada@Uni.Example", "name": "Ada", "roles": []string{"student"}, "password": "ada's password",
		"profile": map[string]string{"code": "S1", "programme": "CS"}}
	created := c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, newUser), 201))
	studentID := created.str("id")
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, newUser), 409))
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, map[string]any{"email": "nope", "name": "", "roles": []string{}}), 400))
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, map[string]any{"email": "x@uni.example", "name": "X", "roles": []string{"student"}, "shoe": 9}), 400))
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, `{"email":"x@uni.example"}`, "Content-Type", "text/plain"), 415))
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, newUser, "Idempotency-Key", "bad key!"), 400))
	c.check("GET", "/v1/users/{id}", want(s.do("GET", fmt.Sprintf("/v1/users/%s?min_version=%d", studentID, created.num("version")), admin, nil), 200))
	c.check("GET", "/v1/users/{id}", want(s.do("GET", "/v1/users/01a22504-0000-7000-8000-000000000000", admin, nil), 404))
	c.check("GET", "/v1/users/{id}", want(s.do("GET", "/v1/users/"+studentID+"?min_version=-1", admin, nil), 400))
	c.check("GET", "/v1/users/{id}", want(s.do("GET", fmt.Sprintf("/v1/users/%s?min_version=%d", studentID, created.num("version")+1), admin, nil), 404))
	after := "?after=" + url.QueryEscape(created.Header.Get("Capstone-Bookmark"))
	c.check("GET", "/v1/users/{id}", want(s.do("GET", "/v1/users/"+studentID+after, admin, nil), 200))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users"+after, admin, nil), 200))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users?after=forged", admin, nil), 400))
	c.check("GET", "/v1/users/{id}/history", want(s.do("GET", "/v1/users/"+studentID+"/history"+after, admin, nil), 200))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users?role=student&limit=10", admin, nil), 200))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users?role=wizard", admin, nil), 400))
	waitFor(t, "two users listed", func() bool { return len(s.do("GET", "/v1/users", admin, nil).items()) >= 2 })
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users?limit=1", admin, nil), 200))
	patched := c.check("PATCH", "/v1/users/{id}", want(s.do("PATCH", "/v1/users/"+studentID, admin, map[string]any{"name": "Ada L."},
		"If-Match", created.Header.Get("ETag")), 200))
	c.check("PATCH", "/v1/users/{id}", want(s.do("PATCH", "/v1/users/"+studentID, admin, map[string]any{"name": "Ada"}, "If-Match", `"999"`), 412))
	c.check("PATCH", "/v1/users/{id}", want(s.do("PATCH", "/v1/users/"+studentID, admin, map[string]any{"name": "Ada"}, "If-Match", `three`), 400))
	c.check("GET", "/v1/users/{id}/history", want(s.do("GET", "/v1/users/"+studentID+"/history", admin, nil), 200))
	c.check("GET", "/v1/users/{id}/history", want(s.do("GET", "/v1/users/01a22504-0000-7000-8000-000000000000/history", admin, nil), 404))
	me := c.check("GET", "/v1/me", want(s.do("GET", "/v1/me", admin, nil), 200))
	c.check("DELETE", "/v1/users/{id}", want(s.do("DELETE", "/v1/users/"+me.str("id"), admin, nil), 422))

	student := s.signIn("ada@uni.example", "ada's password")
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users", student, nil), 403))
	c.check("PATCH", "/v1/users/{id}", want(s.do("PATCH", "/v1/users/"+studentID, student, map[string]any{"roles": []string{"coordinator"}}), 403))
	c.check("PATCH", "/v1/users/{id}", want(s.do("PATCH", "/v1/users/"+me.str("id"), student, map[string]any{"name": "Me"}), 404))
	c.check("PUT", "/v1/me/password", want(s.do("PUT", "/v1/me/password", student, map[string]string{"current_password": "wrong password", "new_password": "a new long password"}), 422))
	c.check("PUT", "/v1/me/password", want(s.do("PUT", "/v1/me/password", student, map[string]string{"current_password": "ada's password", "new_password": "short"}), 400))
	c.check("PUT", "/v1/me/password", want(s.do("PUT", "/v1/me/password", student, map[string]string{"current_password": "ada's password", "new_password": "ada's new password"}), 200))
	c.check("GET", "/v1/me", want(s.do("GET", "/v1/me", student, nil), 401)) // the change ended the token
	student = s.signIn("ada@uni.example", "ada's new password")
	leaving := s.signIn("ada@uni.example", "ada's new password")
	c.check("POST", "/v1/auth/sign-out", want(s.do("POST", "/v1/auth/sign-out", leaving, nil), 204))
	c.check("POST", "/v1/auth/sign-out", want(s.do("POST", "/v1/auth/sign-out", leaving, nil), 401))
	_ = patched

	// Passwords set with a one-time token.
	noPassID := c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, map[string]any{"email": "sup@uni.example", "name": "Sup", "roles": []string{"supervisor"}},
		"Idempotency-Key", "create-sup-1"), 201)).str("id")
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, map[string]any{"email": "sup@uni.example", "name": "Sup", "roles": []string{"supervisor"}},
		"Idempotency-Key", "create-sup-1"), 201))
	c.check("POST", "/v1/users", want(s.do("POST", "/v1/users", admin, map[string]any{"email": "sup2@uni.example", "name": "Sup", "roles": []string{"supervisor"}},
		"Idempotency-Key", "create-sup-1"), 422))
	tok := c.check("POST", "/v1/users/{id}/password-token", want(s.do("POST", "/v1/users/"+noPassID+"/password-token", admin, nil), 201)).str("token")
	c.check("POST", "/v1/users/{id}/password-token", want(s.do("POST", "/v1/users/"+noPassID+"/password-token", student, nil), 403))
	c.check("POST", "/v1/users/{id}/password-token", want(s.do("POST", "/v1/users/01a22504-0000-7000-8000-000000000000/password-token", admin, nil), 404))
	c.check("POST", "/v1/auth/set-password", want(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": tok, "password": "short"}), 400))
	c.check("POST", "/v1/auth/set-password", want(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": tok, "password": "supervisor password"}), 200))
	c.check("POST", "/v1/auth/set-password", want(s.do("POST", "/v1/auth/set-password", "", map[string]string{"token": tok, "password": "supervisor password"}), 401))
	supID := noPassID
	sup := s.signIn("sup@uni.example", "supervisor password")
	examID := s.createUser(admin, "exam@uni.example", "Exam", []string{"examiner"}, "examiner password")
	exam := s.signIn("exam@uni.example", "examiner password")

	// Supervisors and students.
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", admin, map[string]any{"capacity": 2}), 200))
	prof := c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", sup, map[string]any{
		"areas": []string{"Databases", "Compilers"}, "info": "Office 3.14",
		"project_ideas": []map[string]string{{"title": "A query optimiser", "description": "Cost-based."}}}), 200))
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", sup, map[string]any{"info": "x"}, "If-Match", `"0"`), 412)) // the capacity made no version: the profile is at 1
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", sup, map[string]any{"capacity": 9}), 403))
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+studentID+"/profile", admin, map[string]any{"info": "x"}), 404))
	_ = prof
	waitFor(t, "the supervisor's profile", func() bool {
		r := s.do("GET", "/v1/supervisors/"+supID, student, nil)
		return r.Status == 200 && r.str("info") != "" && r.num("capacity") == 2
	})
	list := c.check("GET", "/v1/supervisors", want(s.do("GET", "/v1/supervisors", student, nil), 200))
	c.check("GET", "/v1/supervisors", want(s.do("GET", "/v1/supervisors", student, nil, "If-None-Match", list.Header.Get("ETag")), 304))
	c.check("GET", "/v1/supervisors/{id}", want(s.do("GET", "/v1/supervisors/"+supID, student, nil), 200))
	c.check("GET", "/v1/supervisors/{id}", want(s.do("GET", "/v1/supervisors/"+studentID, student, nil), 404))
	c.check("PUT", "/v1/students/{id}/preferences", want(s.do("PUT", "/v1/students/"+studentID+"/preferences", student, map[string]any{"supervisor_ids": []string{supID}}), 200))
	c.check("PUT", "/v1/students/{id}/preferences", want(s.do("PUT", "/v1/students/"+studentID+"/preferences", student, map[string]any{"supervisor_ids": []string{}}), 400))
	c.check("PUT", "/v1/students/{id}/preferences", want(s.do("PUT", "/v1/students/"+studentID+"/preferences", student, map[string]any{"supervisor_ids": []string{examID}}), 422))
	c.check("PUT", "/v1/students/{id}/preferences", want(s.do("PUT", "/v1/students/"+supID+"/preferences", student, map[string]any{"supervisor_ids": []string{supID}}), 403))
	c.check("POST", "/v1/allocation", want(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "seed": 7}), 200))
	c.check("POST", "/v1/allocation", want(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "objective": "best"}), 400))
	c.check("POST", "/v1/allocation", want(s.do("POST", "/v1/allocation", student, map[string]any{"dry_run": true}), 403))

	// Projects.
	p := c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", student, map[string]string{"title": "A query optimiser", "aim": "Faster joins"}, "Idempotency-Key", "proj-1"), 201))
	pid := p.str("id")
	c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", student, map[string]string{"title": "A query optimiser", "aim": "Faster joins"}, "Idempotency-Key", "proj-1"), 201))
	c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", student, map[string]string{"title": ""}), 400))
	c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", student, map[string]string{"title": "T", "supervisor_id": examID}), 422))
	c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", sup, map[string]string{"title": "T"}), 403))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", pid, p.num("version")), student, nil), 200))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/01a22504-0000-7000-8000-000000000000", student, nil), 404))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid+"?as_of=yesterday", student, nil), 400))
	c.check("PATCH", "/v1/projects/{id}", want(s.do("PATCH", "/v1/projects/"+pid, student, map[string]string{"rationale": "Joins are slow"}, "If-Match", p.Header.Get("ETag")), 200))
	c.check("PATCH", "/v1/projects/{id}", want(s.do("PATCH", "/v1/projects/"+pid, student, map[string]string{"rationale": "Stale"}, "If-Match", p.Header.Get("ETag")), 412))
	c.check("POST", "/v1/projects/{id}/submit", want(s.do("POST", "/v1/projects/"+pid+"/submit", student, map[string]string{"supervisor_id": supID}), 200))
	c.check("POST", "/v1/projects/{id}/submit", want(s.do("POST", "/v1/projects/"+pid+"/submit", student, map[string]string{"supervisor_id": supID}), 422))
	c.check("POST", "/v1/projects/{id}/decision", want(s.do("POST", "/v1/projects/"+pid+"/decision", sup, map[string]string{"decision": "maybe"}), 400))
	accepted := c.check("POST", "/v1/projects/{id}/decision", want(s.do("POST", "/v1/projects/"+pid+"/decision", sup, map[string]string{"decision": "accept", "comment": "Good"}), 200))
	c.check("PATCH", "/v1/projects/{id}", want(s.do("PATCH", "/v1/projects/"+pid, student, map[string]string{"title": "Late"}), 422))
	c.check("PUT", "/v1/projects/{id}/examiner", want(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": supID}), 422))
	c.check("PUT", "/v1/projects/{id}/examiner", want(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": examID}), 200))
	// Marking: two blind marks too far apart, moderation, the coordinator's grade, a release.
	mark := func(tok string, body map[string]any, status int, headers ...string) response {
		t.Helper()
		return c.check("PUT", "/v1/projects/{id}/mark", want(s.do("PUT", "/v1/projects/"+pid+"/mark", tok, body, headers...), status))
	}
	mark(sup, map[string]any{"mark": 101}, 400)
	mark(sup, map[string]any{"mark": 60}, 400, "If-Match", "three")
	mark(admin, map[string]any{"mark": 60}, 403)
	mark(exam, map[string]any{"mark": 60}, 412, "If-Match", `"1"`)
	first := mark(sup, map[string]any{"mark": 40, "feedback": "Thin"}, 200)
	if m, _ := first.Body["marking"].(map[string]any); m == nil || m["state"] != "waiting" {
		t.Fatalf("the first marker's answer: %s", first.Raw)
	}
	c.check("GET", "/v1/me/marking", want(s.do("GET", "/v1/me/marking", sup, nil), 200))
	c.check("GET", "/v1/me/marking", want(s.do("GET", "/v1/me/marking?cursor=%25%25", sup, nil), 400))
	c.check("GET", "/v1/me/marking", want(s.do("GET", "/v1/me/marking", student, nil), 403))
	c.check("GET", "/v1/marking", want(s.do("GET", "/v1/marking", admin, nil), 200))
	c.check("POST", "/v1/projects/{id}/moderation", want(s.do("POST", "/v1/projects/"+pid+"/moderation", admin, map[string]any{"mark": 50}), 422))
	mark(exam, map[string]any{"mark": 80, "feedback": "Strong"}, 200)
	mark(sup, map[string]any{"mark": 45}, 422)
	c.check("GET", "/v1/marking", want(s.do("GET", "/v1/marking", admin, nil), 200))
	c.check("GET", "/v1/marking", want(s.do("GET", "/v1/marking?after=forged", admin, nil), 400))
	c.check("GET", "/v1/marking", want(s.do("GET", "/v1/marking?limit=3", admin, nil), 400))
	c.check("GET", "/v1/marking", want(s.do("GET", "/v1/marking", sup, nil), 403))
	c.check("PUT", "/v1/marking/threshold", want(s.do("PUT", "/v1/marking/threshold", admin, map[string]any{"threshold": 101}), 400))
	c.check("PUT", "/v1/marking/threshold", want(s.do("PUT", "/v1/marking/threshold", admin, map[string]any{"threshold": 15}), 200))
	c.check("PUT", "/v1/marking/threshold", want(s.do("PUT", "/v1/marking/threshold", sup, map[string]any{"threshold": 15}), 403))
	c.check("POST", "/v1/marking/release", want(s.do("POST", "/v1/marking/release", admin, map[string]any{"project_ids": []string{pid}}), 422))
	c.check("POST", "/v1/marking/release", want(s.do("POST", "/v1/marking/release", admin, map[string]any{"project_ids": []string{}}), 400))
	c.check("POST", "/v1/projects/{id}/moderation", want(s.do("POST", "/v1/projects/"+pid+"/moderation", sup, map[string]any{"mark": 61}), 403))
	c.check("POST", "/v1/projects/{id}/moderation", want(s.do("POST", "/v1/projects/"+pid+"/moderation", admin, map[string]any{"mark": 101}), 400))
	c.check("POST", "/v1/projects/{id}/moderation", want(s.do("POST", "/v1/projects/"+pid+"/moderation", admin, map[string]any{"mark": 61, "comment": "Read twice"}), 200))
	c.check("POST", "/v1/projects/{id}/moderation", want(s.do("POST", "/v1/projects/01a22504-0000-7000-8000-000000000000/moderation", admin, map[string]any{"mark": 61}), 404))
	c.check("PUT", "/v1/projects/{id}/grade", want(s.do("PUT", "/v1/projects/"+pid+"/grade", admin, map[string]any{"grade": 101}), 400))
	c.check("PUT", "/v1/projects/{id}/grade", want(s.do("PUT", "/v1/projects/"+pid+"/grade", admin, map[string]any{"grade": 72, "feedback": "Solid"}), 200))
	c.check("PUT", "/v1/projects/{id}/grade", want(s.do("PUT", "/v1/projects/"+pid+"/grade", student, map[string]any{"grade": 100}), 403))
	c.check("PUT", "/v1/projects/{id}/grade", want(s.do("PUT", "/v1/projects/01a22504-0000-7000-8000-000000000000/grade", admin, map[string]any{"grade": 1}), 404))
	c.check("POST", "/v1/marking/release", want(s.do("POST", "/v1/marking/release", student, nil), 403))
	released := c.check("POST", "/v1/marking/release", want(s.do("POST", "/v1/marking/release", admin, nil), 200))
	if n := len(released.Body["released"].([]any)); n != 1 {
		t.Fatalf("the release: %s", released.Raw)
	}
	c.check("GET", "/v1/me/marking", want(s.do("GET", "/v1/me/marking?limit=1", exam, nil), 200))
	waitFor(t, "the accepted project", func() bool {
		return s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", pid, accepted.num("version")+1), student, nil).str("examiner_id") != ""
	})
	seen := c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid, sup, nil), 200))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid, sup, nil, "If-None-Match", seen.Header.Get("ETag")), 304))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid+"?at_version=1", student, nil), 200))
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid+"?as_of="+time.Now().UTC().Format(time.RFC3339Nano), student, nil), 200))
	c.check("GET", "/v1/projects", want(s.do("GET", "/v1/projects?status=accepted&supervisor_id="+supID+"&student_id="+studentID+"&q=query", admin, nil), 200))
	c.check("GET", "/v1/projects", want(s.do("GET", "/v1/projects?cursor=%25%25", student, nil), 400))
	c.check("GET", "/v1/projects/{id}/history", want(s.do("GET", "/v1/projects/"+pid+"/history", student, nil), 200))
	waitFor(t, "the student's overview", func() bool {
		r := s.do("GET", "/v1/students/"+studentID, admin, nil)
		return r.Status == 200 && r.Body["grade"] != nil && r.str("examiner_id") != ""
	})
	c.check("GET", "/v1/students/{id}", want(s.do("GET", "/v1/students/"+studentID, student, nil), 200))
	c.check("GET", "/v1/students/{id}", want(s.do("GET", "/v1/students/"+studentID, sup, nil), 200))
	c.check("GET", "/v1/students/{id}", want(s.do("GET", "/v1/students/"+supID, student, nil), 404))
	c.check("GET", "/v1/supervisors/{id}/supervisees", want(s.do("GET", "/v1/supervisors/"+supID+"/supervisees", sup, nil), 200))
	c.check("GET", "/v1/supervisors/{id}/supervisees", want(s.do("GET", "/v1/supervisors/"+supID+"/supervisees?cursor=%25%25", sup, nil), 400))
	c.check("GET", "/v1/supervisors/{id}/supervisees", want(s.do("GET", "/v1/supervisors/01a2430c-0000-7000-8000-000000000000/supervisees", sup, nil), 404))
	c.check("GET", "/v1/users", want(s.do("GET", "/v1/users?email=ADA@uni.example&code=S1", admin, nil), 200))
	c.check("GET", "/v1/supervisors", want(s.do("GET", "/v1/supervisors?email=sup@uni.example", student, nil), 200))
	c.check("GET", "/v1/students/{id}/project-info", want(s.do("GET", "/v1/students/"+studentID+"/project-info", student, nil), 404))
	c.check("PUT", "/v1/students/{id}/project-info", want(s.do("PUT", "/v1/students/"+studentID+"/project-info", student, map[string]string{"title": "What I do", "description": "It"}), 200))
	c.check("PUT", "/v1/students/{id}/project-info", want(s.do("PUT", "/v1/students/"+studentID+"/project-info", student, map[string]string{"title": ""}), 400))
	c.check("PUT", "/v1/students/{id}/project-info", want(s.do("PUT", "/v1/students/"+studentID+"/project-info", sup, map[string]string{"title": "Not mine"}), 403))
	c.check("GET", "/v1/students/{id}/project-info", want(s.do("GET", "/v1/students/"+studentID+"/project-info", student, nil), 200))
	c.check("GET", "/v1/students/{id}/project-info", want(s.do("GET", "/v1/students/"+studentID+"/project-info", sup, nil), 404))
	c.check("DELETE", "/v1/projects/{id}", want(s.do("DELETE", "/v1/projects/"+pid, student, nil), 422))
	draft := c.check("POST", "/v1/projects", want(s.do("POST", "/v1/projects", student, map[string]string{"title": "Second thoughts"}), 201))
	c.check("PUT", "/v1/projects/{id}/grade", want(s.do("PUT", "/v1/projects/"+draft.str("id")+"/grade", admin, map[string]any{"grade": 1}), 422))
	c.check("DELETE", "/v1/projects/{id}", want(s.do("DELETE", "/v1/projects/"+draft.str("id"), student, nil, "If-Match", draft.Header.Get("ETag")), 204))
	c.check("DELETE", "/v1/projects/{id}", want(s.do("DELETE", "/v1/projects/"+draft.str("id"), student, nil), 404))

	// Imports, exports, deletion.
	c.check("POST", "/v1/imports/{kind}", want(s.upload(admin, "supervisors", "supervisors.csv", fixture(t, "supervisors.csv"), "?dry_run=true"), 200))
	c.check("POST", "/v1/imports/{kind}", want(s.upload(admin, "wizards", "w.csv", []byte("a,b\n"), ""), 404))
	c.check("POST", "/v1/imports/{kind}", want(s.upload(admin, "students", "s.csv", []byte("Name\nx\n"), ""), 400))
	c.check("POST", "/v1/imports/{kind}", want(s.do("POST", "/v1/imports/students", admin, map[string]string{}), 415))
	c.check("POST", "/v1/imports/{kind}", want(s.upload(admin, "students", "s.csv", fixture(t, "students.csv"), "?passwords=perhaps"), 400))
	c.check("POST", "/v1/imports/{kind}", want(s.upload(admin, "examiners", "e.csv", fixture(t, "examiners.csv"), "?passwords=true&dry_run=true"), 200))
	c.check("GET", "/v1/exports/{name}.csv", want(s.do("GET", "/v1/exports/final-grades.csv", admin, nil), 200))
	c.check("GET", "/v1/exports/{name}.csv", want(s.do("GET", "/v1/exports/marks.csv", admin, nil), 200))
	c.check("GET", "/v1/exports/{name}.csv", want(s.do("GET", "/v1/exports/supervisor-assignments.csv", student, nil), 403))
	c.check("GET", "/v1/exports/{name}.csv", want(s.do("GET", "/v1/exports/wizards.csv", admin, nil), 404))
	c.check("DELETE", "/v1/users/{id}", want(s.do("DELETE", "/v1/users/"+examID, admin, nil, "If-Match", `"7"`), 412))
	c.check("DELETE", "/v1/users/{id}", want(s.do("DELETE", "/v1/users/"+examID, admin, nil), 204))
	c.check("DELETE", "/v1/users/{id}", want(s.do("DELETE", "/v1/users/"+examID, admin, nil), 404))

	// Projections and rebuilds. The figures are flushed every couple of
	// seconds: wait until they show, so position is validated too.
	waitForLong(t, "the projections' figures", 15*time.Second, func() bool {
		for _, it := range s.do("GET", "/v1/admin/projections", admin, nil).items() {
			if it["position"] != nil && it["instances"] != float64(0) {
				return true
			}
		}
		return false
	})
	c.check("GET", "/v1/admin/projections", want(s.do("GET", "/v1/admin/projections", admin, nil), 200))
	c.check("GET", "/v1/admin/projections", want(s.do("GET", "/v1/admin/projections", "", nil), 401))
	c.check("GET", "/v1/admin/projections", want(s.do("GET", "/v1/admin/projections", student, nil), 403))
	c.check("POST", "/v1/admin/projections/rebuild", want(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{"nope"}}), 400))
	c.check("POST", "/v1/admin/projections/rebuild", want(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"verify": true, "force": true}), 400))
	c.check("POST", "/v1/admin/projections/rebuild", want(s.do("POST", "/v1/admin/projections/rebuild", student, map[string]any{"verify": true}), 403))
	c.check("POST", "/v1/admin/projections/rebuild", want(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"verify": true}), 202))
	// A second one while the first runs is 409; if the first already
	// finished it starts another, which is a 202 as well.
	again := s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"verify": true})
	if again.Status != 409 && again.Status != 202 {
		t.Fatalf("a second rebuild: status %d, want 409 or 202: %s", again.Status, again.Raw)
	}
	c.check("POST", "/v1/admin/projections/rebuild", again)
	done := c.check("GET", "/v1/admin/projections", awaitRebuild(t, s, admin))
	if rb, _ := done.Body["rebuild"].(map[string]any); rb == nil || rb["phase"] != "done" || rb["error"] != nil || rb["finished_at"] == nil {
		t.Errorf("the finished rebuild: %s", done.Raw)
	}
	c.check("POST", "/v1/admin/projections/rebuild", want(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{"users"}, "verify": true}), 202))
	awaitRebuild(t, s, admin)

	// Coverage: which documented operations the tour reached.
	reached := map[string]bool{}
	for k := range c.checked {
		reached[k[:strings.LastIndexByte(k, ' ')]] = true
	}
	var unreached []string
	for k := range doc.operations() {
		if !reached[k] {
			unreached = append(unreached, k)
		}
	}
	sort.Strings(unreached)
	t.Logf("validated %d (operation, status) pairs over %d of %d operations", len(c.checked), len(reached), len(doc.operations()))
	if len(unreached) > 0 {
		t.Logf("not reached: %s", strings.Join(unreached, ", "))
	}
}
