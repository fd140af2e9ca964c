package main

import (
	"bytes"
	"testing"
)

// TestImportOldMacFile: files saved with an old Mac's line ends (a lone CR)
// import like any other; they used to import 0 rows without a word.
func TestImportOldMacFile(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	for _, f := range []struct {
		kind, file string
		rows       int
	}{{"supervisors", "supervisors.csv", 40}, {"students", "students.csv", 200}, {"preferences", "preferences.csv", 200}} {
		cr := bytes.ReplaceAll(bytes.ReplaceAll(fixture(t, f.file), []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r"))
		for _, query := range []string{"?dry_run=true", ""} {
			r := s.expect(s.upload(admin, f.kind, f.file, cr, query), 200)
			if r.num("rows") != int64(f.rows) || len(r.Body["errors"].([]any)) != 0 || r.num("created")+r.num("updated") != int64(f.rows) {
				t.Fatalf("%s%s: %.300s", f.kind, query, r.Raw)
			}
		}
	}
}
