package csvio

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// docsPath is the page that documents the import files; between
// docsBegin and docsEnd it holds importDocs, word for word.
const (
	docsPath  = "../../docs/imports.md"
	docsBegin = "<!-- BEGIN generated from infra/csvio: TestImportDocs keeps it in step -->\n"
	docsEnd   = "<!-- END generated -->\n"
)

// importDocs is the limits, the encoding and the columns of every kind, as
// the page gives them (the encoding is what TestHeaderRefused and
// TestInvalidUTF8IsReportedPerRow hold the parser to).
func importDocs() string {
	var b strings.Builder
	l := Limits{}.withDefaults()
	fmt.Fprintf(&b, "## Limits\n\n")
	fmt.Fprintf(&b, "- A file is at most %s (the API's upload limit).\n", byteSize(l.MaxBytes))
	fmt.Fprintf(&b, "- At most %s data rows (blank lines do not count): a longer file is refused whole.\n", thousands(l.MaxRows))
	fmt.Fprintf(&b, "- A cell is at most %s characters: a longer one makes its row an error.\n", thousands(l.MaxField))
	fmt.Fprintf(&b, "\n## Encoding\n\n")
	fmt.Fprintf(&b, "- A file in UTF-16, an Excel workbook, or one whose header row is not UTF-8 is refused whole.\n")
	fmt.Fprintf(&b, "- A cell that is not UTF-8 (a byte of Latin-1, say) makes its row an error, like any other bad cell:\n")
	fmt.Fprintf(&b, "  the other rows are applied.\n")
	fmt.Fprintf(&b, "\n## Columns\n")
	for _, k := range Kinds() {
		fmt.Fprintf(&b, "\n### %s\n\n| column | takes |\n|---|---|\n", k)
		for _, c := range Columns(k) {
			name := "`" + c.Name + "`"
			if c.Optional {
				name += " (the column may be left out)"
			}
			fmt.Fprintf(&b, "| %s | %s |\n", name, c.Format)
		}
	}
	return b.String()
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

var updateDocs = flag.Bool("update", false, "rewrite the generated part of docs/imports.md")

// TestImportDocs: docs/imports.md gives the limits and the columns of every
// kind as this package has them. When they change, it fails until
// `go test ./infra/csvio -run TestImportDocs -update` rewrites the page's
// generated part.
func TestImportDocs(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	head, rest, ok := strings.Cut(string(raw), docsBegin)
	got, tail, ok2 := strings.Cut(rest, docsEnd)
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", docsPath, docsBegin, docsEnd)
	}
	want := importDocs()
	if got == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(docsPath, []byte(head+docsBegin+want+docsEnd+tail), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is not what infra/csvio says: run go test ./infra/csvio -run TestImportDocs -update; it wants\n%s", docsPath, want)
}

// cellsFor is a valid value of each format, and values each format refuses.
var cellsFor = map[format]struct {
	valid   []string
	invalid []string
}{
	fmtCode:     {[]string{"", strings.Repeat("c", maxCode)}, []string{strings.Repeat("c", maxCode+1), "a\x01b", "a\u202eb"}},
	fmtName:     {[]string{"Ada", strings.Repeat("n", maxName)}, []string{"", strings.Repeat("n", maxName+1), "line\nbreak", "Ad\u202ea", "Ad\u2066a"}},
	fmtText:     {[]string{"", strings.Repeat("t", maxText)}, []string{strings.Repeat("t", maxText+1), "line\nbreak", "x\u2069y"}},
	fmtKeyEmail: {[]string{"Row@Uni.Example"}, []string{"", "not an address", "a@localhost"}},
	fmtEmail:    {[]string{"staff@uni.example"}, []string{"", "not an address"}},
	fmtSlots:    {[]string{"0", fmt.Sprint(maxSlots)}, []string{"", fmt.Sprint(maxSlots + 1), "-1", "5.0", "+5"}},
	fmtGrade:    {[]string{"0", fmt.Sprint(maxGrade), "Pass"}, []string{"", fmt.Sprint(maxGrade + 1), "-1"}},
	fmtFeedback: {[]string{"", "two\nlines", strings.Repeat("f", maxFeedback)}, []string{strings.Repeat("f", maxFeedback+1), "a\x01b", "a\u202eb"}},
	fmtPassword: {[]string{"", " any password at all "}, nil},
	fmtChoice:   {[]string{"sup@uni.example"}, []string{"not an address"}},
}

// TestColumnFormatsAreTheParser probes every column of every kind with the
// values its documented format accepts and refuses: a row that is valid but
// for that cell parses, or is refused naming that column. Optional columns
// may be left out of the header, the others may not; a key address is
// refused on a second row.
func TestColumnFormatsAreTheParser(t *testing.T) {
	for _, kind := range Kinds() {
		cols := Columns(kind)
		valid := make([]string, len(cols))
		for i, c := range cols {
			f, ok := formats[c.Name]
			if !ok {
				t.Fatalf("%s: column %q has no format", kind, c.Name)
			}
			valid[i] = cellsFor[f].valid[len(cellsFor[f].valid)-1]
			if f == fmtChoice {
				valid[i] = fmt.Sprintf("sup%d@uni.example", i) // each supervisor once
			}
		}
		parse := func(header []string, rows ...[]string) (File, error) {
			var b strings.Builder
			for _, r := range append([][]string{header}, rows...) {
				for i, cell := range r {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(`"` + strings.ReplaceAll(cell, `"`, `""`) + `"`)
				}
				b.WriteString("\n")
			}
			return Parse(kind, strings.NewReader(b.String()), Limits{})
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		if f, err := parse(names, valid); err != nil || len(f.Errors) != 0 {
			t.Fatalf("%s: the valid row: %v %v", kind, err, f.Errors)
		}
		for i, c := range cols {
			f := formats[c.Name]
			probe := func(cell string) []RowError {
				row := append([]string(nil), valid...)
				row[i] = cell
				if f == fmtChoice && cell == "" { // a blank choice is one after the last
					for j := i + 1; j < len(row); j++ {
						row[j] = ""
					}
				}
				file, err := parse(names, row)
				if err != nil {
					t.Fatalf("%s, %s = %q: the file was refused: %v", kind, c.Name, cell, err)
				}
				return file.Errors
			}
			for _, cell := range cellsFor[f].valid {
				if errs := probe(cell); len(errs) != 0 {
					t.Errorf("%s: %s = %.20q is refused, though the docs say it takes %s: %v", kind, c.Name, cell, c.Format, errs)
				}
			}
			for _, cell := range cellsFor[f].invalid {
				if errs := probe(cell); len(errs) != 1 || !strings.Contains(errs[0].Message, c.Name+" ") {
					t.Errorf("%s: %s = %.20q is not refused naming the column, though the docs say it takes %s: %v", kind, c.Name, cell, c.Format, errs)
				}
			}
			without := append(append([]string(nil), names[:i]...), names[i+1:]...)
			rowWithout := append(append([]string(nil), valid[:i]...), valid[i+1:]...)
			_, err := parse(without, rowWithout)
			if c.Optional != (err == nil) {
				t.Errorf("%s: the file without %s: %v, though the docs say optional: %v", kind, c.Name, err, c.Optional)
			}
			if f == fmtKeyEmail {
				file, _ := parse(names, valid, valid)
				if len(file.Errors) != 1 || !strings.Contains(file.Errors[0].Message, "already appears") {
					t.Errorf("%s: a second row with the same %s: %v", kind, c.Name, file.Errors)
				}
			}
		}
	}
}
