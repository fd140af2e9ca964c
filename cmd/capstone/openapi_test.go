package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"mime"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/api"
)

// This file checks api/openapi.json against the running service: every
// registered route is documented and every documented path is registered
// (TestOpenAPIMatchesRoutes), and real responses match the schemas the
// document declares for their operation and status
// (TestOpenAPIResponsesMatchSchemas). The schema validator below covers the
// subset of JSON Schema the document uses, and refuses any keyword it does
// not know, so the document cannot silently rely on something unchecked.

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

// schemaValidator validates decoded JSON (json.Number for numbers) against
// the JSON Schema subset of OpenAPI 3.0 used by the document.
type schemaValidator struct{ doc oaDoc }

var schemaAnnotations = map[string]bool{"description": true, "title": true, "example": true, "default": true,
	"readOnly": true, "writeOnly": true, "deprecated": true}

var schemaKeywords = map[string]bool{"$ref": true, "type": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "enum": true, "nullable": true, "format": true, "oneOf": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "pattern": true, "minItems": true,
	"maxItems": true, "uniqueItems": true}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validate returns one message per violation (none when val matches).
func (v schemaValidator) validate(schema any, val any, at string) []string {
	if at == "" {
		at = "$"
	}
	sm, ok := schema.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: the schema is a %T, not an object", at, schema)}
	}
	if ref, ok := sm["$ref"].(string); ok {
		target, err := v.doc.resolve(ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return v.validate(target, val, at)
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range sm {
		if !schemaKeywords[k] && !schemaAnnotations[k] && !strings.HasPrefix(k, "x-") {
			fail("the validator does not support the schema keyword %q", k)
		}
	}
	if val == nil {
		if sm["nullable"] != true {
			fail("is null, and the schema is not nullable")
		}
		return errs
	}
	if one, ok := sm["oneOf"].([]any); ok {
		matched := 0
		for _, alt := range one {
			if len(v.validate(alt, val, at)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			fail("matches %d of the oneOf alternatives, want exactly 1", matched)
		}
	}
	if typ, ok := sm["type"].(string); ok && !hasJSONType(val, typ) {
		fail("is %s, want %s", jsonTypeName(val), typ)
		return errs
	}
	if enum, ok := sm["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return sameJSON(e, val) }) {
		fail("%s is not one of %s", compactJSON(val), compactJSON(enum))
	}
	switch x := val.(type) {
	case string:
		v.checkString(sm, x, fail)
	case json.Number:
		checkNumber(sm, x, fail)
	case []any:
		if n, ok := schemaInt(sm, "minItems"); ok && len(x) < n {
			fail("has %d items, want at least %d", len(x), n)
		}
		if n, ok := schemaInt(sm, "maxItems"); ok && len(x) > n {
			fail("has %d items, want at most %d", len(x), n)
		}
		if sm["uniqueItems"] == true {
			seen := map[string]bool{}
			for _, it := range x {
				k := compactJSON(it)
				if seen[k] {
					fail("repeats %s, but items must be unique", k)
				}
				seen[k] = true
			}
		}
		if items, ok := sm["items"]; ok {
			for i, it := range x {
				errs = append(errs, v.validate(items, it, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case map[string]any:
		required, _ := sm["required"].([]any)
		for _, r := range required {
			if _, ok := x[fmt.Sprint(r)]; !ok {
				fail("lacks the required property %q", r)
			}
		}
		props, _ := sm["properties"].(map[string]any)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				errs = append(errs, v.validate(ps, x[k], at+"."+k)...)
				continue
			}
			switch ap := sm["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("has the property %q, which the schema does not declare (additionalProperties: false)", k)
				}
			case map[string]any:
				errs = append(errs, v.validate(ap, x[k], at+"."+k)...)
			}
		}
	}
	return errs
}

func (v schemaValidator) checkString(sm map[string]any, s string, fail func(string, ...any)) {
	n := utf8.RuneCountInString(s)
	if m, ok := schemaInt(sm, "minLength"); ok && n < m {
		fail("is %d characters long, want at least %d", n, m)
	}
	if m, ok := schemaInt(sm, "maxLength"); ok && n > m {
		fail("is %d characters long, want at most %d", n, m)
	}
	if p, ok := sm["pattern"].(string); ok {
		rx, err := regexp.Compile(p)
		if err != nil {
			fail("the pattern %q does not compile: %v", p, err)
		} else if !rx.MatchString(s) {
			fail("%q does not match %q", s, p)
		}
	}
	format, _ := sm["format"].(string)
	switch format {
	case "":
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			fail("%q is not an RFC 3339 date-time", s)
		}
	case "uuid":
		if !uuidPattern.MatchString(s) {
			fail("%q is not a UUID", s)
		}
	case "email":
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			fail("%q is not an e-mail address", s)
		}
	case "binary":
	default:
		fail("the validator does not support the format %q", format)
	}
}

func checkNumber(sm map[string]any, n json.Number, fail func(string, ...any)) {
	val, ok := new(big.Float).SetString(string(n))
	if !ok {
		fail("%s is not a number", n)
		return
	}
	if minimum, ok := sm["minimum"].(json.Number); ok {
		if m, _ := new(big.Float).SetString(string(minimum)); m != nil && val.Cmp(m) < 0 {
			fail("%s is below the minimum %s", n, minimum)
		}
	}
	if maximum, ok := sm["maximum"].(json.Number); ok {
		if m, _ := new(big.Float).SetString(string(maximum)); m != nil && val.Cmp(m) > 0 {
			fail("%s is above the maximum %s", n, maximum)
		}
	}
}

func schemaInt(sm map[string]any, key string) (int, bool) {
	n, ok := sm[key].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil
}

func hasJSONType(val any, typ string) bool {
	switch typ {
	case "object":
		_, ok := val.(map[string]any)
		return ok
	case "array":
		_, ok := val.([]any)
		return ok
	case "string":
		_, ok := val.(string)
		return ok
	case "boolean":
		_, ok := val.(bool)
		return ok
	case "number":
		_, ok := val.(json.Number)
		return ok
	case "integer":
		n, ok := val.(json.Number)
		if !ok {
			return false
		}
		f, ok := new(big.Float).SetString(string(n))
		return ok && f.IsInt()
	}
	return false
}

func jsonTypeName(val any) string {
	switch val.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("a %T", val)
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sameJSON(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		x, _ := new(big.Float).SetString(string(an))
		y, _ := new(big.Float).SetString(string(bn))
		return x != nil && y != nil && x.Cmp(y) == 0
	}
	return compactJSON(a) == compactJSON(b)
}

// TestOpenAPIValidator: the validator refuses what it must (a missing
// required field, a wrong type, an unknown key, a bad format, a value outside
// an enum, an unexpected null) and accepts a conforming document.
func TestOpenAPIValidator(t *testing.T) {
	doc := parseOpenAPI(t, api.OpenAPI())
	v := schemaValidator{doc: doc}
	user := schemaRef("User")
	good := `{"id":"01a22504-11cb-782c-be73-b07ed3339155","email":"ada@uni.example","name":"Ada","roles":["student"],
		"profile":{"code":"S1"},"version":3,"created_at":"2026-01-02T15:04:05.123Z"}`
	if errs := v.validate(user, mustJSON(t, good), ""); len(errs) > 0 {
		t.Fatalf("a valid user is refused: %v", errs)
	}
	for name, c := range map[string]struct {
		schema map[string]any
		body   string
		want   string
	}{
		"missing required": {user, `{"id":"01a22504-11cb-782c-be73-b07ed3339155","name":"Ada","roles":["student"],"profile":{},"version":1}`, `required property "email"`},
		"wrong type":       {user, strings.Replace(good, `"version":3`, `"version":"3"`, 1), "is a string, want integer"},
		"not an integer":   {user, strings.Replace(good, `"version":3`, `"version":3.5`, 1), "want integer"},
		"unknown key":      {user, strings.Replace(good, `"version":3`, `"version":3,"password":"x"`, 1), `property "password"`},
		"nested unknown":   {user, strings.Replace(good, `"code":"S1"`, `"shoe_size":"9"`, 1), `$.profile: has the property "shoe_size"`},
		"enum":             {user, strings.Replace(good, `["student"]`, `["admin"]`, 1), `"admin" is not one of`},
		"date-time":        {user, strings.Replace(good, `2026-01-02T15:04:05.123Z`, `yesterday`, 1), "not an RFC 3339 date-time"},
		"uuid":             {user, strings.Replace(good, `01a22504-11cb-782c-be73-b07ed3339155`, `42`, 1), "not a UUID"},
		"null":             {user, strings.Replace(good, `["student"]`, `null`, 1), "not nullable"},
		"array of wrong":   {user, strings.Replace(good, `["student"]`, `"student"`, 1), "is a string, want array"},
		"min items":        {user, strings.Replace(good, `["student"]`, `[]`, 1), "at least 1"},
		"problem field":    {schemaRef("Problem"), `{"type":"about:blank","title":"Bad Request","status":400,"code":"invalid","errors":[{"field":"x"}]}`, `required property "message"`},
		"problem status":   {schemaRef("Problem"), `{"type":"about:blank","title":"OK","status":200,"code":"x"}`, "below the minimum 400"},
		"oneOf none":       {map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, `true`, "0 of the oneOf"},
		"oneOf both":       {map[string]any{"oneOf": []any{map[string]any{"type": "number"}, map[string]any{"type": "integer"}}}, `3`, "2 of the oneOf"},
		"unknown keyword":  {map[string]any{"type": "string", "const": "x"}, `"x"`, `keyword "const"`},
		"max length":       {map[string]any{"type": "string", "maxLength": json.Number("2")}, `"abc"`, "at most 2"},
		"unique items":     {map[string]any{"type": "array", "uniqueItems": true}, `["a","a"]`, "unique"},
		"bad ref":          {map[string]any{"$ref": "#/components/schemas/NoSuchThing"}, `{}`, "does not resolve"},
		"above maximum":    {schemaRef("AllocationResult"), strings.Replace(allocationResult, "SEED", "9007199254740992", 1), "above the maximum"},
	} {
		errs := v.validate(c.schema, mustJSON(t, c.body), "")
		if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, c.want) }) {
			t.Errorf("%s: got %q, want an error containing %q", name, errs, c.want)
		}
	}
	for name, c := range map[string]struct {
		schema map[string]any
		body   string
	}{
		"nullable":     {map[string]any{"type": "string", "nullable": true}, `null`},
		"oneOf":        {map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}, `7`},
		"largest seed": {schemaRef("AllocationResult"), strings.Replace(allocationResult, "SEED", "9007199254740991", 1)},
		"free data":    {schemaRef("HistoryEntry"), `{"type":"X","version":1,"at":"2026-01-02T15:04:05Z","actor":{"user_id":"system"},"data":{"anything":[1,{"a":null}]}}`},
	} {
		if errs := v.validate(c.schema, mustJSON(t, c.body), ""); len(errs) > 0 {
			t.Errorf("%s: a valid value is refused: %v", name, errs)
		}
	}
}

