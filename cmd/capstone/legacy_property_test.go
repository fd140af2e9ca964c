package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLegacyNoRequestAnswers5xx sends every original route, as every kind
// of caller, random values where the frontend sends its fields (any text,
// numbers, nulls, objects, arrays, names it does not know, files of any
// content): a refusal is a 4xx, never a 5xx.
func TestLegacyNoRequestAnswers5xx(t *testing.T) {
	rng := seeded(t, 5)
	s, lc := startLegacy(t)
	admin, _ := lc.signIn(adminEmail, adminPassword)
	lc.expect(lc.upload(admin, "/supervisor/info", "s.csv", []byte(legacySupervisorsCSV)), 200)
	lc.expect(lc.upload(admin, "/student/info", "s.csv", []byte(legacyStudentsCSV)), 200)
	tokens := []string{"", admin, lc.signInToken("sup1@qmul.example.ac.uk", "supervisor one pw"), lc.signInToken("s1@qmul.example.ac.uk", "student one pw"), "x.y.z"}
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
