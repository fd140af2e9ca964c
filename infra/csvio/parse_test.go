package csvio

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// samples are copies of the original system's files (testdata/README.md).
var samples = []struct {
	kind Kind
	file string
	rows int
}{
	{KindStudents, "students.csv", 200},
	{KindSupervisors, "supervisors.csv", 40},
	{KindExaminers, "examiners.csv", 20},
	{KindSupervisorAssignments, "supervisor_assignment.csv", 30},
	{KindExaminerAssignments, "secondary_examiner_assignment.csv", 30},
	{KindFinalGrades, "final_grades.csv", 30},
	{KindPreferences, "preferences.csv", 200},
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustParse parses s and fails the test if the file is refused.
func mustParse(t *testing.T, kind Kind, s string) File {
	t.Helper()
	f, err := Parse(kind, strings.NewReader(s), Limits{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", kind, err)
	}
	return f
}

// kept counts the typed rows of a file, whatever its kind.
func kept(f File) int {
	return len(f.People) + len(f.Assignments) + len(f.Grades) + len(f.Preferences)
}

func intp(n int) *int { return &n }

func TestSamplesParseCleanly(t *testing.T) {
	for _, s := range samples {
		t.Run(string(s.kind), func(t *testing.T) {
			f := mustParse(t, s.kind, string(readSample(t, s.file)))
			if len(f.Errors) != 0 {
				t.Fatalf("errors: %v", f.Errors)
			}
			if f.Kind != s.kind || f.Rows != s.rows || kept(f) != s.rows {
				t.Fatalf("kind %s, rows %d, kept %d; want %s, %d, %d", f.Kind, f.Rows, kept(f), s.kind, s.rows, s.rows)
			}
		})
	}
}

func TestSamplesFirstRows(t *testing.T) {
	students := mustParse(t, KindStudents, string(readSample(t, "students.csv")))
	want := Person{Line: 2, Code: "ST260000", Name: "Amira Okafor", Email: "s0001@qmul.example.ac.uk",
		Username: "s0001", EnrolmentStatus: "Enrolled", Programme: "MSc Computer Science",
		Route: "Part-time", StartDate: "2026-09-21"}
	if diff := cmp.Diff(want, students.People[0]); diff != "" {
		t.Errorf("first student (-want +got):\n%s", diff)
	}
	if last := students.People[199]; last.Line != 201 {
		t.Errorf("last student on line %d, want 201", last.Line)
	}

	sups := mustParse(t, KindSupervisors, string(readSample(t, "supervisors.csv")))
	wantSup := Person{Line: 2, Code: "SV9000", Name: "Dr Ben Osei", Email: "sup001@qmul.example.ac.uk",
		Username: "sup001", Position: "Senior Lecturer", Department: "EECS", Slots: intp(5)}
	if diff := cmp.Diff(wantSup, sups.People[0]); diff != "" {
		t.Errorf("first supervisor (-want +got):\n%s", diff)
	}
	for _, p := range sups.People {
		if p.Slots == nil {
			t.Errorf("line %d: supervisor without slots", p.Line)
		}
	}

	exams := mustParse(t, KindExaminerAssignments, string(readSample(t, "secondary_examiner_assignment.csv")))
	wantA := Assignment{Line: 2, StudentCode: "ST260000", StudentEmail: "s0001@qmul.example.ac.uk",
		StudentName: "Amira Okafor", StaffCode: "EX7000", StaffEmail: "ex001@qmul.example.ac.uk", StaffName: "Dr Chen Larsen"}
	if diff := cmp.Diff(wantA, exams.Assignments[0]); diff != "" {
		t.Errorf("first examiner assignment (-want +got):\n%s", diff)
	}

	grades := mustParse(t, KindFinalGrades, string(readSample(t, "final_grades.csv")))
	wantG := Grade{Line: 6, StudentCode: "ST260004", StudentEmail: "s0005@qmul.example.ac.uk",
		StudentName: "Eli Novak", Grade: 78, Feedback: "Excellent, well-evaluated work."}
	if diff := cmp.Diff(wantG, grades.Grades[4]); diff != "" {
		t.Errorf("quoted feedback (-want +got):\n%s", diff)
	}

	prefs := mustParse(t, KindPreferences, string(readSample(t, "preferences.csv")))
	wantP := Preference{Line: 5, StudentEmail: "s0004@qmul.example.ac.uk",
		Choices: []string{"sup013@qmul.example.ac.uk", "sup007@qmul.example.ac.uk"}}
	if diff := cmp.Diff(wantP, prefs.Preferences[3]); diff != "" {
		t.Errorf("preference with trailing blanks (-want +got):\n%s", diff)
	}
}

// The same rows whatever the BOM and line ends: Excel writes BOM + CRLF,
// editors on Unix LF without BOM.
func TestBOMAndLineEndings(t *testing.T) {
	crlf := string(readSample(t, "students.csv"))
	if !strings.Contains(crlf, "\r\n") {
		t.Fatal("sample is expected to use CRLF")
	}
	lf := strings.ReplaceAll(crlf, "\r\n", "\n")
	want := mustParse(t, KindStudents, crlf)
	for name, in := range map[string]string{
		"LF":             lf,
		"BOM+CRLF":       "\uFEFF" + crlf,
		"BOM+LF":         "\uFEFF" + lf,
		"no final break": strings.TrimSuffix(lf, "\n"),
		"CR":             strings.ReplaceAll(crlf, "\r\n", "\r"),
		"BOM+CR":         "\uFEFF" + strings.ReplaceAll(crlf, "\r\n", "\r"),
		"mixed":          strings.Replace(strings.Replace(crlf, "\r\n", "\r", 50), "\r\n", "\n", 50),
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(want, mustParse(t, KindStudents, in)); diff != "" {
				t.Errorf("(-CRLF +%s):\n%s", name, diff)
			}
		})
	}
}

