package csvio

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Defaults for Limits. The byte limit is the API's upload limit (docs/api.md,
// Limits); the row limit is far above a cohort (hundreds of students) yet
// keeps a hostile file from costing more than a few tens of megabytes.
const (
	DefaultMaxBytes = 10 << 20
	DefaultMaxRows  = 50_000
	DefaultMaxField = 10_000
)

// ProgressEvery is how many rows ParseWithProgress reads between two calls
// of its progress function: often enough for a command line to show that a
// large file is moving, rarely enough to cost nothing.
const ProgressEvery = 1000

// Errors that refuse a whole file. They are sentinels so that the HTTP layer
// can choose the status code (413 for ErrTooLarge, 400 for the others) with
// errors.Is, while the wrapping error's text is what the user reads.
var (
	ErrTooLarge    = errors.New("the file is too large")
	ErrTooManyRows = errors.New("the file has too many rows")
	ErrNotCSV      = errors.New("the file cannot be read as CSV")
	ErrHeader      = errors.New("the header row is not usable")
)

// Limits bounds what one upload may cost in memory and time. A zero (or
// negative) field means its default, so Limits{} is the safe choice.
type Limits struct {
	// MaxBytes is the largest accepted file, BOM included (default 10 MiB).
	MaxBytes int64
	// MaxRows is the most data rows, blank lines not counted (default 50,000).
	MaxRows int
	// MaxField is the longest accepted cell, in runes (default 10,000); a
	// longer cell makes its row an error, not the file.
	MaxField int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.MaxField <= 0 {
		l.MaxField = DefaultMaxField
	}
	return l
}

// Person is a row of a students, supervisors or examiners file. The fields a
// kind does not have stay empty.
type Person struct {
	Line                                         int
	Code, Name, Email, Username                  string
	EnrolmentStatus, Programme, Route, StartDate string
	Position, Department                         string
	// Password is the original system's optional Password cell, only
	// trimmed. It is handed over rather than dropped so that the caller
	// decides (hash it, or ignore it); empty means the user has no password
	// and cannot sign in until one is set, as there is no default.
	Password string
	// Slots is the supervisor's capacity; nil for students and examiners,
	// so that "not a supervisor" is never confused with "no free places".
	Slots *int
}

// Assignment is a row of a supervisor-assignments or examiner-assignments
// file: the staff member is the supervisor or the secondary examiner,
// according to the file's kind.
type Assignment struct {
	Line                                   int
	StudentCode, StudentEmail, StudentName string
	StaffCode, StaffEmail, StaffName       string
}

// Grade is a row of a final-grades file.
type Grade struct {
	Line                                   int
	StudentCode, StudentEmail, StudentName string
	Grade                                  int
	// Label is a grade given in words (A, Pass, 2:1) instead of a mark:
	// a Final Grade cell that is not a whole number. Grade is then 0. Its
	// rules are the grade's (the import checks them).
	Label    string
	Feedback string
}

// Preference is a row of a preferences file: a student's supervisor choices,
// most wanted first, with the blanks at the end dropped.
type Preference struct {
	Line         int
	StudentEmail string
	Choices      []string
}

// RowError reports one rejected row. Line is the physical line on which the
// row starts (the header is line 1), which is what a user's editor shows even
// when an earlier cell spans several lines. Message is safe to show: it
// quotes at most 40 characters of any value and never a password.
type RowError struct {
	Line    int
	Message string
}

// Error makes a RowError usable as an error, in the form a command line
// prints ("line 7: Name is required").
func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message) }

// File is the outcome of parsing one upload. Rows counts every data row read
// (blank lines excepted); each one ends up either in the slice of its kind or
// in Errors, never in both, so an import can report rows, created and errors
// that add up.
type File struct {
	Kind        Kind
	Rows        int
	People      []Person
	Assignments []Assignment
	Grades      []Grade
	Preferences []Preference
	Errors      []RowError
}

// Parse reads a whole upload of the given kind. A file that cannot be used
// at all returns an error (wrapping ErrUnknownKind, ErrTooLarge,
// ErrTooManyRows, ErrNotCSV or ErrHeader, or a read error); bad rows only go
// to File.Errors, and the good rows are kept.
func Parse(kind Kind, r io.Reader, limits Limits) (File, error) {
	return ParseWithProgress(kind, r, limits, nil)
}

