package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/infra/csvio"
	"github.com/capstone-pms/capstone/queries"
)

// upload posts a CSV file as multipart/form-data and decodes the answer.
func (s *service) upload(token, kind, file string, body []byte, query string) response {
	s.t.Helper()
	rd, ctype := multipartFile(file, body)
	return s.do("POST", "/v1/imports/"+kind+query, token, rd, "Content-Type", ctype)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "infra", "csvio", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportCohort imports the original system's sample files in order; the
// second import of each changes nothing.
func TestImportCohort(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	files := []struct{ kind, file string }{
		{"supervisors", "supervisors.csv"}, {"examiners", "examiners.csv"}, {"students", "students.csv"},
		{"preferences", "preferences.csv"}, {"supervisor-assignments", "supervisor_assignment.csv"},
		{"examiner-assignments", "secondary_examiner_assignment.csv"}, {"final-grades", "final_grades.csv"},
	}
	// A dry run first: a report, and nothing stored.
	dry := s.expect(s.upload(admin, "supervisors", "supervisors.csv", fixture(t, "supervisors.csv"), "?dry_run=true"), 200)
	if dry.num("created") != 40 || dry.Body["dry_run"] != true {
		t.Fatalf("dry run: %s", dry.Raw)
	}
	for _, f := range files {
		body := fixture(t, f.file)
		first := s.expect(s.upload(admin, f.kind, f.file, body, ""), 200)
		if errs, _ := first.Body["errors"].([]any); len(errs) != 0 || first.num("rows") == 0 {
			t.Fatalf("%s: %s", f.kind, first.Raw)
		}
		if first.num("created")+first.num("updated") != first.num("rows") {
			t.Fatalf("%s first import: %s", f.kind, first.Raw)
		}
		again := s.expect(s.upload(admin, f.kind, f.file, body, ""), 200)
		if again.num("unchanged") != again.num("rows") || again.num("created")+again.num("updated") != 0 {
			t.Fatalf("%s second import changed something: %s", f.kind, again.Raw)
		}
	}
	waitFor(t, "the supervisors list with capacities", func() bool {
		items := s.do("GET", "/v1/supervisors", admin, nil).items()
		for _, it := range items {
			if it["capacity"].(float64) < 1 {
				return false
			}
		}
		return len(items) == 40
	})
	sup := s.do("GET", "/v1/supervisors", admin, nil).items()[0]
	if sup["capacity"].(float64) < 1 || sup["email"] == "" {
		t.Fatalf("supervisor after import: %v", sup)
	}
	// Export -> import under the same name changes nothing.
	for _, ex := range []struct {
		kind, alias string
		rows        int64
	}{{"supervisor-assignments", "assignments", 30}, {"final-grades", "grades", 30}} {
		path := "/v1/exports/" + ex.kind + ".csv"
		var csv response
		waitFor(t, path, func() bool {
			csv = s.expect(s.do("GET", path, admin, nil), 200)
			return strings.Count(csv.Raw, "\r\n") == int(ex.rows)+1
		})
		if !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s content type %q", path, csv.Header.Get("Content-Type"))
		}
		back := s.expect(s.upload(admin, ex.kind, "export.csv", []byte(csv.Raw), ""), 200)
		if back.num("rows") != ex.rows || back.num("unchanged") != ex.rows {
			t.Fatalf("re-importing %s: %s", path, back.Raw)
		}
		// The earlier name still answers, with the same file.
		if old := s.expect(s.do("GET", "/v1/exports/"+ex.alias+".csv", admin, nil), 200); old.Raw != csv.Raw {
			t.Errorf("the alias %s.csv answers another file", ex.alias)
		}
	}
	s.expect(s.do("GET", "/v1/exports/grades.csv", s.signIn("coordinator@uni.example", adminPassword), nil), 200)
	// Imported users have no password: they cannot sign in.
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "s0001@qmul.example.ac.uk", "password": "anything at all"}), 401)
}