// TestOldMacLineEnds: a file with the lone CR line ends of an old Mac reads
// as the same rows as with LF, for every kind, with the same line numbers in
// its errors, and a line break in a quoted cell stays one.
func TestOldMacLineEnds(t *testing.T) {
	for _, s := range samples {
		t.Run(string(s.kind), func(t *testing.T) {
			lf := strings.ReplaceAll(string(readSample(t, s.file)), "\r\n", "\n")
			lf += "not,a,valid,row\n" // a row error, to compare its line
			cr := strings.ReplaceAll(lf, "\n", "\r")
			want, got := mustParse(t, s.kind, lf), mustParse(t, s.kind, cr)
			if got.Rows != s.rows+1 || len(got.Errors) != 1 {
				t.Fatalf("%d rows, %d errors; want %d and 1", got.Rows, len(got.Errors), s.rows+1)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-LF +CR):\n%s", diff)
			}
		})
	}
	in := "Student Id,Student Email,Student Name,Final Grade,Feedback\rS1,a@x.ac.uk,A,70,\"Good.\rMore.\"\r"
	f := mustParse(t, KindFinalGrades, in)
	if len(f.Grades) != 1 || f.Grades[0].Feedback != "Good.\nMore." {
		t.Fatalf("got %+v", f)
	}
}

// A BOM before a quoted first header cell must not turn it into a bare quote.
func TestBOMBeforeQuotedHeader(t *testing.T) {
	in := "\uFEFF\"Student Email\",\"Choice 1\",Choice 2,Choice 3,Choice 4,Choice 5\r\na@x.ac.uk,s@x.ac.uk,,,,\r\n"
	f := mustParse(t, KindPreferences, in)
	if len(f.Errors) != 0 || len(f.Preferences) != 1 {
		t.Fatalf("got %+v", f)
	}
}

