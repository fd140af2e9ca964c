package csvio

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteAssignments writes the supervisor or examiner assignments (kind says
// which) as a CSV that a spreadsheet opens as text and that Parse reads back
// into the same rows. The header is the import header of kind, so the file
// can be edited and imported again.
func WriteAssignments(w io.Writer, kind Kind, rows []Assignment) error {
	if kind != KindSupervisorAssignments && kind != KindExaminerAssignments {
		return fmt.Errorf("%w %s: assignments are exported as %s or %s",
			ErrUnknownKind, quote(string(kind)), KindSupervisorAssignments, KindExaminerAssignments)
	}
	return write(w, kind, len(rows), func(i int) []string {
		a := rows[i]
		return []string{a.StudentCode, a.StudentEmail, a.StudentName, a.StaffCode, a.StaffEmail, a.StaffName}
	})
}

// WriteGrades writes final grades with the final-grades import header, as a
// CSV that a spreadsheet opens as text and that Parse reads back unchanged.
func WriteGrades(w io.Writer, rows []Grade) error {
	return write(w, KindFinalGrades, len(rows), func(i int) []string {
		g := rows[i]
		return []string{g.StudentCode, g.StudentEmail, g.StudentName, strconv.Itoa(g.Grade), g.Feedback}
	})
}

// write emits kind's header and n rows, escaping every cell. CRLF line ends
// and no BOM are what RFC 4180 and every spreadsheet expect.
func write(w io.Writer, kind Kind, n int, cells func(i int) []string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(headerNames(kind)); err != nil {
		return err
	}
	for i := range n {
		rec := cells(i)
		for j, c := range rec {
			rec[j] = escapeCell(c)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// formulaStarts are the first characters that make a spreadsheet evaluate a
// cell (OWASP, "CSV Injection").
const formulaStarts = "=+-@\t\r"

// formulaLike reports whether s, ignoring leading apostrophes, starts like a
// formula. Ignoring the apostrophes is what makes escaping reversible: a
// value that already starts with "'=" is escaped once more, so unescaping
// one apostrophe on import gives it back.
func formulaLike(s string) bool {
	s = strings.TrimLeft(s, "'")
	return s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0
}

// escapeCell makes a cell inert for spreadsheets. The formula check looks at
// the raw value, so a leading "\r" is escaped too; line ends are then
// normalised to "\n", because encoding/csv's CRLF mode drops a lone "\r".
func escapeCell(s string) string {
	if formulaLike(s) {
		s = "'" + s
	}
	if strings.Contains(s, "\r") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return s
}

// unescapeCell undoes escapeCell's apostrophe; see formulaLike.
func unescapeCell(s string) string {
	if strings.HasPrefix(s, "'") && formulaLike(s[1:]) {
		return s[1:]
	}
	return s
}