// TestImportBadRows: bad rows are reported by line while good rows go in; a
// file without a required column is refused whole.
func TestImportBadRows(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	csv := "\ufeffStudent Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\r\n" +
		"ST1,Good One,Enrolled,MSc,Full-time,2026-09-21,good1@uni.example,g1\r\n" +
		"ST2,,Enrolled,MSc,Full-time,2026-09-21,noname@uni.example,g2\r\n" +
		"ST3,\"Formula, Person\",Enrolled,MSc,Full-time,2026-09-21,=HYPERLINK(\"http://x\"),g3\r\n" +
		"ST4,Good Two,Enrolled,MSc,Full-time,2026-09-21,good2@uni.example,g4\r\n"
	r := s.expect(s.upload(admin, "students", "s.csv", []byte(csv), ""), 200)
	errs, _ := r.Body["errors"].([]any)
	if r.num("rows") != 4 || r.num("created") != 2 || len(errs) != 2 {
		t.Fatalf("report: %s", r.Raw)
	}
	if l := errs[0].(map[string]any)["line"]; l != float64(3) {
		t.Fatalf("first bad row on line %v, want 3", l)
	}
	s.expect(s.upload(admin, "students", "s.csv", []byte("Name,QM Email\nA,a@uni.example\n"), ""), 400, "file-refused")
	s.expect(s.upload(admin, "wizards", "s.csv", []byte(csv), ""), 404)
}

// TestAllocation: after importing the cohort and its preferences, a dry run
// places students without storing anything, a real run is recorded with its
// seed, capacities hold, and a repeat places nobody twice.
func TestAllocation(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	importFixtureCohort(t, s, admin)
	dry := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "seed": 42}), 200)
	if dry.Body["applied"] != false || len(dry.Body["assignments"].([]any)) == 0 || dry.num("seed") != 42 {
		t.Fatalf("dry run: %.300s", dry.Raw)
	}
	again := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "seed": 42}), 200)
	if fmt.Sprint(again.Body["assignments"]) != fmt.Sprint(dry.Body["assignments"]) {
		t.Fatal("the same seed gave a different allocation")
	}
	run := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 42}), 200)
	placed := len(run.Body["assignments"].([]any))
	if run.Body["applied"] != true || placed == 0 {
		t.Fatalf("run: %.300s", run.Raw)
	}
	profile := run.Body["profile"].(map[string]any)
	byRank := profile["by_rank"].(map[string]any)
	total := 0
	for _, v := range byRank {
		total += int(v.(float64))
	}
	if total+int(profile["outside_list"].(float64)) != placed {
		t.Fatalf("profile %v does not add up to %d placed", profile, placed)
	}
	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for sup, n := range board.Allocated {
		if n > board.Capacity[sup] {
			t.Fatalf("supervisor %s has %d students for %d slots", sup, n, board.Capacity[sup])
		}
	}
	second := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false}), 200)
	for _, a := range second.Body["assignments"].([]any) {
		id := a.(map[string]any)["student_id"]
		for _, b := range run.Body["assignments"].([]any) {
			if b.(map[string]any)["student_id"] == id {
				t.Fatalf("student %v placed twice", id)
			}
		}
	}
}

// TestKindNames: one set of names. The help lists exactly the import kinds,
// every export but a report is named after an import kind (and imports back
// under it),
// and an unknown kind or export lists the valid ones, in the CLI and the API.
func TestKindNames(t *testing.T) {
	var help bytes.Buffer
	_ = run(context.Background(), []string{"help"}, nil, &help, io.Discard, func(string) string { return "" })
	line := regexp.MustCompile(`(?m)^  import .*$`).FindString(help.String())
	for _, k := range csvio.Kinds() {
		if !regexp.MustCompile(`[ ,:]` + regexp.QuoteMeta(string(k)) + `(,|$)`).MatchString(line) {
			t.Errorf("capstone --help does not list the import kind %s: %q", k, line)
		}
	}
	for _, stale := range []string{" assignments", " grades"} {
		if strings.Contains(line, stale+",") || strings.HasSuffix(line, stale) {
			t.Errorf("capstone --help lists %q, which is no import kind: %q", stale, line)
		}
	}
	for _, name := range api.ExportNames {
		if _, err := csvio.ParseKind(name); err != nil && !slices.Contains(api.ReportExports, name) {
			t.Errorf("export %s is not named after an import kind", name)
		}
	}
	all := importKinds()
	err := run(context.Background(), []string{"import", "--data-dir", t.TempDir(), "assignments", "x.csv"}, nil, io.Discard, io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), all) {
		t.Errorf("capstone import assignments: %v; want the valid kinds (%s)", err, all)
	}

	s := startService(t)
	admin := s.admin()
	r := s.expect(s.upload(admin, "grades", "g.csv", []byte("a,b\r\n"), ""), 404, "unknown-kind")
	if !strings.Contains(r.str("detail"), all) {
		t.Errorf("unknown import kind: %s; want the valid kinds listed", r.Raw)
	}
	r = s.expect(s.do("GET", "/v1/exports/examiners.csv", admin, nil), 404, "unknown-export")
	if !strings.Contains(r.str("detail"), strings.Join(api.ExportNames, ", ")) {
		t.Errorf("unknown export: %s; want the valid names listed", r.Raw)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`/v1/exports/([a-z-]+)\.csv`).FindAllStringSubmatch(string(readme), -1) {
		if !slices.Contains(api.ExportNames, m[1]) {
			t.Errorf("README uses the export name %s; the names are %v", m[1], api.ExportNames)
		}
	}
}

