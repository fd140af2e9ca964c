package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// sendHeaders sends a request whose headers are given line by line (name,
// value, ...), a name that comes again adding a line, as a client may send
// them; body is sent as it is.
func (s *service) sendHeaders(method, url, token string, body []byte, lines ...string) (int, string, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(lines); i += 2 {
		req.Header.Add(lines[i], lines[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)
}

// TestIfMatchGivenTwice: a write whose If-Match header comes on two or
// three lines is 400 invalid-if-match and changes nothing, whatever the
// versions named (the current one every time among them), as the same
// versions on one line are: two lines are one list. It used to be decided
// on the first line alone, so a write applied though another line named a
// version the resource was not at. The current version on one line writes.
func TestIfMatchGivenTwice(t *testing.T) {
	rng := seeded(t, 40)
	s := startService(t)
	admin := s.admin()
	st := s.createUser(admin, "twice.match@uni.example", "Twice Match", []string{"student"}, "twice match password")
	tok := s.signIn("twice.match@uni.example", "twice match password")
	project := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "First"}), 201).str("id")
	s.expect(s.do("PUT", "/v1/students/"+st+"/project-info", tok, map[string]string{"title": "Info", "description": "Words"}), 200)
	writes := []struct{ path, read, token, field string }{
		{"/v1/projects/" + project, "/v1/projects/" + project, tok, "title"},
		{"/v1/users/" + st, "/v1/users/" + st, admin, "name"},
		{"/v1/students/" + st + "/project-info", "/v1/students/" + st + "/project-info", tok, "title"},
	}
	method := map[bool]string{true: "PATCH", false: "PUT"}
	for i := range 60 {
		w := writes[rng.IntN(len(writes))]
		before := s.expect(s.do("GET", w.read, w.token, nil), 200)
		version := before.num("version")
		lines := []string{"Content-Type", "application/json"}
		for n := range 2 + rng.IntN(2) {
			v := version
			if n > 0 || rng.IntN(2) == 0 {
				v = []int64{version, version - 1, version + 1, version + 7}[rng.IntN(4)]
			}
			lines = append(lines, "If-Match", fmt.Sprintf(`"%d"`, v))
		}
		body := fmt.Appendf(nil, `{%q:"Changed %d"}`, w.field, i)
		m := method[!strings.HasSuffix(w.path, "project-info")]
		status, ctype, raw := s.sendHeaders(m, s.base+w.path, w.token, body, lines...)
		if status != 400 || ctype != "application/problem+json" || !strings.Contains(raw, `"code":"invalid-if-match"`) {
			t.Fatalf("%s %s with %q: %d %s %s, want 400 invalid-if-match", m, w.path, lines[2:], status, ctype, raw)
		}
		if after := s.expect(s.do("GET", w.read, w.token, nil), 200); after.Raw != before.Raw {
			t.Fatalf("%s %s with %q was refused but changed it:\n%s\n%s", m, w.path, lines[2:], before.Raw, after.Raw)
		}
		status, _, raw = s.sendHeaders(m, s.base+w.path, w.token, body, "Content-Type", "application/json", "If-Match", fmt.Sprintf(`"%d"`, version))
		if status != 200 {
			t.Fatalf("%s %s with If-Match %d once: %d %s", m, w.path, version, status, raw)
		}
	}
}

