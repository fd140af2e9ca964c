package csvio

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	bounded "github.com/capstone-pms/capstone/internal/quote"
)

// Field bounds. Names and profile texts are shown in lists, so they stay
// short; codes and usernames are identifiers from the original system.
const (
	maxName     = 200
	maxText     = 200
	maxCode     = 64
	maxFeedback = 5000
	maxEmail    = 254 // RFC 5321's limit on a forward path
	maxSlots    = 1000
	maxGrade    = 100
	quoteRunes  = 40
)

// row is one data record being checked. Each accessor returns the cleaned
// value and records a problem when the value is not acceptable, so a row's
// checks read as a list and all of its problems are reported together.
type row struct {
	line     int
	rec      []string
	header   header
	problems []string
}

// fail records a problem. Taking the column first makes every message start
// with the field's name, as users scan the report by column.
func (r *row) fail(col, format string, args ...any) {
	r.problems = append(r.problems, col+" "+fmt.Sprintf(format, args...))
}

// wellFormed checks what must hold before any value can be trusted: the
// field count, UTF-8, and the per-cell size limit. Its messages name
// columns but never quote values, since the values are the broken part.
func (r *row) wellFormed(maxField int) bool {
	if len(r.rec) != r.header.width {
		r.problems = append(r.problems, fmt.Sprintf(
			"Row has %d values but the header has %d columns; a value that contains a comma must be in double quotes",
			len(r.rec), r.header.width))
		return false
	}
	for i, f := range r.rec {
		if !utf8.ValidString(f) {
			r.fail(r.header.columnName(i), `is not valid UTF-8; save the file as "CSV UTF-8"`)
		}
	}
	if len(r.problems) > 0 {
		return false
	}
	for i, f := range r.rec {
		if len(f) > maxField && utf8.RuneCountInString(f) > maxField {
			r.fail(r.header.columnName(i), "is longer than %d characters", maxField)
		}
	}
	return len(r.problems) == 0
}

// value is the cleaned text of a column: trimmed, with the export's
// anti-formula apostrophe removed. An absent optional column reads as "".
func (r *row) value(col string) string {
	i, ok := r.header.index[col]
	if !ok {
		return ""
	}
	return trim(unescapeCell(trim(r.rec[i])))
}

// password is only trimmed: see the package comment.
func (r *row) password(col string) string {
	i, ok := r.header.index[col]
	if !ok {
		return ""
	}
	return trim(r.rec[i])
}

// text reads an optional one-line value of at most max runes.
func (r *row) text(col string, max int) string {
	v := r.value(col)
	switch {
	case utf8.RuneCountInString(v) > max:
		r.fail(col, "is longer than %d characters", max)
	case commands.RefusedInLine(v):
		r.fail(col, commands.LineRefusal)
	}
	return v
}

func (r *row) name(col string) string {
	if r.value(col) == "" {
		r.fail(col, "is required")
		return ""
	}
	return r.text(col, maxName)
}

// feedback reads a multi-line text. Line ends are normalised to "\n" so that
// the value is the same whichever system wrote the file, and so an export
// (whose CSV writer cannot keep a lone "\r") gives it back unchanged.
func (r *row) feedback(col string) string {
	v := r.value(col)
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	switch {
	case utf8.RuneCountInString(v) > maxFeedback:
		r.fail(col, "is longer than %d characters", maxFeedback)
	case commands.RefusedInText(v):
		r.fail(col, commands.TextRefusal)
	}
	return v
}

// email reads an address in lower case, the form in which the system keys
// users. It returns "" when the value is blank or invalid.
func (r *row) email(col string, required bool) string {
	v := user.NormalizeEmail(r.value(col))
	switch {
	case v == "":
		if required {
			r.fail(col, "is required")
		}
		return ""
	case !validEmail(v):
		r.fail(col, "%s is not a valid e-mail address", quote(v))
		return ""
	}
	return v
}

// number reads a required whole number from 0 to max. Only plain digits are
// accepted: "+5", "5.0" or "1e2" are more likely mistakes than intent.
func (r *row) number(col string, max int) (int, bool) {
	v := r.value(col)
	if v == "" {
		r.fail(col, "is required")
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || v[0] < '0' || v[0] > '9' || n > max {
		r.fail(col, "%s is not a whole number from 0 to %d", quote(v), max)
		return 0, false
	}
	return n, true
}

// finalGrade reads a final grade: a whole number from 0 to 100 (a mark), or
// else a grade in words (a label), which is passed on as it is for the
// import to judge.
func (r *row) finalGrade(col string) (int, string) {
	v := r.value(col)
	if v == "" || strings.TrimLeft(v, "+-0123456789") == "" {
		n, _ := r.number(col, maxGrade)
		return n, ""
	}
	return 0, v
}

// validEmail accepts a bare address in ASCII (no display name, no angle
// brackets, no domain literal) whose domain has a dot, which rules out the local-only
// and typo'd addresses that would never receive mail.
func validEmail(s string) bool {
	if len(s) > maxEmail || commands.RefusedInLine(s) || !user.IsASCII(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") &&
		!strings.HasPrefix(domain, "[") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// trim removes surrounding white space, and byte-order marks that survive
// the concatenation of two files.
func trim(s string) string {
	return strings.TrimFunc(s, func(c rune) bool { return unicode.IsSpace(c) || c == '\ufeff' })
}

// quote shows a value in a message: at most 40 runes, in Go quoting so that
// control characters cannot break the line of a report or a log.
func quote(s string) string { return bounded.Cut(s, quoteRunes) }
