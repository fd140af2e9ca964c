package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestLegacyNoRequestAnswers5xx sends every original route, as every kind
// of caller, random values where the frontend sends its fields (any text,
// numbers, nulls, objects, arrays, names it does not know, files of any
// content): a refusal is a 4xx, never a 5xx.
func TestLegacyNoRequestAnswers5xx(t *testing.T) {
	rng := seeded(t, 5)
	s, lc, tokens := startLegacyCohort(t)
	fields := []string{"email", "password", "title", "description", "aim", "rationale", "supervisor_email", "student_email", "status",
		"comment", "areas", "info", "projects", "supervisor_1", "supervisor_2", "supervisor_3", "supervisor_4", "supervisor_5", "shoe"}
	texts := []string{"", " ", "noEmail", "accepted", "rejected", "pending", "sup1@qmul.example.ac.uk", "s1@qmul.example.ac.uk", "A",
		strings.Repeat("é", 300), strings.Repeat("x", 5001), "\u0000", "=cmd()", "a,b,,c", "\u202e", "👩‍🎓"}
	value := func() any {
		switch rng.IntN(7) {
		case 0:
			return nil
		case 1:
			return rng.IntN(1 << 30)
		case 2:
			return []any{map[string]any{"title": texts[rng.IntN(len(texts))], "description": texts[rng.IntN(len(texts))]}, texts[rng.IntN(len(texts))]}
		case 3:
			return map[string]any{"title": texts[rng.IntN(len(texts))]}
		default:
			return texts[rng.IntN(len(texts))]
		}
	}
	csvs := []string{legacyStudentsCSV, legacySupervisorsCSV, legacyAssignmentCSV, "", "\xff\xfe", "a;b;c\n1;2;3\n",
		"Student Id,Student Email,Student Name,Final Grade,Feedback\nST1,s1@qmul.example.ac.uk,S,Distinction,x\nST1,s1@qmul.example.ac.uk,S,-3,y\n"}
	deadline := time.Now().Add(10 * time.Second)
	sent := 0
	for time.Now().Before(deadline) {
		for _, rt := range s.app.LegacyRoutes() {
			tok := tokens[rng.IntN(len(tokens))]
			path := strings.Replace(rt.Path, "{supervisor_email}", url.PathEscape(texts[rng.IntN(len(texts))]+"x"), 1)
			var r lresp
			switch {
			case rt.Method == "POST" && strings.Contains(rt.Path, "info") && rt.Path != "/student/project_info" && rt.Path != "/supervisor/project_info",
				rt.Path == "/supervisor/final_grades":
				r = lc.upload(tok, path, []string{"f.csv", "f.txt", ""}[rng.IntN(3)], []byte(csvs[rng.IntN(len(csvs))]))
			case rt.Method == "POST":
				body := map[string]any{}
				for range 1 + rng.IntN(5) {
					body[fields[rng.IntN(len(fields))]] = value()
				}
				r = lc.do("POST", path, tok, body)
			default:
				r = lc.do(rt.Method, path, tok, nil)
			}
			sent++
			if r.Status >= 500 {
				t.Fatalf("%s %s answered %d: %s", rt.Method, path, r.Status, r.Raw)
			}
		}
	}
	t.Logf("%d requests", sent)
}

