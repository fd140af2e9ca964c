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
		return []string{g.StudentCode, g.StudentEmail, g.StudentName, gradeCell(g.Grade, g.Label), g.Feedback}
	})
}

// MarksHeader is the header of the marks export: one row per student with
// something to mark, the student's marking whole. It is a report, not an
// import format.
var MarksHeader = []string{colStudentID, colStudentEmail, colStudentName, "Project Id", "Project Title", "State",
	"Supervisor Email", "Supervisor Mark", "Supervisor Feedback", "Examiner Email", "Examiner Mark", "Examiner Feedback",
	"Agreed Mark", "Agreed By", "Moderation Comment", colFeedback, "Released Mark"}

// Marks is a row of the marks export; a mark not given (nil) is a blank cell.
type Marks struct {
	StudentCode, StudentEmail, StudentName string
	ProjectID, ProjectTitle, State         string
	SupervisorEmail                        string
	SupervisorMark                         *int
	SupervisorFeedback                     string
	ExaminerEmail                          string
	ExaminerMark                           *int
	ExaminerFeedback                       string
	AgreedMark                             *int
	AgreedBy, ModerationComment, Feedback  string
	ReleasedMark                           *int
	// AgreedLabel and ReleasedLabel are grades given in words, written
	// in the place of their marks.
	AgreedLabel, ReleasedLabel string
}

// WriteMarks writes the marks export, every cell escaped as in the other
// exports (a feedback text is free text: it may start like a formula).
func WriteMarks(w io.Writer, rows []Marks) error {
	return writeRows(w, MarksHeader, len(rows), func(i int) []string {
		m := rows[i]
		return []string{m.StudentCode, m.StudentEmail, m.StudentName, m.ProjectID, m.ProjectTitle, m.State,
			m.SupervisorEmail, optInt(m.SupervisorMark), m.SupervisorFeedback, m.ExaminerEmail, optInt(m.ExaminerMark),
			m.ExaminerFeedback, optGrade(m.AgreedMark, m.AgreedLabel), m.AgreedBy, m.ModerationComment, m.Feedback,
			optGrade(m.ReleasedMark, m.ReleasedLabel)}
	})
}

func optInt(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// gradeCell is a final grade's cell: its words, or its mark.
func gradeCell(mark int, label string) string {
	if label != "" {
		return label
	}
	return strconv.Itoa(mark)
}

// optGrade is gradeCell for a grade that may not be given.
func optGrade(mark *int, label string) string {
	if label != "" || mark == nil {
		return label
	}
	return gradeCell(*mark, "")
}

// write emits kind's header and n rows, escaping every cell.
func write(w io.Writer, kind Kind, n int, cells func(i int) []string) error {
	return writeRows(w, headerNames(kind), n, cells)
}

// writeRows emits a header and n rows, escaping every cell. CRLF line ends
// and no BOM are what RFC 4180 and every spreadsheet expect.
func writeRows(w io.Writer, header []string, n int, cells func(i int) []string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
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
