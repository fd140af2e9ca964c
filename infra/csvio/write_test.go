package csvio

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEscapeCell(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+44 20 7882 5555", "'+44 20 7882 5555"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\nx"},
		{"'=x", "''=x"}, // already starts like an escape: escaped again, so import is exact
		{"''+x", "'''+x"},
		{"'plain", "'plain"},
		{"'", "'"},
		{"a=b", "a=b"},
		{"", ""},
		{"two\r\nlines\rthree", "two\nlines\nthree"},
	} {
		if got := escapeCell(tt.in); got != tt.want {
			t.Errorf("escapeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in != "" && !strings.Contains(tt.in, "\r") {
			if back := unescapeCell(escapeCell(tt.in)); back != tt.in {
				t.Errorf("unescapeCell(escapeCell(%q)) = %q", tt.in, back)
			}
		}
	}
}

func TestWriteGradesBytes(t *testing.T) {
	var b bytes.Buffer
	err := WriteGrades(&b, []Grade{
		{StudentCode: "ST1", StudentEmail: "a@x.ac.uk", StudentName: "=cmd|' /C calc'!A0", Grade: 70,
			Feedback: "Good, \"solid\"\nwork"},
		{StudentCode: "-ST2", StudentEmail: "b@x.ac.uk", StudentName: "Ben", Grade: 0, Feedback: "@risk"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Student Id,Student Email,Student Name,Final Grade,Feedback\r\n" +
		"ST1,a@x.ac.uk,'=cmd|' /C calc'!A0,70,\"Good, \"\"solid\"\"\r\nwork\"\r\n" +
		"'-ST2,b@x.ac.uk,Ben,0,'@risk\r\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWriteAssignmentsHeaders(t *testing.T) {
	for kind, header := range map[Kind]string{
		KindSupervisorAssignments: "Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\r\n",
		KindExaminerAssignments:   "Student Id,Student Email,Student Name,Secondary Examiner Id,Secondary Examiner Email,Secondary Examiner Name\r\n",
	} {
		var b bytes.Buffer
		if err := WriteAssignments(&b, kind, nil); err != nil || b.String() != header {
			t.Errorf("%s: %q, %v", kind, b.String(), err)
		}
	}
	var b bytes.Buffer
	if err := WriteAssignments(&b, KindStudents, nil); !errors.Is(err, ErrUnknownKind) || b.Len() != 0 {
		t.Errorf("students is not an assignment export: %v, wrote %q", err, b.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteReportsWriterErrors(t *testing.T) {
	rows := []Grade{{StudentEmail: "a@x.ac.uk", StudentName: "A"}}
	if err := WriteGrades(failingWriter{}, rows); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v", err)
	}
}

// gradeLines numbers rows as a file written one row per line would, plus the
// extra physical lines of multi-line cells.
func gradeLines(rows []Grade) []Grade {
	line := 2
	out := append([]Grade(nil), rows...)
	for i := range out {
		out[i].Line = line
		line += 1 + strings.Count(out[i].Feedback, "\n")
	}
	return out
}

func TestRoundTripGrades(t *testing.T) {
	rows := gradeLines([]Grade{
		{StudentCode: "ST1", StudentEmail: "a@x.ac.uk", StudentName: "=cmd|' /C calc'!A0", Grade: 0, Feedback: "=HYPERLINK(\"http://evil\")"},
		{StudentCode: "-2", StudentEmail: "+b@x.ac.uk", StudentName: "'=already escaped", Grade: 100, Feedback: "two\nlines, \"quoted\"\n\n- bullet"},
		{StudentCode: "", StudentEmail: "c@x.ac.uk", StudentName: "Zoë Ó Briain, Jr.", Grade: 55, Feedback: ""},
		{StudentCode: "@3", StudentEmail: "d@x.ac.uk", StudentName: "''+double", Grade: 7, Feedback: "'\ttab after apostrophe"},
		{StudentCode: "ST5", StudentEmail: "e@x.ac.uk", StudentName: "'plain apostrophe", Grade: 99, Feedback: "a\tb"},
	})
	var b bytes.Buffer
	if err := WriteGrades(&b, rows); err != nil {
		t.Fatal(err)
	}
	f := mustParse(t, KindFinalGrades, b.String())
	if len(f.Errors) != 0 {
		t.Fatalf("errors: %v\n%s", f.Errors, b.String())
	}
	if diff := cmp.Diff(rows, f.Grades); diff != "" {
		t.Errorf("round trip (-exported +parsed):\n%s", diff)
	}
}

func TestRoundTripAssignments(t *testing.T) {
	rows := []Assignment{
		{Line: 2, StudentCode: "ST1", StudentEmail: "a@x.ac.uk", StudentName: "=cmd|' /C calc'!A0",
			StaffCode: "=1+1", StaffEmail: "s@x.ac.uk", StaffName: "@Dr Evil"},
		{Line: 3, StudentCode: "ST2", StudentEmail: "b@x.ac.uk", StudentName: "Osei, Ben \"BO\"",
			StaffCode: "", StaffEmail: "-t@x.ac.uk", StaffName: "'+Dr T"},
	}
	for _, kind := range []Kind{KindSupervisorAssignments, KindExaminerAssignments} {
		t.Run(string(kind), func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteAssignments(&b, kind, rows); err != nil {
				t.Fatal(err)
			}
			f := mustParse(t, kind, b.String())
			if len(f.Errors) != 0 {
				t.Fatalf("errors: %v", f.Errors)
			}
			if diff := cmp.Diff(rows, f.Assignments); diff != "" {
				t.Errorf("round trip (-exported +parsed):\n%s", diff)
			}
		})
	}
}
