package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/api"
)

// The property behind TestNoRequestAnswers5xx: whatever a client sends, to
// whichever route, as whoever, the service answers it without a 5xx, and
// every error is problem+json with a code. Requests are drawn from the
// OpenAPI document (so they are often valid and reach the use cases) and
// then bent: values over their whole range and beyond, wrong types, deep
// nesting, NUL and invalid UTF-8, long strings, odd headers.
var (
	propertySeed   = flag.Uint64("property.seed", 0, "seed of TestNoRequestAnswers5xx (0: a fresh one, printed)")
	propertyBudget = flag.Duration("property.budget", 15*time.Second, "how long TestNoRequestAnswers5xx sends requests, after one full round")
)

// propRoles are the callers every route is tried as.
var propRoles = []string{"coordinator", "supervisor", "examiner", "student", "none"}

// propWorld is what the requests draw on: callers, ids and strings that the
// service knows, so that random requests often name real things.
type propWorld struct {
	tokens map[string][]string // role -> tokens of callers holding it
	ids    map[string][]string // "user", "project", "supervisor", "student", "examiner" -> ids
	// callers are the users behind the tokens: a random delete or role
	// change spares them, so that every role keeps a caller all along.
	callers map[string]bool
	// emailOf is the e-mail behind each token, to sign in again when a
	// random password change ended it.
	emailOf   map[string]string
	emails    []string
	passwords []string
	strings   []string // harvested from answers (tokens, ids)
}

// propRequest is one request, kept to be shown when it fails.
type propRequest struct {
	route             api.Route
	role              string
	method, target    string
	header            http.Header
	body              []byte
	contentType, note string
}

func (r propRequest) String() string {
	body := string(r.body)
	if len(body) > 600 {
		body = body[:600] + fmt.Sprintf("... (%d bytes)", len(r.body))
	}
	var hs []string
	for k, v := range r.header {
		if k != "Authorization" {
			hs = append(hs, fmt.Sprintf("%s: %q", k, v))
		}
	}
	sort.Strings(hs)
	return fmt.Sprintf("%s %s as %s [%s] %s\n  headers: %s\n  body: %q", r.method, r.target, r.role, r.route.Path, r.note, strings.Join(hs, ", "), body)
}

// TestNoRequestAnswers5xx drives random valid and invalid requests through
// every registered route (Server.Routes, so a new route is covered without
// a change here) as every role, and fails on any 5xx or any error that is
// not problem+json with a code. The seed is printed; -property.seed repeats
// a run and -property.budget sets how long it goes on after one full round.
func TestNoRequestAnswers5xx(t *testing.T) {
	seed := *propertySeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (go test ./cmd/capstone -run TestNoRequestAnswers5xx -property.seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	s := startService(t)
	routes := s.app.API.Routes()
	doc := parseOpenAPI(t, api.OpenAPI())
	w := newPropWorld(t, s)
	g := &propGen{rng: rng, doc: doc, w: w}

	type failure struct {
		req    propRequest
		status int
		answer string
	}
	failures := map[string]failure{}     // one per route, status and code
	tally := map[string]map[string]int{} // route -> "status code" -> answers
	start, sent := time.Now(), 0
	for round := 0; round == 0 || time.Since(start) < *propertyBudget; round++ {
		order := rng.Perm(len(routes) * len(propRoles))
		for _, k := range order {
			route, role := routes[k/len(propRoles)], propRoles[k%len(propRoles)]
			req := g.request(route, role)
			status, header, answer := sendProp(t, s, req)
			sent++
			key := route.Method + " " + route.Path
			var problem struct {
				Code, Detail string
				Errors       []struct{ Field, Message string }
			}
			_ = json.Unmarshal(answer, &problem)
			if tally[key] == nil {
				tally[key] = map[string]int{}
			}
			tally[key][strings.TrimSpace(fmt.Sprintf("%d %s", status, problem.Code))]++
			if os.Getenv("PROPERTY_DEBUG") == key && status == 400 {
				t.Logf("%s -> %s", req, problem.Detail)
			}
			g.harvest(status, answer)
			if route.Path == "/v1/me/password" && status == 200 {
				w.signInAgain(t, s, req)
			}
			switch {
			case status >= 500:
			case status >= 400 && header.Get("Content-Type") != "application/problem+json":
			case status >= 400 && (json.Unmarshal(answer, &problem) != nil || problem.Code == ""):
			case slices.ContainsFunc(problem.Errors, func(e struct{ Field, Message string }) bool { return repeatsField(e.Field, e.Message) }):
			default:
				continue
			}
			id := fmt.Sprintf("%s %d %s", key, status, problem.Code)
			if _, seen := failures[id]; !seen {
				failures[id] = failure{req: req, status: status, answer: string(answer)}
			}
		}
	}
	var lines []string
	for key, byStatus := range tally {
		var parts []string
		for st, n := range byStatus {
			parts = append(parts, fmt.Sprintf("%s:%d", st, n))
		}
		sort.Strings(parts)
		lines = append(lines, key+"  "+strings.Join(parts, " "))
	}
	sort.Strings(lines)
	t.Logf("%d requests in %s over %d routes x %d roles; answers by route:\n  %s",
		sent, time.Since(start).Round(time.Millisecond), len(routes), len(propRoles), strings.Join(lines, "\n  "))
	if len(failures) == 0 {
		return
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range failures {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		f := failures[id]
		t.Errorf("%s\n  %s\n  answer %d: %.400s", id, f.req, f.status, f.answer)
	}
	var logged []string
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, `"severity":"ERROR"`) && len(logged) < 20 {
			logged = append(logged, line)
		}
	}
	t.Errorf("seed %d: %d kinds of bad answer (repeat with -property.seed %d); the service logged:\n%s",
		seed, len(failures), seed, strings.Join(logged, "\n"))
}