// TestLegacyRefusalsKeepTheirShape sends requests over the whole range of
// what reaches the original routes' listener (any method; paths of route
// words, empty, "." and ".." segments, escapes that are not text, an
// encoded slash; queries that do not decode; a target that net/http
// cannot parse is refused by it before any handler, in its own words, and
// is not sent); no token, a forged one or each
// role's; bodies that are no request of the frontend's), and checks each
// answer: never a 5xx, the CORS header on every one, and every refusal in
// this face's shape: JSON with a message for the sign-in, whose form reads
// it, plain text for every other (the API's edge used to answer /v1's
// problem+json for a path to clean or one that is not text). Nothing any
// of them sends is a write, and none is stored.
func TestLegacyRefusalsKeepTheirShape(t *testing.T) {
	rng := seeded(t, 6)
	s, lc, tokens := startLegacyCohort(t)
	before := storedCommits(t, s)
	words := []string{"sign-in", "student", "supervisor", "info", "all", "overview", "shortlist", "project_info", "project_proposal",
		"pending_proposal", "supervisees", "sup1@qmul.example.ac.uk", "", ".", "..", "%2e%2e", "%2F", "%ff", "%00", "%C3%A9", "a;b", "%u0041"}
	queries := []string{"", "?a=1", "?a=%zz", "?%ff=1", "?a=%C3%A9", "?a=1&a=2"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "FOO"}
	bodies := []string{"", "{", "[]", "null", `{"a":1,"a":2}`, "\xff\xfe", strings.Repeat("[", 5000), "--X\r\n\r\n"}
	deadline := time.Now().Add(8 * time.Second)
	sent := 0
	for time.Now().Before(deadline) {
		segs := make([]string, 1+rng.IntN(4))
		for i := range segs {
			segs[i] = words[rng.IntN(len(words))]
		}
		target := "/" + strings.Join(segs, "/") + queries[rng.IntN(len(queries))]
		if _, err := url.ParseRequestURI(target); err != nil {
			continue
		}
		method, body := methods[rng.IntN(len(methods))], bodies[rng.IntN(len(bodies))]
		header := http.Header{"Origin": {uiOrigin}, "Content-Type": {[]string{"application/json", "multipart/form-data; boundary=X", "text/plain"}[rng.IntN(3)]}}
		if tok := tokens[rng.IntN(len(tokens))]; tok != "" {
			header.Set("Authorization", "Bearer "+tok)
		}
		resp, raw := rawRequest(t, lc.base, method, target, header, body)
		sent++
		what := fmt.Sprintf("%s %s %q answered %d %s %q", method, target, body, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		switch ctype := resp.Header.Get("Content-Type"); {
		case resp.StatusCode >= 500:
			t.Fatal(what)
		case resp.Header.Get("Access-Control-Allow-Origin") == "":
			t.Fatalf("%s, without Access-Control-Allow-Origin", what)
		case resp.StatusCode < 400:
			if method == "POST" {
				t.Fatalf("%s: a write was accepted", what)
			}
		case method == "HEAD":
		case method == "POST" && strings.HasPrefix(target, "/sign-in") && !strings.HasPrefix(target, "/sign-in/"):
			var m struct{ Message string }
			if ctype != "application/json" || json.Unmarshal(raw, &m) != nil || m.Message == "" {
				t.Fatalf("%s, want JSON with a message", what)
			}
		case !strings.HasPrefix(ctype, "text/plain"):
			t.Fatalf("%s, want text/plain", what)
		}
	}
	t.Logf("%d requests", sent)
	if after := storedCommits(t, s); !slices.Equal(after, before) {
		t.Fatalf("refused requests stored commits:\nbefore %v\nafter %v", before, after)
	}
}

// storedCommits is the id of every commit in the service's store, sorted.
func storedCommits(t testing.TB, s *service) []string {
	t.Helper()
	cur, err := s.app.store.DB.Collection(imongo.CollEvents).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	return ids
}

// rawRequest sends a request as it is written, its target neither cleaned
// nor escaped (as no client library sends "//x"), on a connection of its
// own, and returns the answer and its body.
func rawRequest(t testing.TB, base, method, target string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, host, len(body))
	_ = header.Write(&b)
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp, raw
}

// startLegacyCohort starts the service with the original routes and the
// sample supervisors and students imported through them, and returns the
// tokens a random request is sent with: none, a malformed one, the
// coordinator's, a supervisor's and a student's.
func startLegacyCohort(t *testing.T) (*service, legacyClient, []string) {
	s, lc := startLegacy(t)
	admin, _ := lc.signIn(adminEmail, adminPassword)
	lc.expect(lc.upload(admin, "/supervisor/info", "s.csv", []byte(legacySupervisorsCSV)), 200)
	lc.expect(lc.upload(admin, "/student/info", "s.csv", []byte(legacyStudentsCSV)), 200)
	return s, lc, []string{"", "x.y.z", admin, lc.signInToken("sup1@qmul.example.ac.uk", "supervisor one pw"), lc.signInToken("s1@qmul.example.ac.uk", "student one pw")}
}