// allocationResult is an AllocationResult with its seed left as SEED.
const allocationResult = `{"run_id":"01a22504-11f0-7688-af47-9503be28e50d","applied":false,"dry_run":true,"objective":"generous","seed":SEED,"assignments":[],"unplaced":[],"profile":{"by_rank":{"1":0,"2":0,"3":0,"4":0,"5":0},"outside_list":0,"unplaced":0,"students":0,"capacity":0}}`

// schemaRef is a $ref to a component schema.
func schemaRef(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
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
	doc     oaDoc
	v       schemaValidator
	checked map[string]bool // "METHOD /path STATUS"
}

// check validates a response of the operation method+path (a template):
// its status is documented, its required headers are present and valid, its
// content type is declared and its body matches the declared schema; for a
// problem, its code is listed in x-codes and its status matches.
func (c *contract) check(method, path string, r response) response {
	c.t.Helper()
	key := method + " " + path
	op := c.doc.operations()[key]
	if op == nil {
		c.t.Errorf("%s is not documented", key)
		return r
	}
	responses, _ := op["responses"].(map[string]any)
	declared, ok := responses[strconv.Itoa(r.Status)]
	if !ok {
		c.t.Errorf("%s answered %d, which the document does not declare: %s", key, r.Status, r.Raw)
		return r
	}
	c.checked[fmt.Sprintf("%s %d", key, r.Status)] = true
	rm, err := c.doc.deref(declared)
	if err != nil {
		c.t.Errorf("%s %d: %v", key, r.Status, err)
		return r
	}
	where := fmt.Sprintf("%s %d", key, r.Status)
	headers, _ := rm["headers"].(map[string]any)
	for name, h := range headers {
		hm, err := c.doc.deref(h)
		if err != nil {
			c.t.Errorf("%s: header %s: %v", where, name, err)
			continue
		}
		got := r.Header.Get(name)
		if got == "" {
			if hm["required"] == true {
				c.t.Errorf("%s: the required header %s is missing", where, name)
			}
			continue
		}
		var val any = got
		if sch, err := c.doc.deref(hm["schema"]); err == nil && sch["type"] == "integer" {
			val = json.Number(got)
		}
		for _, e := range c.v.validate(hm["schema"], val, "header "+name) {
			c.t.Errorf("%s: %s", where, e)
		}
	}
	content, _ := rm["content"].(map[string]any)
	if len(content) == 0 {
		if r.Raw != "" {
			c.t.Errorf("%s: the document declares no body, got %q", where, r.Raw)
		}
		return r
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		c.t.Errorf("%s: bad Content-Type %q", where, r.Header.Get("Content-Type"))
		return r
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		c.t.Errorf("%s: Content-Type %s is not among the declared %v", where, mt, slices.Sorted(mapKeys(content)))
		return r
	}
	if mt != "application/json" && mt != "application/problem+json" {
		return r
	}
	var body any
	if err := decodeJSONNumbers([]byte(r.Raw), &body); err != nil {
		c.t.Errorf("%s: the body is not JSON: %v", where, err)
		return r
	}
	for _, e := range c.v.validate(media["schema"], body, "") {
		c.t.Errorf("%s: %s\nbody: %s", where, e, r.Raw)
	}
	if mt == "application/problem+json" {
		bm, _ := body.(map[string]any)
		codes, _ := rm["x-codes"].([]any)
		if !slices.Contains(codes, any(bm["code"])) {
			c.t.Errorf("%s: code %v is not among the documented %v", where, bm["code"], codes)
		}
		if fmt.Sprint(bm["status"]) != strconv.Itoa(r.Status) {
			c.t.Errorf("%s: the problem's status %v is not the HTTP status", where, bm["status"])
		}
	}
	return r
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOpenAPIResponsesMatchSchemas drives a tour of real requests, success
// and failure, and validates every answer against the document.
func TestOpenAPIResponsesMatchSchemas(t *testing.T) {
	s := startService(t)
	doc := fetchOpenAPI(t, s)
	c := &contract{t: t, doc: doc, v: schemaValidator{doc: doc}, checked: map[string]bool{}}
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
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", sup, map[string]any{"info": "x"}, "If-Match", `"1"`), 412))
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+supID+"/profile", sup, map[string]any{"capacity": 9}), 403))
	c.check("PUT", "/v1/supervisors/{id}/profile", want(s.do("PUT", "/v1/supervisors/"+studentID+"/profile", admin, map[string]any{"info": "x"}), 404))
	_ = prof
	waitFor(t, "the supervisor's profile", func() bool {
		r := s.do("GET", "/v1/supervisors/"+supID, student, nil)
		return r.Status == 200 && r.str("info") != "" && r.num("capacity") == 2
	})
	c.check("GET", "/v1/supervisors", want(s.do("GET", "/v1/supervisors", student, nil), 200))
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
	c.check("GET", "/v1/projects/{id}", want(s.do("GET", "/v1/projects/"+pid, sup, nil), 200))
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