// repeatsField reports whether a field's message starts with the field's
// own name, which the problem's detail ("field: message") then says twice.
func repeatsField(field, message string) bool {
	name := field[strings.LastIndexAny(field, ".]")+1:]
	return name != "" && strings.HasPrefix(strings.ToLower(message), strings.ToLower(name)+" ")
}

// sendProp sends a request and reads the whole answer.
func sendProp(t *testing.T, s *service, r propRequest) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(r.method, s.base+r.target, bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	req.Header = r.header.Clone()
	resp, err := propClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, answer
}

var propClient = &http.Client{Timeout: 30 * time.Second}

// newPropWorld creates callers of every role (several of each, so one that
// a random request deletes or demotes leaves others) and things they own.
func newPropWorld(t *testing.T, s *service) *propWorld {
	t.Helper()
	admin := s.admin()
	w := &propWorld{tokens: map[string][]string{"coordinator": {admin}}, ids: map[string][]string{},
		emails: []string{adminEmail}, passwords: []string{adminPassword, miniPassword}, callers: map[string]bool{},
		emailOf: map[string]string{admin: adminEmail}}
	me := s.do("GET", "/v1/me", admin, nil)
	w.ids["user"] = append(w.ids["user"], me.str("id"))
	w.callers[me.str("id")] = true
	add := func(role string, i int, roles ...string) string {
		email := fmt.Sprintf("prop-%s%d@uni.example", role, i)
		id := s.createUser(admin, email, fmt.Sprintf("Prop %s %d", role, i), roles, miniPassword)
		w.emails = append(w.emails, email)
		w.ids["user"] = append(w.ids["user"], id)
		w.callers[id] = true
		for _, r := range roles {
			w.ids[r] = append(w.ids[r], id)
			w.tokens[r] = append(w.tokens[r], "")
		}
		tok := s.signIn(email, miniPassword)
		w.emailOf[tok] = email
		for _, r := range roles {
			w.tokens[r][len(w.tokens[r])-1] = tok
		}
		return id
	}
	add("coordinator", 1, "coordinator")
	for i := range 6 { // targets for deletes and role changes
		email := fmt.Sprintf("prop-target%d@uni.example", i)
		w.emails = append(w.emails, email)
		w.ids["user"] = append(w.ids["user"], s.createUser(admin, email, "Prop Target", []string{pick2(i, "student", "supervisor", "coordinator")}, miniPassword))
	}
	for i := range 3 {
		id := add("supervisor", i, "supervisor")
		s.expect(s.do("PUT", "/v1/supervisors/"+id+"/profile", admin, map[string]any{"areas": []string{"Systems"}, "info": "", "capacity": 3}), 200)
	}
	add("examiner", 0, "examiner")
	both := add("staff", 0, "supervisor", "examiner")
	s.expect(s.do("PUT", "/v1/supervisors/"+both+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 2}), 200)
	for i := range 4 {
		id := add("student", i, "student")
		tok := w.tokens["student"][len(w.tokens["student"])-1]
		s.expect(s.do("PUT", "/v1/students/"+id+"/preferences", tok, map[string]any{"supervisor_ids": w.ids["supervisor"][:3]}), 200)
		for j, sup := range []string{"", w.ids["supervisor"][i%3]} {
			body := map[string]any{"title": fmt.Sprintf("Prop project %d.%d", i, j)}
			if sup != "" {
				body["supervisor_id"] = sup
			}
			w.ids["project"] = append(w.ids["project"], s.expect(s.do("POST", "/v1/projects", tok, body), 201).str("id"))
		}
	}
	return w
}

