package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// legacyCaller is one column of the original routes' authorization table.
type legacyCaller int

const (
	lzNobody legacyCaller = iota
	lzCoordinator
	lzSupervisor
	lzExaminer
	lzStudent
	lzNCallers
)

var lzNames = [lzNCallers]string{"nobody", "coordinator", "supervisor", "examiner", "student"}

func (c legacyCaller) String() string { return lzNames[c] }

// lzOnly gives ok to the callers listed, 401 to nobody and 403 to the rest.
func lzOnly(ok int, who ...legacyCaller) [lzNCallers]int {
	w := [lzNCallers]int{401, 403, 403, 403, 403}
	for _, c := range who {
		w[c] = ok
	}
	return w
}

// TestLegacyAuthorizationTable checks every original route as every kind
// of caller: 401 without a token, 403 for a role the route is not for, and
// 200 for those it is for (with a valid request, so that the status is the
// authorization's). Every refusal is plain text (the sign-in's JSON, which
// its form reads) and carries the CORS header. A route served without a
// row, or a row for a route not served, fails the test.
func TestLegacyAuthorizationTable(t *testing.T) {
	s, lc := startLegacy(t)
	admin, _ := lc.signIn(adminEmail, adminPassword)
	lc.expect(lc.upload(admin, "/supervisor/info", "s.csv", []byte(legacySupervisorsCSV)), 200)
	lc.expect(lc.upload(admin, "/examiner/info", "e.csv", []byte(legacyExaminersCSV)), 200)
	lc.expect(lc.upload(admin, "/student/info", "s.csv", []byte(legacyStudentsCSV)), 200)
	lc.expect(lc.upload(admin, "/supervisor/assignment_info", "a.csv", []byte(legacyAssignmentCSV)), 200)
	var tokens [lzNCallers]string
	tokens[lzCoordinator] = admin
	tokens[lzSupervisor], _ = lc.signIn("sup2@qmul.example.ac.uk", "supervisor two pw") // s3's supervisor
	tokens[lzExaminer], _ = lc.signIn("ex1@qmul.example.ac.uk", "examiner one pw")
	tokens[lzStudent], _ = lc.signIn("s1@qmul.example.ac.uk", "student one pw")
	signIns := [lzNCallers][2]string{{"s2@qmul.example.ac.uk", "student two pw"}, {adminEmail, adminPassword},
		{"sup2@qmul.example.ac.uk", "supervisor two pw"}, {"ex1@qmul.example.ac.uk", "examiner one pw"}, {"s1@qmul.example.ac.uk", "student one pw"}}
	// A proposal of student 2 waits for supervisor 2's decision.
	lc.expect(lc.do("POST", "/student/project_proposal", lc.signInToken("s2@qmul.example.ac.uk", "student two pw"),
		map[string]string{"supervisor_email": "sup2@qmul.example.ac.uk", "title": "Waiting", "aim": "a", "rationale": "r"}), 200)

	everyone := lzOnly(200, lzCoordinator, lzSupervisor, lzExaminer, lzStudent)
	type call struct {
		body any
		csv  string
	}
	fixed := func(body any) func(legacyCaller) call { return func(legacyCaller) call { return call{body: body} } }
	file := func(csv string) func(legacyCaller) call { return func(legacyCaller) call { return call{csv: csv} } }
	grades := "Student Id,Student Email,Student Name,Final Grade,Feedback\nST3,s3@qmul.example.ac.uk,Uma Three,64,Fine\n"
	table := []struct {
		method, path string
		want         [lzNCallers]int
		call         func(legacyCaller) call
	}{
		{"POST", "/sign-in", [lzNCallers]int{200, 200, 200, 200, 200}, func(c legacyCaller) call {
			return call{body: map[string]string{"email": signIns[c][0], "password": signIns[c][1]}}
		}},
		{"POST", "/student/info", lzOnly(200, lzCoordinator), file(legacyStudentsCSV)},
		{"POST", "/supervisor/info", lzOnly(200, lzCoordinator), file(legacySupervisorsCSV)},
		{"POST", "/examiner/info", lzOnly(200, lzCoordinator), file(legacyExaminersCSV)},
		{"POST", "/supervisor/assignment_info", lzOnly(200, lzCoordinator), file(legacyAssignmentCSV)},
		{"POST", "/secondary_examiner/info", lzOnly(200, lzCoordinator), file(strings.ReplaceAll(legacyExaminerAssignmentCSV, "s1@", "s3@"))},
		{"POST", "/supervisor/final_grades", lzOnly(200, lzCoordinator), file(grades)},
		{"GET", "/student/all", lzOnly(200, lzCoordinator), fixed(nil)},
		{"GET", "/supervisor/all", everyone, fixed(nil)},
		{"GET", "/student/overview", lzOnly(200, lzStudent), fixed(nil)},
		{"POST", "/student/project_info", lzOnly(200, lzStudent), fixed(map[string]string{"title": "Mine", "description": "d"})},
		{"GET", "/student/shortlist", lzOnly(200, lzStudent), fixed(nil)},
		{"POST", "/student/shortlist", lzOnly(200, lzStudent), fixed(map[string]any{"supervisor_1": "sup1@qmul.example.ac.uk"})},
		{"GET", "/supervisor/info/{supervisor_email}", everyone, fixed(nil)},
		{"GET", "/student/project_proposal/{supervisor_email}", lzOnly(200, lzStudent), fixed(nil)},
		{"POST", "/student/project_proposal", lzOnly(200, lzStudent), fixed(map[string]string{"supervisor_email": "sup1@qmul.example.ac.uk", "title": "T", "aim": "A", "rationale": "R"})},
		{"GET", "/supervisor/overview", lzOnly(200, lzSupervisor), fixed(nil)},
		{"POST", "/supervisor/project_info", lzOnly(200, lzSupervisor), fixed(map[string]any{"areas": "Systems", "info": "i", "projects": []any{}})},
		{"GET", "/supervisor/info", lzOnly(200, lzSupervisor), fixed(nil)},
		{"GET", "/supervisor/pending_proposals", lzOnly(200, lzSupervisor), fixed(nil)},
		{"POST", "/supervisor/pending_proposal", lzOnly(200, lzSupervisor), fixed(map[string]string{"student_email": "s2@qmul.example.ac.uk", "status": "rejected", "comment": "No"})},
		{"GET", "/supervisor/supervisees", lzOnly(200, lzSupervisor), fixed(nil)},
	}
	concrete := strings.NewReplacer("{supervisor_email}", "sup1@qmul.example.ac.uk")

	var keys []string
	for _, row := range table {
		keys = append(keys, row.method+" "+row.path)
	}
	if served := sameRoutes(t, s.app.LegacyRoutes(), keys); len(served) != 22 {
		t.Errorf("%d original routes are served, want the frontend's 22", len(served))
	}

	var failed []string
	for _, row := range table {
		for c := lzNobody; c < lzNCallers; c++ {
			cl := row.call(c)
			path := concrete.Replace(row.path)
			var r lresp
			if cl.csv != "" {
				r = lc.upload(tokens[c], path, "upload.csv", []byte(cl.csv))
			} else {
				r = lc.do(row.method, path, tokens[c], cl.body)
			}
			cell := fmt.Sprintf("%s %s as %s", row.method, row.path, c)
			want := row.want[c]
			ctype := "text/plain"
			if row.path == "/sign-in" {
				ctype = "application/json"
			}
			switch {
			case r.Status != want:
				failed = append(failed, fmt.Sprintf("%s: %d, want %d: %.200s", cell, r.Status, want, r.Raw))
			case want >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), ctype):
				failed = append(failed, fmt.Sprintf("%s: %d as %q, want %s", cell, r.Status, r.Header.Get("Content-Type"), ctype))
			case want == 401 && r.Header.Get("WWW-Authenticate") == "":
				failed = append(failed, cell+": 401 without WWW-Authenticate")
			}
		}
	}
	slices.Sort(failed)
	for _, f := range failed {
		t.Error(f)
	}
	t.Logf("%d routes x %d callers", len(table), lzNCallers)
}

// signInToken signs in through the original route and returns the token.
func (c legacyClient) signInToken(email, password string) string {
	c.t.Helper()
	tok, _ := c.signIn(email, password)
	return tok
}