func TestQuotedFieldsAndPhysicalLineNumbers(t *testing.T) {
	in := "Student Id,Student Email,Student Name,Final Grade,Feedback\r\n" + // 1
		"ST1,a@x.ac.uk,\"Okafor, Amira\",70,\"Good, \"\"solid\"\"\r\nwork\r\nover lines\"\r\n" + // 2-4
		"ST2,b@x.ac.uk,Ben,71,ok\r\n" + // 5
		"\r\n" + // 6, blank
		",,,,\r\n" + // 7, blank
		"ST3,c@x.ac.uk,,72,\"two\nlines\"\r\n" + // 8-9
		"ST4,d@x.ac.uk,Dara,73,\"x\"\r\n" // 10
	f := mustParse(t, KindFinalGrades, in)
	want := File{
		Kind: KindFinalGrades,
		Rows: 4,
		Grades: []Grade{
			{Line: 2, StudentCode: "ST1", StudentEmail: "a@x.ac.uk", StudentName: "Okafor, Amira", Grade: 70,
				Feedback: "Good, \"solid\"\nwork\nover lines"},
			{Line: 5, StudentCode: "ST2", StudentEmail: "b@x.ac.uk", StudentName: "Ben", Grade: 71, Feedback: "ok"},
			{Line: 10, StudentCode: "ST4", StudentEmail: "d@x.ac.uk", StudentName: "Dara", Grade: 73, Feedback: "x"},
		},
		Errors: []RowError{{Line: 8, Message: "Student Name is required"}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestGradesInWords: a Final Grade that is a whole number is a mark, to be
// within 0 to 100; anything else is a grade in words, handed on as written
// (the import judges it), and written back where the mark would be.
func TestGradesInWords(t *testing.T) {
	in := "Student Id,Student Email,Student Name,Final Grade,Feedback\n" +
		"S1,a@x.ac.uk,A,72,ok\n" +
		"S2,b@x.ac.uk,B,Pass,ok\n" +
		"S3,c@x.ac.uk,C,2:1,ok\n" +
		"S4,d@x.ac.uk,D,101,ok\n" +
		"S5,e@x.ac.uk,E,72.5,ok\n" +
		"S6,f@x.ac.uk,F,'=A+,ok\n"
	f := mustParse(t, KindFinalGrades, in)
	got := map[string]Grade{}
	for _, g := range f.Grades {
		got[g.StudentCode] = g
	}
	for code, want := range map[string]struct {
		grade int
		label string
	}{"S1": {72, ""}, "S2": {0, "Pass"}, "S3": {0, "2:1"}, "S5": {0, "72.5"}, "S6": {0, "=A+"}} {
		if g, ok := got[code]; !ok || g.Grade != want.grade || g.Label != want.label {
			t.Errorf("%s: %+v, want grade %d label %q", code, g, want.grade, want.label)
		}
	}
	if len(f.Errors) != 1 || f.Errors[0].Line != 5 || !strings.Contains(f.Errors[0].Message, "0 to 100") {
		t.Errorf("errors: %v", f.Errors)
	}
	var out strings.Builder
	if err := WriteGrades(&out, f.Grades); err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, KindFinalGrades, out.String())
	if diff := cmp.Diff(f.Grades, back.Grades, cmpopts.IgnoreFields(Grade{}, "Line")); diff != "" {
		t.Errorf("written and read back (-before +after):\n%s", diff)
	}
}

func TestHeaderFlexibility(t *testing.T) {
	// Any order, any case, extra spaces, unknown columns, optional Password absent.
	in := " qm EMAIL ,NAME,Notes,username,student code,Route,Programme,Start  Date,Enrolment Status\n" +
		"A@X.AC.UK,Amira,whatever,s1,ST1,Full-time,MSc CS,2026-09-21,Enrolled\n"
	f := mustParse(t, KindStudents, in)
	want := []Person{{Line: 2, Code: "ST1", Name: "Amira", Email: "a@x.ac.uk", Username: "s1",
		EnrolmentStatus: "Enrolled", Programme: "MSc CS", Route: "Full-time", StartDate: "2026-09-21"}}
	if diff := cmp.Diff(want, f.People); diff != "" || len(f.Errors) != 0 {
		t.Errorf("errors %v; people (-want +got):\n%s", f.Errors, diff)
	}
}

func TestHeaderRefused(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		is   error
		want []string // substrings of the error text
	}{
		{"missing two columns", KindStudents,
			"Student Code,Name,Enrolment Status,Programme,Route,Start Date,Password\nST1,A,,,,,\n",
			ErrHeader, []string{`missing columns "QM Email", "Username"`, "the students file needs"}},
		{"missing slots", KindSupervisors,
			"Supervisor Code,Name,Position,Department,QM Email,Username,Password\n",
			ErrHeader, []string{`missing column "Slots"`}},
		{"an examiners file", KindExaminers, "Examiner Code,Name\n", ErrHeader, []string{"; the examiners file needs Examiner Code,"}},
		{"duplicate column", KindExaminers,
			"Examiner Code,Name,Position,Department,QM Email,Username,qm email\n",
			ErrHeader, []string{`column "QM Email" appears twice (columns 5 and 7)`}},
		{"semicolons", KindPreferences,
			"Student Email;Choice 1;Choice 2;Choice 3;Choice 4;Choice 5\n",
			ErrHeader, []string{"separated by semicolons"}},
		{"empty file", KindStudents, "", ErrNotCSV, []string{"empty"}},
		{"only blank lines", KindStudents, "\r\n\n\n", ErrNotCSV, []string{"empty"}},
		{"invalid UTF-8 header", KindFinalGrades,
			"Student Id,Student Email,Student Name,Final Grade,Feedb\xffck\n", ErrNotCSV, []string{"UTF-8"}},
		{"malformed header", KindFinalGrades, "Student \"Id\",x\n", ErrNotCSV, []string{"header"}},
		{"UTF-16", KindStudents, "\xff\xfeS\x00t\x00", ErrNotCSV, []string{"UTF-16"}},
		{"Excel workbook", KindStudents, "PK\x03\x04\x14\x00\x06\x00", ErrNotCSV, []string{"Excel workbook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.kind, strings.NewReader(tt.in), Limits{})
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if diff := cmp.Diff(File{}, f); diff != "" {
				t.Errorf("a refused file returns no rows:\n%s", diff)
			}
		})
	}
}

const studentsHeader = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"

func TestBadRowsReportedGoodRowsKept(t *testing.T) {
	in := studentsHeader +
		"ST1,Amira,Enrolled,MSc,FT,2026,a@x.ac.uk,a,\n" + // 2 ok
		"ST2,Ben,Enrolled,MSc,FT,2026,not-an-email,b,\n" + // 3
		"ST3,,Enrolled,MSc,FT,2026,c@x.ac.uk,c,\n" + // 4
		"ST4,Chen,Enrolled,MSc,FT,2026,d@x.ac.uk\n" + // 5: too few fields
		"ST5,Dara,Enrolled,MSc,FT,2026,E@X.AC.UK,e,\n" + // 6 ok
		strings.Repeat("C", 65) + ",Eli,Enrolled,MSc,FT,2026,f@localhost,f,\n" + // 7: two problems
		"ST7,\"Fa\ntima\",Enrolled,MSc,FT,2026,g@x.ac.uk,g,\n" + // 8-9: control character
		"ST8,Gabriel,,,,,h@x.ac.uk,,\n" // 10 ok: optional cells blank
	f := mustParse(t, KindStudents, in)
	wantErrs := []RowError{
		{3, `QM Email "not-an-email" is not a valid e-mail address`},
		{4, "Name is required"},
		{5, "Row has 7 values but the header has 9 columns; a value that contains a comma must be in double quotes"},
		{7, `Student Code is longer than 64 characters; QM Email "f@localhost" is not a valid e-mail address`},
		{8, "Name contains a line break or another control character"},
	}
	if diff := cmp.Diff(wantErrs, f.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	var lines []int
	for _, p := range f.People {
		lines = append(lines, p.Line)
	}
	if diff := cmp.Diff([]int{2, 6, 10}, lines); diff != "" {
		t.Errorf("kept lines (-want +got):\n%s", diff)
	}
	if f.Rows != 8 || f.People[1].Email != "e@x.ac.uk" {
		t.Errorf("rows %d, e-mail %q", f.Rows, f.People[1].Email)
	}
}

func TestDuplicateEmails(t *testing.T) {
	t.Run("people", func(t *testing.T) {
		f := mustParse(t, KindStudents, studentsHeader+
			"ST1,Amira,,,,,a@x.ac.uk,,\n"+
			"ST2,Ben,,,,,b@x.ac.uk,,\n"+
			"ST3,Amira Again,,,,, A@X.ac.uk ,,\n")
		want := []RowError{{4, `QM Email "a@x.ac.uk" already appears on line 2`}}
		if diff := cmp.Diff(want, f.Errors); diff != "" || len(f.People) != 2 {
			t.Errorf("kept %d; errors (-want +got):\n%s", len(f.People), diff)
		}
	})
	t.Run("assignments by student", func(t *testing.T) {
		f := mustParse(t, KindSupervisorAssignments,
			"Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n"+
				"ST1,a@x.ac.uk,Amira,SV1,s@x.ac.uk,Dr S\n"+
				"ST2,b@x.ac.uk,Ben,SV1,s@x.ac.uk,Dr S\n"+ // same supervisor is fine
				"ST1,a@x.ac.uk,Amira,SV2,t@x.ac.uk,Dr T\n")
		want := []RowError{{4, `Student Email "a@x.ac.uk" already appears on line 2`}}
		if diff := cmp.Diff(want, f.Errors); diff != "" || len(f.Assignments) != 2 {
			t.Errorf("kept %d; errors (-want +got):\n%s", len(f.Assignments), diff)
		}
	})
	t.Run("first row bad for another reason", func(t *testing.T) {
		f := mustParse(t, KindFinalGrades, "Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
			"ST1,a@x.ac.uk,Amira,101,\n"+
			"ST1,a@x.ac.uk,Amira,60,\n")
		want := []RowError{
			{2, `Final Grade "101" is not a whole number from 0 to 100`},
			{3, `Student Email "a@x.ac.uk" already appears on line 2`},
		}
		if diff := cmp.Diff(want, f.Errors); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestNumbers(t *testing.T) {
	const supHeader = "Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n"
	rows := []string{"0", "1000", "007", "", "-1", "1001", "5.0", "+5", "five", "99999999999999999999"}
	in := supHeader
	for i, slots := range rows {
		in += "SV,Dr X," + "P,D," + string(rune('a'+i)) + "@x.ac.uk,u," + slots + "\n"
	}
	f := mustParse(t, KindSupervisors, in)
	var got []int
	for _, p := range f.People {
		got = append(got, *p.Slots)
	}
	if diff := cmp.Diff([]int{0, 1000, 7}, got); diff != "" {
		t.Errorf("slots (-want +got):\n%s", diff)
	}
	want := []RowError{
		{5, "Slots is required"},
		{6, `Slots "-1" is not a whole number from 0 to 1000`},
		{7, `Slots "1001" is not a whole number from 0 to 1000`},
		{8, `Slots "5.0" is not a whole number from 0 to 1000`},
		{9, `Slots "+5" is not a whole number from 0 to 1000`},
		{10, `Slots "five" is not a whole number from 0 to 1000`},
		{11, `Slots "99999999999999999999" is not a whole number from 0 to 1000`},
	}
	if diff := cmp.Diff(want, f.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	g := mustParse(t, KindFinalGrades, "Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
		"ST1,a@x.ac.uk,A,0,\n"+
		"ST2,b@x.ac.uk,B,100,\n"+
		"ST3,c@x.ac.uk,C,,\n"+
		"ST4,d@x.ac.uk,D,-3,\n"+
		"ST5,e@x.ac.uk,E,50,"+strings.Repeat("x", 5001)+"\n")
	wantG := []RowError{
		{4, "Final Grade is required"},
		{5, `Final Grade "-3" is not a whole number from 0 to 100`},
		{6, "Feedback is longer than 5000 characters"},
	}
	if diff := cmp.Diff(wantG, g.Errors); diff != "" || len(g.Grades) != 2 {
		t.Errorf("kept %d; errors (-want +got):\n%s", len(g.Grades), diff)
	}
}

func TestPreferences(t *testing.T) {
	in := "Student Email,Choice 1,Choice 2,Choice 3,Choice 4,Choice 5\n" +
		"a@x.ac.uk,S1@X.AC.UK,s2@x.ac.uk,s3@x.ac.uk,s4@x.ac.uk,s5@x.ac.uk\n" + // 2 ok, five choices
		"b@x.ac.uk,s1@x.ac.uk,,,,\n" + // 3 ok, one choice
		"c@x.ac.uk,s1@x.ac.uk,,s3@x.ac.uk,,s5@x.ac.uk\n" + // 4 gaps
		"d@x.ac.uk,s1@x.ac.uk,s2@x.ac.uk,S1@x.ac.uk,,\n" + // 5 repeat
		"e@x.ac.uk,,,,,\n" + // 6 none
		"f@x.ac.uk,s1@x.ac.uk,Dr Smith,,,\n" + // 7 not an e-mail
		",s1@x.ac.uk,,,,\n" // 8 no student
	f := mustParse(t, KindPreferences, in)
	wantP := []Preference{
		{Line: 2, StudentEmail: "a@x.ac.uk", Choices: []string{"s1@x.ac.uk", "s2@x.ac.uk", "s3@x.ac.uk", "s4@x.ac.uk", "s5@x.ac.uk"}},
		{Line: 3, StudentEmail: "b@x.ac.uk", Choices: []string{"s1@x.ac.uk"}},
	}
	if diff := cmp.Diff(wantP, f.Preferences); diff != "" {
		t.Errorf("preferences (-want +got):\n%s", diff)
	}
	wantE := []RowError{
		{4, "Choice 3 is filled but Choice 2 is blank; list the choices without gaps"},
		{5, `Choice 3 repeats Choice 1 ("s1@x.ac.uk"); list each supervisor once`},
		{6, "Choice 1 is required: list at least one supervisor e-mail"},
		{7, `Choice 2 "dr smith" is not a valid e-mail address`},
		{8, "Student Email is required"},
	}
	if diff := cmp.Diff(wantE, f.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestEmailValidation(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"a@x.ac.uk", true},
		{"first.last+tag@dept.qmul.ac.uk", true},
		{"a@localhost", false},
		{"Amira <a@x.ac.uk>", false},
		{"<a@x.ac.uk>", false},
		{"a@x.ac.uk (home)", false},
		{"a@[192.168.0.1]", false},
		{"a@x..uk", false},
		{"a@x.uk.", false},
		{"a@@x.uk", false},
		{"@x.uk", false},
		{"a b@x.uk", false},
		{`=HYPERLINK("http://evil.example","a@x.ac.uk")`, false},
		{strings.Repeat("a", 250) + "@x.uk", false},
	} {
		if got := validEmail(tt.in); got != tt.ok {
			t.Errorf("validEmail(%q) = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestKinds(t *testing.T) {
	want := []Kind{"students", "supervisors", "examiners", "supervisor-assignments",
		"examiner-assignments", "final-grades", "preferences"}
	if diff := cmp.Diff(want, Kinds()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	Kinds()[0] = "changed"
	if Kinds()[0] != KindStudents {
		t.Error("Kinds returns the package's own slice")
	}
	for _, k := range want {
		got, err := ParseKind(" " + strings.ToUpper(string(k)) + " ")
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, bad := range []string{"", "student", "final_grades"} {
		if _, err := ParseKind(bad); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("ParseKind(%q) error %v, want ErrUnknownKind", bad, err)
		}
	}
	if _, err := Parse("nope", strings.NewReader(studentsHeader), Limits{}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("Parse with an unknown kind: %v", err)
	}
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	b.WriteString(studentsHeader)
	for i := range 2500 {
		b.WriteString("ST,Name,,,,," + strings.Repeat("a", i%7+1) + "x" + strconv.Itoa(i) + "@x.ac.uk,,\n")
		if i%100 == 0 {
			b.WriteString("\n") // blank lines neither count nor trigger a call
		}
	}
	var calls []int
	f, err := ParseWithProgress(KindStudents, strings.NewReader(b.String()), Limits{}, func(n int) { calls = append(calls, n) })
	if err != nil || len(f.Errors) != 0 || f.Rows != 2500 {
		t.Fatalf("rows %d, errors %v, err %v", f.Rows, f.Errors, err)
	}
	if diff := cmp.Diff([]int{1000, 2000}, calls); diff != "" {
		t.Errorf("progress calls (-want +got):\n%s", diff)
	}
}
