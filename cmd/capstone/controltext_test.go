package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
)

// refusedInText are characters that no text the service stores may hold
// (control characters, line and paragraph separators, and bidirectional
// overrides and isolates) other
// than a line break and a tab.
var refusedInText = []rune{0, 0x07, 0x08, 0x0b, 0x0c, '\r', 0x1b, 0x1f, 0x7f, 0x85, 0x9f,
	0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069}

// refusedInLine adds the line break and the tab, which one line may not hold.
var refusedInLine = append([]rune{'\n', '\t'}, refusedInText...)

// withRune puts c at a random place of s, never at either end (where it
// might be trimmed away as white space).
func withRune(rng *rand.Rand, s string, c rune) string {
	r := []rune(s)
	i := 1 + rng.IntN(len(r)-1)
	return string(r[:i]) + string(c) + string(r[i:])
}

// expectFieldRefused checks a 400 invalid that names field with message.
func expectFieldRefused(t *testing.T, s *service, r response, field, message string) {
	t.Helper()
	s.expect(r, 400, "invalid")
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field && strings.HasSuffix(fmt.Sprint(m["message"]), message) {
			return
		}
	}
	t.Fatalf("want field %q refused with %q: %s", field, message, r.Raw)
}

// TestControlCharactersRefusedByWrites: a write refuses a control character
// or a direction override anywhere in a one-line field (a name, an e-mail,
// a title, a profile's code, an area) with 400 invalid naming the field, and
// in a multi-line one (a description, an idea's, a supervisor's info) all of
// them but line breaks and tabs; nothing refused is stored. The CSV import
// refuses the same characters in the same fields with the same words.
func TestControlCharactersRefusedByWrites(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 17))
	const pw = "control text password"
	s.createUser(admin, "ct-student@uni.example", "Control Student", []string{"student"}, pw)
	student := s.signIn("ct-student@uni.example", pw)
	sup := s.createUser(admin, "ct-sup@uni.example", "Control Supervisor", []string{"supervisor"}, pw)
	supTok := s.signIn("ct-sup@uni.example", pw)
	var refused []string

	for i := range 12 {
		line := refusedInLine[rng.IntN(len(refusedInLine))]
		text := refusedInText[rng.IntN(len(refusedInText))]
		t.Logf("round %d: one line %+q, several lines %+q", i, line, text)

		name := withRune(rng, fmt.Sprint("Ada Lovelace ", i), line)
		body := map[string]any{"email": fmt.Sprintf("ct%d@uni.example", i), "name": name, "roles": []string{"student"}}
		expectFieldRefused(t, s, s.do("POST", "/v1/users", admin, body), "name", commands.LineRefusal)
		body["name"], body["email"] = "Ada", withRune(rng, fmt.Sprintf("ct%d@uni.example", i), line)
		expectFieldRefused(t, s, s.do("POST", "/v1/users", admin, body), "email", "")
		body["email"], body["profile"] = fmt.Sprintf("ct%d@uni.example", i), map[string]any{"code": withRune(rng, "ST0001", line)}
		expectFieldRefused(t, s, s.do("POST", "/v1/users", admin, body), "profile.code", commands.LineRefusal)
		expectFieldRefused(t, s, s.do("PATCH", "/v1/users/"+sup, admin, map[string]any{"name": name}), "name", commands.LineRefusal)

		title := withRune(rng, fmt.Sprint("A title ", i), line)
		expectFieldRefused(t, s, s.do("POST", "/v1/projects", student, map[string]any{"title": title}), "title", commands.LineRefusal)
		desc := withRune(rng, "A description of the work", text)
		expectFieldRefused(t, s, s.do("POST", "/v1/projects", student, map[string]any{"title": "Fine", "description": desc}),
			"description", commands.TextRefusal)

		area := withRune(rng, "Databases", line)
		expectFieldRefused(t, s, s.do("PUT", "/v1/supervisors/"+sup+"/profile", supTok, map[string]any{"areas": []string{area}}),
			"areas", commands.LineRefusal)
		info := withRune(rng, "Office hours on Monday", text)
		expectFieldRefused(t, s, s.do("PUT", "/v1/supervisors/"+sup+"/profile", supTok, map[string]any{"info": info}),
			"info", commands.TextRefusal)
		refused = append(refused, name, title, desc, area, info)
	}

	// Several lines keep their line breaks and tabs.
	desc := "First line\r\nsecond line\n\tindented"
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]any{"title": "Lines", "description": desc}), 201)
	if p.str("description") != desc {
		t.Fatalf("description %+q, want %+q", p.str("description"), desc)
	}

	// The CSV import, through the API, refuses the same characters.
	c := refusedInLine[rng.IntN(len(refusedInLine))]
	if c == '\r' || c == '\n' {
		c = '\u202e' // a line end inside an unquoted cell ends the row: another test's matter
	}
	csvName := withRune(rng, "Imported Student", c)
	file := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n" +
		"ST1,\"" + csvName + "\",,,,,ct-csv@uni.example,\n" +
		"ST2,Good Student,,,,,ct-csv2@uni.example,\n"
	rep := s.expect(s.upload(admin, "students", "students.csv", []byte(file), ""), 200)
	errs, _ := rep.Body["errors"].([]any)
	if rep.num("created") != 1 || len(errs) != 1 || errs[0].(map[string]any)["message"] != "Name "+commands.LineRefusal {
		t.Fatalf("import of a name with %+q: %s", c, rep.Raw)
	}
	refused = append(refused, csvName)

	stored := storedEvents(t, s)
	for _, v := range refused {
		if strings.Contains(stored, v) {
			t.Fatalf("%+q refused, yet stored", v)
		}
	}
}