// TestContentTypeGivenTwice: a body whose Content-Type is given twice (the
// same type twice among them) is 415 unsupported-media-type on both faces,
// JSON and CSV routes alike, and nothing is stored; it used to be read as
// the first named. The same request with the header once is taken.
func TestContentTypeGivenTwice(t *testing.T) {
	rng := seeded(t, 41)
	s, lc := startLegacy(t)
	admin := s.admin()
	types := []string{"application/json", "application/json; charset=utf-8", "text/plain", "text/csv", "multipart/form-data; boundary=x"}
	csv := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\nT%d,Twice %d,Enrolled,MSc,Full-time,2026-09-21,twice.ct%d@uni.example,\n"
	for i := range 40 {
		first, second := types[rng.IntN(len(types))], types[rng.IntN(len(types))]
		var url, token, once, email string
		var body []byte
		switch rng.IntN(3) {
		case 0: // a JSON route of /v1
			email = fmt.Sprintf("twice.json%d@uni.example", i)
			url, token, once = s.base+"/v1/users", admin, "application/json"
			body = fmt.Appendf(nil, `{"email":%q,"name":"Twice","roles":["examiner"]}`, email)
		case 1: // a CSV import of /v1
			email = fmt.Sprintf("twice.ct%d@uni.example", i)
			url, token, once = s.base+"/v1/imports/students", admin, "text/csv"
			body = fmt.Appendf(nil, csv, i, i, i)
		case 2: // the original frontend's sign-in, read as JSON
			url, once = lc.base+"/sign-in", "application/json"
			body = fmt.Appendf(nil, `{"email":%q,"password":%q}`, adminEmail, adminPassword)
		}
		status, ctype, raw := s.sendHeaders("POST", url, token, body, "Content-Type", first, "Content-Type", second)
		if status != 415 || (strings.HasPrefix(url, s.base) && (ctype != "application/problem+json" ||
			!strings.Contains(raw, `"code":"unsupported-media-type"`))) {
			t.Fatalf("POST %s with Content-Type %q and %q: %d %s %s, want 415", url, first, second, status, ctype, raw)
		}
		if email != "" {
			if got := s.expect(s.do("GET", "/v1/users?email="+email, admin, nil), 200).items(); len(got) != 0 {
				t.Fatalf("POST %s with Content-Type %q and %q was refused but stored %v", url, first, second, got)
			}
		}
		if status, _, raw := s.sendHeaders("POST", url, token, body, "Content-Type", once); status/100 != 2 {
			t.Fatalf("POST %s with Content-Type %q once: %d %s", url, once, status, raw)
		}
	}
}

// TestContentEncodingIsRefused: a body sent with a Content-Encoding other
// than identity (gzip, or a list with one in it, in any case, on one line
// or two) is 415 unsupported-media-type on both faces, JSON and CSV routes
// alike, whether it was compressed or not, and nothing is stored. The
// service decodes no content coding: a gzip body used to be answered as
// malformed JSON or a malformed CSV header, and a plain one labelled gzip
// was read as if the label were not there. identity, said or not, is read.
func TestContentEncodingIsRefused(t *testing.T) {
	rng := seeded(t, 42)
	s, lc := startLegacy(t)
	admin := s.admin()
	codings := [][]string{{"gzip"}, {"GZIP"}, {"x-gzip"}, {"deflate"}, {"br"}, {"zstd"}, {"compress"},
		{"identity, gzip"}, {"gzip, identity"}, {"identity", "gzip"}, {" gzip "}}
	csv := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\nE%d,Coded %d,Enrolled,MSc,Full-time,2026-09-21,coded%d@uni.example,\n"
	for i := range 40 {
		email := fmt.Sprintf("coded%d@uni.example", i)
		var url, token, ctype string
		var body []byte
		switch rng.IntN(3) {
		case 0:
			url, token, ctype = s.base+"/v1/users", admin, "application/json"
			body = fmt.Appendf(nil, `{"email":%q,"name":"Coded","roles":["examiner"]}`, email)
		case 1:
			url, token, ctype = s.base+"/v1/imports/students", admin, "text/csv"
			body = fmt.Appendf(nil, csv, i, i, i)
		case 2: // the original frontend's people upload
			var b io.Reader
			b, ctype = multipartFile("students.csv", fmt.Appendf(nil, csv, i, i, i))
			url, token = lc.base+"/student/info", admin
			body, _ = io.ReadAll(b)
		}
		plain := body
		if rng.IntN(2) == 0 {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(body)
			zw.Close()
			body = buf.Bytes()
		}
		lines := []string{"Content-Type", ctype}
		for _, c := range codings[rng.IntN(len(codings))] {
			lines = append(lines, "Content-Encoding", c)
		}
		status, got, raw := s.sendHeaders("POST", url, token, body, lines...)
		if status != 415 || (strings.HasPrefix(url, s.base) && (got != "application/problem+json" ||
			!strings.Contains(raw, `"code":"unsupported-media-type"`))) {
			t.Fatalf("POST %s with %q: %d %s %s, want 415", url, lines[2:], status, got, raw)
		}
		if got := s.expect(s.do("GET", "/v1/users?email="+email, admin, nil), 200).items(); len(got) != 0 {
			t.Fatalf("POST %s with %q was refused but stored %v", url, lines[2:], got)
		}
		identity := []string{"Content-Type", ctype}
		if rng.IntN(2) == 0 {
			identity = append(identity, "Content-Encoding", []string{"identity", "Identity"}[rng.IntN(2)])
		}
		if status, _, raw := s.sendHeaders("POST", url, token, plain, identity...); status/100 != 2 {
			t.Fatalf("POST %s with %q: %d %s", url, identity[2:], status, raw)
		}
	}
}