// TestImportPasswords: with ?passwords=true the Password column sets the
// password of each user who has none yet, under the password rules; a user
// who has one keeps it, so the same file imported again changes nothing. A
// dry run sets none, and without the parameter the column is ignored.
func TestImportPasswords(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const header = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"
	row := func(n int, password string) string {
		return fmt.Sprintf("ST%d,Student %d,Enrolled,MSc,Full-time,2026-09-21,pw%d@uni.example,pw%d,%s\n", n, n, n, n, password)
	}
	signIn := func(n int, password string) int {
		return s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": fmt.Sprintf("pw%d@uni.example", n), "password": password}).Status
	}
	// Without the parameter, the column is ignored.
	s.expect(s.upload(admin, "students", "s.csv", []byte(header+row(0, "ignored password 0")), ""), 200)
	if st := signIn(0, "ignored password 0"); st != 401 {
		t.Errorf("a password imported without ?passwords=true signs in: %d", st)
	}
	file := header + row(1, "first password 1") + row(2, "short") + row(3, "") + row(0, "now set password 0")
	rep := s.expect(s.upload(admin, "students", "s.csv", []byte(file), "?passwords=true"), 200)
	errs, _ := rep.Body["errors"].([]any)
	if rep.num("created") != 2 || rep.num("updated") != 1 || len(errs) != 1 || errs[0].(map[string]any)["line"] != float64(3) {
		t.Fatalf("report: %s", rep.Raw)
	}
	if msg := fmt.Sprint(errs[0]); !strings.Contains(msg, "at least 10 characters") || strings.Contains(msg, "short") {
		t.Errorf("the weak password's row: %s", msg)
	}
	for n, pw := range map[int]string{1: "first password 1", 0: "now set password 0"} {
		if st := signIn(n, pw); st != 200 {
			t.Errorf("pw%d cannot sign in with the imported password: %d", n, st)
		}
	}
	if st := signIn(2, "short"); st != 401 {
		t.Errorf("the refused row's user signs in: %d", st)
	}
	// Imported again: nothing changes, and a password its holder changed stays.
	tok := s.signIn("pw1@uni.example", "first password 1")
	s.expect(s.do("PUT", "/v1/me/password", tok, map[string]string{"current_password": "first password 1", "new_password": "chosen password 1"}), 200)
	again := s.expect(s.upload(admin, "students", "s.csv", []byte(header+row(1, "first password 1")+row(0, "now set password 0")), "?passwords=true"), 200)
	if again.num("unchanged") != 2 {
		t.Errorf("the same file again: %s", again.Raw)
	}
	if signIn(1, "chosen password 1") != 200 || signIn(1, "first password 1") != 401 {
		t.Error("importing the file again undid the password its holder chose")
	}
	// A dry run sets nothing, even for a user who has no password.
	s.expect(s.upload(admin, "students", "s.csv", []byte(header+row(3, "dry password 3")), "?passwords=true&dry_run=true"), 200)
	if st := signIn(3, "dry password 3"); st != 401 {
		t.Errorf("a dry run set a password: %d", st)
	}
	s.expect(s.upload(admin, "students", "s.csv", []byte(header+row(3, "x")), "?passwords=maybe"), 400, "invalid")
	// The history says a password was set, and by whom: the coordinator's import.
	id := s.expect(s.do("GET", "/v1/users?email=pw0@uni.example", admin, nil), 200).items()[0]["id"]
	hist := s.expect(s.do("GET", fmt.Sprint("/v1/users/", id, "/history"), admin, nil), 200).items()
	last := hist[len(hist)-1]
	if last["type"] != "UserPasswordSet" || last["actor"].(map[string]any)["user_id"] != s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id") {
		t.Errorf("the history of an imported password: %v", hist)
	}
}