// signInAgain replaces the token of a caller whose password a request
// changed (which ended their tokens), signed in with the new password.
func (w *propWorld) signInAgain(t *testing.T, s *service, req propRequest) {
	t.Helper()
	old := strings.TrimPrefix(req.header.Get("Authorization"), "Bearer ")
	var body struct {
		NewPassword string `json:"new_password"`
	}
	email, ok := w.emailOf[old]
	if !ok || json.Unmarshal(req.body, &body) != nil {
		return
	}
	r := s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": email, "password": body.NewPassword})
	fresh := r.str("token")
	if r.Status != 200 || fresh == "" {
		return // throttled by the random sign-ins, say: this caller is done
	}
	w.emailOf[fresh] = email
	w.passwords = append(w.passwords, body.NewPassword)
	for role, toks := range w.tokens {
		for i, tok := range toks {
			if tok == old {
				w.tokens[role][i] = fresh
			}
		}
	}
}

// propGen draws requests.
type propGen struct {
	rng *rand.Rand
	doc oaDoc
	w   *propWorld
}

func (g *propGen) chance(p float64) bool { return g.rng.Float64() < p }

func pick[T any](g *propGen, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// harvest keeps ids and tokens from successful answers, so later requests
// can name what earlier ones created (and use the tokens they got).
func (g *propGen) harvest(status int, answer []byte) {
	if status >= 300 || len(answer) == 0 || answer[0] != '{' || len(g.w.strings) > 500 {
		return
	}
	var body map[string]any
	if json.Unmarshal(answer, &body) != nil {
		return
	}
	for _, k := range []string{"id", "token", "run_id", "next_cursor"} {
		if v, ok := body[k].(string); ok && v != "" {
			g.w.strings = append(g.w.strings, v)
			if k == "id" {
				g.w.ids["user"] = append(g.w.ids["user"], v) // or a project's: either is an id to try
			}
		}
	}
}

// request draws a request for route as role.
func (g *propGen) request(route api.Route, role string) propRequest {
	r := propRequest{route: route, role: role, method: route.Method, header: http.Header{}}
	op := g.doc.operations()[route.Method+" "+muxTemplate(route.Path)]
	if g.chance(0.02) {
		r.method = pick(g, []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
	}
	r.target = g.path(route.Path, op) + g.query(op)
	g.headers(&r, op)
	g.body(&r, op)
	return r
}

// params returns an operation's parameters (refs resolved) of one place.
func (g *propGen) params(op map[string]any, in string) []map[string]any {
	list, _ := op["parameters"].([]any)
	var out []map[string]any
	for _, p := range list {
		pm, err := g.doc.deref(p)
		if err == nil && pm["in"] == in {
			out = append(out, pm)
		}
	}
	return out
}

// path fills a route's variables: mostly a real id or a documented value,
// sometimes anything at all.
func (g *propGen) path(template string, op map[string]any) string {
	schemas := map[string]any{}
	for _, p := range g.params(op, "path") {
		schemas[p["name"].(string)] = p["schema"]
	}
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		if template[i] != '{' {
			b.WriteByte(template[i])
			continue
		}
		j := strings.IndexByte(template[i:], '}') + i
		name, _, _ := strings.Cut(template[i+1:j], ":")
		var v string
		switch {
		case g.chance(0.15):
			v = g.str()
		case name == "id":
			v = g.id(template, op)
		default:
			v = fmt.Sprint(g.value(schemas[name], 0))
		}
		if v == "" {
			v = "x"
		}
		b.WriteString(url.PathEscape(rawBytes(v)))
		i = j
	}
	return b.String()
}

// id is an id of the kind the route is about, or of another kind, or new;
// a user to delete or change is never one of the callers.
func (g *propGen) id(template string, op map[string]any) string {
	kind := "user"
	for _, k := range []string{"project", "supervisor", "student"} {
		if strings.Contains(template, "/"+k+"s/") {
			kind = k
		}
	}
	ids := g.w.ids[kind]
	if template == "/v1/users/{id}" && op["operationId"] != "getUser" {
		ids = slices.DeleteFunc(slices.Clone(g.w.ids["user"]), func(id string) bool { return g.w.callers[id] })
	}
	switch {
	case g.chance(0.7) && len(ids) > 0:
		return pick(g, ids)
	case g.chance(0.5) && template != "/v1/users/{id}":
		return pick(g, g.w.ids["user"])
	case g.chance(0.5):
		return g.uuid()
	}
	return g.str()
}

// uuid is a random UUID-shaped id drawn from the seed (so a seed repeats a run).
func (g *propGen) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	return uuid.Must(uuid.FromBytes(b[:])).String()
}

