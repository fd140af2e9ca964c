package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestImportLatin1CellRefusesItsRow: as docs/imports.md says, a cell that is
// not UTF-8 (one Latin-1 byte, in a random row and column) makes its row an
// error naming the column, and the other rows are applied; a header that is
// not UTF-8 refuses the file whole, and nothing is stored.
func TestImportLatin1CellRefusesItsRow(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 29))
	columns := []string{"Student Code", "Name", "Enrolment Status", "Programme", "Route", "Start Date", "QM Email", "Username"}
	const rows = 6
	for round := range 3 {
		bad, col := rng.IntN(rows), rng.IntN(len(columns))
		latin1 := string([]byte{byte(0x80 + rng.IntN(0x80))}) // é is 0xe9 in Latin-1
		var b strings.Builder
		b.WriteString(strings.Join(columns, ",") + "\n")
		for i := range rows {
			cells := []string{fmt.Sprint("L", round, i), fmt.Sprint("Latin Student ", round, i), "Enrolled", "MSc", "FT", "2026",
				fmt.Sprintf("latin%d-%d@uni.example", round, i), fmt.Sprint("l", round, i)}
			if i == bad {
				cells[col] = cells[col][:1] + latin1 + cells[col][1:]
			}
			b.WriteString(strings.Join(cells, ",") + "\n")
		}
		rep := s.expect(s.upload(admin, "students", "students.csv", []byte(b.String()), ""), 200)
		errs, _ := rep.Body["errors"].([]any)
		want := columns[col] + ` is not valid UTF-8; save the file as "CSV UTF-8"`
		if rep.num("created") != rows-1 || len(errs) != 1 ||
			errs[0].(map[string]any)["line"] != float64(bad+2) || errs[0].(map[string]any)["message"] != want {
			t.Fatalf("byte %x in %s of row %d: %s", latin1, columns[col], bad+2, rep.Raw)
		}
	}

	header := strings.Join(columns, ",")
	at := 1 + rng.IntN(len(header)-1)
	file := header[:at] + "\xe9" + header[at:] + "\nL9,Header Latin,,,,,header-latin@uni.example,\n"
	r := s.expect(s.upload(admin, "students", "students.csv", []byte(file), ""), 400, "file-refused")
	if !strings.Contains(r.str("detail"), "UTF-8") || strings.Contains(storedEvents(t, s), "Header Latin") {
		t.Fatalf("a header with a Latin-1 byte: %s", r.Raw)
	}
}