// TestImportQueryBooleans: ?dry_run= and ?passwords= take every spelling of
// a yes/no that the settings take, in any case; anything else, a bare
// ?dry_run included, is refused with 400 and stores nothing. A preview asked
// for as ?dry_run=yes imported for real.
func TestImportQueryBooleans(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const header = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"
	n := 0
	file := func() (string, []byte) {
		n++
		email := fmt.Sprintf("qb%d@uni.example", n)
		return email, []byte(header + fmt.Sprintf("QB%d,Student %d,Enrolled,MSc,Full-time,2026-09-21,%s,qb%d,password number %d\n", n, n, email, n, n))
	}
	stored := func(email string) bool {
		return len(s.expect(s.do("GET", "/v1/users?email="+email, admin, nil), 200).items()) == 1
	}
	randomCase := func(w string) string {
		b := []byte(w)
		for i := range b {
			if rand.IntN(2) == 0 {
				b[i] = bytes.ToUpper(b[i : i+1])[0]
			}
		}
		return string(b)
	}
	for _, yes := range []string{"true", "1", "yes", "on"} {
		email, body := file()
		rep := s.expect(s.upload(admin, "students", "s.csv", body, "?dry_run="+randomCase(yes)), 200)
		if rep.Body["dry_run"] != true || stored(email) {
			t.Errorf("?dry_run=%s imported for real: %s", yes, rep.Raw)
		}
	}
	for _, no := range []string{"false", "0", "no", "off"} {
		email, body := file()
		rep := s.expect(s.upload(admin, "students", "s.csv", body, "?dry_run="+randomCase(no)+"&passwords="+randomCase(no)), 200)
		if rep.Body["dry_run"] == true || !stored(email) {
			t.Errorf("?dry_run=%s did not import: %s", no, rep.Raw)
		}
	}
	for _, bad := range []string{"", "maybe", "tru", "y", "2", "yes%20please"} {
		for _, name := range []string{"dry_run", "passwords"} {
			email, body := file()
			s.expect(s.upload(admin, "students", "s.csv", body, "?"+name+"="+bad), 400, "invalid")
			if stored(email) {
				t.Errorf("?%s=%s was refused but stored the file", name, bad)
			}
		}
	}
	email, body := file()
	s.expect(s.upload(admin, "students", "s.csv", body, "?dry_run"), 400, "invalid")
	if stored(email) {
		t.Error("a bare ?dry_run stored the file")
	}
}

// TestUploadLimitIsTheParsers: the API's upload limit is the parser's
// default, which docs/imports.md states (TestImportDocs).
func TestUploadLimitIsTheParsers(t *testing.T) {
	if api.MaxCSVUpload != csvio.DefaultMaxBytes {
		t.Fatalf("the API takes uploads of %d bytes, docs/imports.md says %d", api.MaxCSVUpload, csvio.DefaultMaxBytes)
	}
}

// importFixtureCohort imports the fixture cohort (40 supervisors, 200
// students, their preferences) and waits until every student's preferences
// are in the read model, which is what an allocation reads.
func importFixtureCohort(t *testing.T, s *service, admin string) {
	t.Helper()
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"students", "students.csv"}, {"preferences", "preferences.csv"}} {
		s.expect(s.upload(admin, f.kind, f.file, fixture(t, f.file), ""), 200)
	}
	waitForRankings(t, s, 200)
}

// waitForRankings waits until n students' preferences are in the read
// model, which is what an allocation reads.
func waitForRankings(t *testing.T, s *service, n int) {
	t.Helper()
	students := queries.Students{Reader: newReadModels(s)}
	waitFor(t, fmt.Sprint(n, " students' preferences in the read model"), func() bool {
		docs, err := students.All(context.Background())
		ranked := 0
		for _, d := range docs {
			if len(d.Preferences) > 0 {
				ranked++
			}
		}
		return err == nil && ranked == n
	})
}