// ParseWithProgress is Parse for callers that want to show progress on large
// files: progress, when not nil, is called with the number of rows read so
// far after every ProgressEvery rows.
func ParseWithProgress(kind Kind, r io.Reader, limits Limits, progress func(rows int)) (File, error) {
	cols, ok := schemas[kind]
	if !ok {
		return File{}, unknownKind(string(kind))
	}
	limits = limits.withDefaults()
	refuse := func(err error) (File, error) {
		if errors.Is(err, ErrTooLarge) {
			return File{}, fmt.Errorf("%w: the limit is %s", ErrTooLarge, byteSize(limits.MaxBytes))
		}
		return File{}, err
	}

	br := bufio.NewReader(&lineEnds{r: &sizeGuard{r: io.LimitReader(r, limits.MaxBytes+1), left: limits.MaxBytes}})
	if err := sniff(br); err != nil {
		return refuse(err)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked per row, so one short row does not stop the file
	cr.ReuseRecord = true
	h, err := readHeader(cr, kind, cols)
	if err != nil {
		return refuse(err)
	}

	p := newParser(kind, h, limits)
	for {
		rec, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return p.file, nil
		case errors.Is(err, ErrTooLarge):
			return refuse(err)
		case errors.As(err, &pe):
			p.malformed(pe)
		case err != nil:
			return File{}, fmt.Errorf("reading the file: %w", err)
		case blank(rec):
			continue
		default:
			line, _ := cr.FieldPos(0)
			p.record(line, rec)
		}
		if p.file.Rows > limits.MaxRows {
			return File{}, fmt.Errorf("%w: the limit is %d rows", ErrTooManyRows, limits.MaxRows)
		}
		if progress != nil && p.file.Rows%ProgressEvery == 0 {
			progress(p.file.Rows)
		}
	}
}

// sizeGuard fails reads once more than the limit has been read, so that an
// oversized upload is refused instead of being silently cut at the limit
// (which io.LimitReader alone would do). It reads from an io.LimitReader set
// one byte past the limit, so it never pulls more than that from the client.
type sizeGuard struct {
	r    io.Reader
	left int64
}

func (g *sizeGuard) Read(p []byte) (int, error) {
	if g.left < 0 {
		return 0, ErrTooLarge
	}
	n, err := g.r.Read(p)
	g.left -= int64(n)
	if g.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

// lineEnds turns every line end into LF: CRLF (Windows), and the lone CR of
// files saved on an old Mac (Excel's "CSV (Macintosh)" still writes it).
// encoding/csv takes a lone CR for part of a cell, so such a file read as
// one long header row and imported nothing, without a word.
type lineEnds struct {
	r      io.Reader
	lastCR bool // the previous byte read was a CR, now an LF
}

func (l *lineEnds) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		w := 0
		for _, b := range p[:n] {
			if b == '\n' && l.lastCR {
				l.lastCR = false // the LF of a CRLF: the CR already ended the line
				continue
			}
			l.lastCR = b == '\r'
			if l.lastCR {
				b = '\n'
			}
			p[w] = b
			w++
		}
		if w > 0 || err != nil || n == 0 {
			return w, err
		}
	}
}

// sniff drops a UTF-8 byte-order mark (Excel's "CSV UTF-8" writes one) and
// refuses the two wrong files people most often upload, with a hint that
// tells them how to save the right one.
func sniff(br *bufio.Reader) error {
	head, err := br.Peek(4)
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	const saveAs = `save it from the spreadsheet as "CSV UTF-8 (comma delimited)"`
	switch {
	case strings.HasPrefix(string(head), "\xef\xbb\xbf"):
		_, err := br.Discard(3)
		return err
	case strings.HasPrefix(string(head), "\xff\xfe"), strings.HasPrefix(string(head), "\xfe\xff"):
		return fmt.Errorf("%w: it is UTF-16 text; %s", ErrNotCSV, saveAs)
	case strings.HasPrefix(string(head), "PK\x03\x04"):
		return fmt.Errorf("%w: it looks like an Excel workbook; %s", ErrNotCSV, saveAs)
	}
	return nil
}

// blank reports whether a record has no content, such as the ",,,,," rows a
// spreadsheet leaves below the data. Such rows are skipped, not reported.
func blank(rec []string) bool {
	for _, f := range rec {
		if trim(f) != "" {
			return false
		}
	}
	return true
}

func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