// pick2 picks by index, round robin.
func pick2(i int, xs ...string) string { return xs[i%len(xs)] }

// query draws the operation's query parameters, and some it does not take.
func (g *propGen) query(op map[string]any) string {
	q := url.Values{}
	for _, p := range g.params(op, "query") {
		if g.chance(0.5) {
			q.Set(p["name"].(string), rawBytes(g.scalar(p["schema"])))
		}
	}
	for _, name := range []string{"limit", "cursor", "min_version", "at_version", "as_of", "dry_run", "q", "role", "status"} {
		if g.chance(0.04) {
			q.Set(name, rawBytes(g.scalar(nil)))
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// scalar is a query parameter's value: drawn from its schema, or anything.
func (g *propGen) scalar(schema any) string {
	if schema == nil || g.chance(0.25) {
		return pick(g, []func() string{g.str, g.bigNumber, func() string { return g.timeString() }})()
	}
	v := g.value(schema, 0)
	if s, ok := v.(string); ok {
		return s
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// headers sets the caller's token and the headers a client may send.
func (g *propGen) headers(r *propRequest, op map[string]any) {
	if toks := g.w.tokens[r.role]; len(toks) > 0 {
		r.header.Set("Authorization", "Bearer "+pick(g, toks))
	} else if g.chance(0.3) {
		r.header.Set("Authorization", pick(g, []string{"Bearer " + g.str(), "Basic YTpi", "Bearer", "bearer  " + g.str()}))
	}
	if g.chance(0.4) {
		r.header.Set("If-Match", pick(g, []string{
			fmt.Sprintf(`"%d"`, g.rng.IntN(6)), fmt.Sprintf(`W/"%d"`, g.rng.IntN(6)), fmt.Sprint(g.rng.IntN(6)),
			`"` + g.bigNumber() + `"`, "*", `"-1"`, g.str(), `""`,
		}))
	}
	if g.chance(0.15) {
		r.header.Set("Idempotency-Key", pick(g, []string{g.uuid(), "key-1", g.str()}))
	}
	if g.chance(0.1) {
		r.header.Set("X-Request-Id", g.str())
	}
	for k, v := range r.header {
		for _, s := range v {
			if strings.ContainsAny(s, "\x00\r\n") || !isHeaderText(s) {
				r.header.Set(k, strings.Map(func(c rune) rune {
					if c < 0x20 || c > 0x7e {
						return '?'
					}
					return c
				}, s))
			}
		}
	}
}

// isHeaderText reports whether the client can send s as a header value.
func isHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// body draws the request body: mostly from the operation's schema, often
// bent, sometimes not JSON at all; CSV uploads for the import route.
func (g *propGen) body(r *propRequest, op map[string]any) {
	rb, _ := op["requestBody"].(map[string]any)
	content, _ := rb["content"].(map[string]any)
	if _, csv := content["multipart/form-data"]; csv {
		g.csvBody(r)
		return
	}
	schema := any(nil)
	if js, ok := content["application/json"].(map[string]any); ok {
		schema = js["schema"]
	}
	if schema == nil && !g.chance(0.1) {
		return // no body, as a client would send
	}
	r.contentType = "application/json"
	if g.chance(0.05) {
		r.contentType = pick(g, []string{"text/plain", "application/json; charset=latin1", "application/x-www-form-urlencoded", "", "application/json;;"})
	}
	switch n := g.rng.IntN(100); {
	case n < 75 && schema != nil:
		r.body = g.marshal(g.value(schema, 0))
	case n < 85:
		r.body = g.marshal(g.anyValue(0))
	case n < 90:
		r.body = []byte(strings.Repeat("[", 1+g.rng.IntN(100000)))
		r.note = "deep"
	case n < 93:
		r.body = bytes.Repeat([]byte(" "), api.MaxJSONBody+1+g.rng.IntN(1000))
		r.note = "too large"
	case n < 97:
		r.body = []byte(pick(g, []string{"", "{", "null", "{}{}", `{"a":1}x`, "\xff\xfe{}", "[]", `"x"`}))
	default:
		raw := make([]byte, g.rng.IntN(200))
		for i := range raw {
			raw[i] = byte(g.rng.IntN(256))
		}
		r.body = raw
	}
	if r.contentType != "" {
		r.header.Set("Content-Type", r.contentType)
	}
}

// csvBody draws an import: a sample file of some kind, changed row by row,
// as multipart or as text/csv, with any of the line ends a file may have.
func (g *propGen) csvBody(r *propRequest) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "infra", "csvio", "testdata", "*.csv"))
	raw, err := os.ReadFile(pick(g, files))
	if err != nil {
		panic(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	lines = lines[:min(len(lines), 1+g.rng.IntN(6))]
	for i := 1; i < len(lines); i++ {
		cells := strings.Split(lines[i], ",")
		for j := range cells {
			switch {
			case g.chance(0.05):
				cells[j] = strings.ReplaceAll(g.str(), ",", ";")
			case g.chance(0.1) && strings.Contains(cells[j], "@"):
				cells[j] = pick(g, g.w.emails)
			case g.chance(0.05):
				cells[j] = g.bigNumber()
			}
		}
		lines[i] = strings.Join(cells, ",")
	}
	eol := pick(g, []string{"\n", "\r\n", "\r"})
	body := strings.Join(lines, eol) + eol
	if g.chance(0.2) {
		r.contentType = "text/csv"
		r.body = []byte(body)
		r.header.Set("Content-Type", r.contentType)
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	field := "file"
	if g.chance(0.05) {
		field = "other"
	}
	fw, _ := mw.CreateFormFile(field, "upload.csv")
	fw.Write([]byte(body))
	mw.Close()
	r.body, r.contentType = buf.Bytes(), mw.FormDataContentType()
	r.header.Set("Content-Type", r.contentType)
}

// invalidUTF8 marks where marshal puts bytes that are not UTF-8 (which
// json.Marshal itself would replace).
const invalidUTF8 = "\ue000INVALID\ue000"

// rawBytes puts the invalid bytes in place of the marker in a path or query.
func rawBytes(s string) string { return strings.ReplaceAll(s, invalidUTF8, "\xff\xc3(") }

func (g *propGen) marshal(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	marker, _ := json.Marshal(invalidUTF8)
	return bytes.ReplaceAll(raw, marker[1:len(marker)-1], []byte("\xff\xc3("))
}

// value draws a value of a schema: usually valid, sometimes at or past its
// limits, sometimes of another type altogether.
func (g *propGen) value(schema any, depth int) any { return g.valueNamed(schema, "", depth) }

// valueNamed is value for a field of this name, which the text of an e-mail,
// an id or a password is drawn by, when the schema does not say.
func (g *propGen) valueNamed(schema any, name string, depth int) any {
	sm, err := g.doc.deref(schema)
	if err != nil || depth > 8 || g.chance(0.02) {
		return g.anyValue(depth)
	}
	if one, ok := sm["oneOf"].([]any); ok {
		return g.valueNamed(pick(g, one), name, depth+1)
	}
	if sm["nullable"] == true && g.chance(0.1) {
		return nil
	}
	if enum, ok := sm["enum"].([]any); ok && g.chance(0.85) {
		return pick(g, enum)
	}
	switch sm["type"] {
	case "string":
		return g.stringOf(sm, name)
	case "integer", "number":
		return g.numberOf(sm)
	case "boolean":
		return g.chance(0.5)
	case "array":
		n := g.rng.IntN(7)
		if g.chance(0.05) {
			n = 20 + g.rng.IntN(300)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = g.valueNamed(sm["items"], name, depth+1)
		}
		return out
	case "object":
		out := map[string]any{}
		props, _ := sm["properties"].(map[string]any)
		required, _ := sm["required"].([]any)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range props {
				if !yield(k) {
					return
				}
			}
		}) {
			if g.chance(0.6) || slices.Contains(required, any(name)) && g.chance(0.97) {
				out[name] = g.valueNamed(props[name], name, depth+1)
			}
		}
		if g.chance(0.05) {
			out[g.str()] = g.anyValue(depth + 1)
		}
		return out
	}
	return g.anyValue(depth)
}

func (g *propGen) stringOf(sm map[string]any, name string) any {
	switch {
	case strings.HasSuffix(name, "supervisor_id") || strings.HasSuffix(name, "supervisor_ids"):
		if g.chance(0.8) {
			return pick(g, g.w.ids["supervisor"])
		}
	case strings.HasSuffix(name, "examiner_id") && g.chance(0.8):
		return pick(g, g.w.ids["examiner"])
	case strings.Contains(name, "password") && g.chance(0.5):
		return pick(g, append(slices.Clone(g.w.passwords), "a long enough new password "+g.words()))
	}
	switch {
	case (sm["format"] == "uuid" || strings.HasSuffix(name, "_id")) && g.chance(0.8):
		ids := append(slices.Clone(g.w.ids["user"]), g.w.ids["project"]...)
		return pick(g, append(ids, g.uuid()))
	case (sm["format"] == "email" || name == "email") && g.chance(0.8):
		return pick(g, append(slices.Clone(g.w.emails), fmt.Sprintf("new%d@uni.example", g.rng.IntN(1000))))
	case sm["format"] == "date-time" && g.chance(0.8):
		return g.timeString()
	case g.chance(0.1) && len(g.w.passwords) > 0:
		return pick(g, g.w.passwords)
	case g.chance(0.1) && len(g.w.strings) > 0:
		return pick(g, g.w.strings)
	}
	if max, ok := schemaInt(sm, "maxLength"); ok && g.chance(0.1) {
		return strings.Repeat("é", max+g.rng.IntN(2))
	}
	if g.chance(0.5) {
		return g.words()
	}
	return g.str()
}

// words is plain text, as most real values are.
func (g *propGen) words() string {
	ws := []string{"ada", "lovelace", "engine", "difference", "tables", "systems", "Dr", "project", "analysis", "of"}
	out := make([]string, 1+g.rng.IntN(4))
	for i := range out {
		out[i] = pick(g, ws)
	}
	return strings.Join(out, " ")
}

func (g *propGen) numberOf(sm map[string]any) any {
	lo, hasLo := schemaInt(sm, "minimum")
	hi, hasHi := schemaInt(sm, "maximum")
	switch {
	case hasLo && hasHi && g.chance(0.6):
		return lo + g.rng.IntN(hi-lo+1)
	case hasLo && g.chance(0.1):
		return lo - 1
	case hasHi && g.chance(0.1):
		return hi + 1
	case g.chance(0.4):
		return g.rng.IntN(10)
	}
	return json.Number(g.bigNumber())
}

// anyValue is any JSON value at all.
func (g *propGen) anyValue(depth int) any {
	switch n := g.rng.IntN(10); {
	case n == 0 || depth > 30:
		return nil
	case n == 1:
		return g.chance(0.5)
	case n == 2:
		return json.Number(g.bigNumber())
	case n <= 5:
		return g.str()
	case n <= 7:
		out := make([]any, g.rng.IntN(4))
		for i := range out {
			out[i] = g.anyValue(depth + 1)
		}
		return out
	default:
		out := map[string]any{}
		for range g.rng.IntN(4) {
			out[g.str()] = g.anyValue(depth + 1)
		}
		return out
	}
}

// str is a string from the kinds that break things: empty, blank, NUL,
// control characters, invalid UTF-8, long, non-ASCII, regexp and path
// syntax, or the ids and e-mails the service knows.
func (g *propGen) str() string {
	switch g.rng.IntN(16) {
	case 0:
		return ""
	case 1:
		return "   "
	case 2:
		return "a\x00b"
	case 3:
		return "\x00"
	case 4:
		return "tab\tnew\nline\rcr\x1b[0m"
	case 5:
		return invalidUTF8
	case 6:
		return strings.Repeat("x", 1000+g.rng.IntN(20000))
	case 7:
		return "Zoë 🎓 日本語 \u202e\ufeff"
	case 8:
		return pick(g, []string{"[", ".*", "(?i)", "\\", "$where", "{\"$gt\":\"\"}", "a.b", "$", "../..", "%00", "%ff"})
	case 9:
		return pick(g, g.w.ids["user"])
	case 10:
		return pick(g, g.w.emails)
	case 11:
		return g.bigNumber()
	case 12:
		return g.timeString()
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789 -_.@"
	b := make([]byte, 1+g.rng.IntN(30))
	for i := range b {
		b[i] = letters[g.rng.IntN(len(letters))]
	}
	return string(b)
}

// bigNumber is an integer (or not) from anywhere in and beyond int64/uint64.
func (g *propGen) bigNumber() string {
	return pick(g, []string{
		"0", "-1", "1", strconv.Itoa(g.rng.IntN(100)), strconv.FormatInt(g.rng.Int64(), 10), strconv.FormatInt(-g.rng.Int64(), 10),
		strconv.FormatUint(g.rng.Uint64(), 10), strconv.FormatInt(math.MaxInt64, 10), strconv.FormatInt(math.MinInt64, 10),
		"9223372036854775808", "18446744073709551615", "18446744073709551616", "1e400", "-1e400", "1.5", "1e2", "0.0000001",
		"9007199254740993", "-0",
	})
}

// timeString is a time from anywhere, mostly valid RFC 3339.
func (g *propGen) timeString() string {
	switch g.rng.IntN(6) {
	case 0:
		return "yesterday"
	case 1:
		return pick(g, []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z", "2262-04-11T23:47:16.854775808Z"})
	}
	t := time.Unix(g.rng.Int64N(253402300799-(-62135596800))-62135596800, g.rng.Int64N(1e9)).UTC()
	if g.chance(0.5) {
		t = time.Now().Add(time.Duration(g.rng.Int64N(int64(48*time.Hour))) - 24*time.Hour)
	}
	return t.Format(time.RFC3339Nano)
}

// TestURLMustBeText: a path or query that is not UTF-8 text once decoded is
// refused with 400 invalid-url on every route (a store refuses to search
// with it: that was a 500); a NUL is text and searches like any character.
func TestURLMustBeText(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	for _, path := range []string{"/v1/users?q=%FF", "/v1/projects?q=%C3%28", "/v1/users/%FF", "/v1/projects?status=%E2%82",
		"/v1/users?q=%zz", "/nowhere/%FF", "/healthz?x=%FF"} {
		s.expect(s.do("GET", path, admin, nil), 400, "invalid-url")
	}
	for _, path := range []string{"/v1/users?q=%00", "/v1/projects?q=a%00b", "/v1/users?q=%E6%97%A5"} {
		s.expect(s.do("GET", path, admin, nil), 200)
	}
}

// TestNoMessageRepeatsItsField: a refused field's message follows its name
// ("password: must be at least ..."), never repeats it ("password: password
// must be ..."), whichever route refuses the password.
func TestNoMessageRepeatsItsField(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "stutter@uni.example", "Stutter", []string{"student"}, "")
	token := s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	for _, c := range []struct {
		method, path, token string
		body                map[string]any
		field               string
	}{
		{"POST", "/v1/users", admin, map[string]any{"email": "short@uni.example", "name": "Short", "roles": []string{"student"}, "password": "short"}, "password"},
		{"POST", "/v1/users", admin, map[string]any{"email": "long@uni.example", "name": "Long", "roles": []string{"student"}, "password": strings.Repeat("é", 40)}, "password"},
		{"POST", "/v1/users", admin, map[string]any{"email": "blank@uni.example", "name": "Blank", "roles": []string{"student"}, "password": strings.Repeat(" ", 12)}, "password"},
		{"PUT", "/v1/me/password", admin, map[string]any{"current_password": adminPassword, "new_password": "short"}, "new_password"},
		{"POST", "/v1/auth/set-password", "", map[string]any{"token": token, "password": "short"}, "password"},
	} {
		r := s.expect(s.do(c.method, c.path, c.token, c.body), 400, "invalid")
		errs, _ := r.Body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != c.field {
			t.Fatalf("%s %s: %s", c.method, c.path, r.Raw)
		}
		msg := fmt.Sprint(errs[0].(map[string]any)["message"])
		if repeatsField(c.field, msg) || strings.Count(strings.ToLower(r.str("detail")), "password") > 1 {
			t.Errorf("%s %s: %q / %q says the field twice", c.method, c.path, r.str("detail"), msg)
		}
	}
}
