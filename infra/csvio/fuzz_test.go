package csvio

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds arbitrary bytes as every kind and checks the promises the
// import report relies on: no panic; every row is either kept or reported,
// once, at a line that exists; and a parsed export kind survives a round trip
// through its writer.
func FuzzParse(f *testing.F) {
	for i, s := range samples {
		f.Add(uint8(i), readSample(f, s.file))
	}
	seeds := []string{
		studentsHeader + "ST1,\"Am\"\"ira\nOkafor\",,,,,a@x.ac.uk,,\n",
		gradesHeader + "ST1,a@x.ac.uk,=1+1,70,\"'=x\r\ny\"\r\n,,,,\r\n\"unclosed",
		gradesHeader + "ST1,A@X.AC.UK,''=A,101,\xff\r\nST1,a@x.ac.uk,A,1,\"a\"b\r\n",
		"\uFEFFStudent Email,Choice 1,Choice 2,Choice 3,Choice 4,Choice 5\na@x.ac.uk,s@x.ac.uk,,t@x.ac.uk,,\n",
		"Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n,a@x.ac.uk,'\tA,,s@x.ac.uk,S\n",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}

	f.Fuzz(func(t *testing.T, kindIndex uint8, data []byte) {
		kind := allKinds[int(kindIndex)%len(allKinds)]
		file, err := Parse(kind, bytes.NewReader(data), Limits{MaxRows: 2000})
		if err != nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		if n := kept(file) + len(file.Errors); n > lines || n != file.Rows {
			t.Fatalf("%d kept + %d errors, Rows %d, in %d lines", kept(file), len(file.Errors), file.Rows, lines)
		}
		last := 1
		for _, e := range file.Errors {
			if e.Line < 2 || e.Line > lines || e.Line <= last {
				t.Fatalf("error line %d (previous %d, %d lines): %s", e.Line, last, lines, e.Message)
			}
			last = e.Line
			if e.Message == "" || !utf8.ValidString(e.Message) {
				t.Fatalf("bad message %q", e.Message)
			}
		}
		checkRoundTrip(t, file)
	})
}

// checkRoundTrip exports what Parse kept and parses it again: the rows must
// come back identical (up to line numbers) and without errors.
func checkRoundTrip(t *testing.T, file File) {
	var b bytes.Buffer
	switch file.Kind {
	case KindSupervisorAssignments, KindExaminerAssignments:
		if err := WriteAssignments(&b, file.Kind, file.Assignments); err != nil {
			t.Fatal(err)
		}
	case KindFinalGrades:
		if err := WriteGrades(&b, file.Grades); err != nil {
			t.Fatal(err)
		}
	default:
		return
	}
	again, err := Parse(file.Kind, &b, Limits{MaxRows: 2000})
	if err != nil || len(again.Errors) != 0 {
		t.Fatalf("re-parsing the export: %v %v", err, again.Errors)
	}
	noLines := func(f File) File {
		for i := range f.Assignments {
			f.Assignments[i].Line = 0
		}
		for i := range f.Grades {
			f.Grades[i].Line = 0
		}
		f.Rows, f.Errors = 0, nil
		return f
	}
	if diff := cmp.Diff(noLines(file), noLines(again)); diff != "" {
		t.Fatalf("round trip (-parsed +re-parsed):\n%s", diff)
	}
}
