package commands

import "strings"

// The refusals of the characters below, worded once: the commands and the
// CSV import give the same message for the same value, whichever way it came.
const (
	// LineRefusal is the message for a one-line value (a name, a title, an
	// e-mail address, a code) that holds a refused character.
	LineRefusal = "contains a line break or another control character"
	// TextRefusal is the message for a multi-line value (a description,
	// feedback, a comment) that holds a refused character other than a
	// line break or a tab.
	TextRefusal = "contains a control character"
)

// RefusedInLine reports whether a one-line value holds a character that no
// text the service stores may hold on one line: a control character (Unicode
// category Cc: NUL, BEL, ESC, DEL, line breaks, tabs...), Unicode's own
// line and paragraph separators (U+2028, U+2029), or a bidirectional
// embedding, override or isolate (U+202A to U+202E, U+2066 to U+2069).
// Control characters break the line of a list, a log or a CSV export, or
// reach a terminal; the direction marks make a name or title show other
// text than it holds. Every write of a
// person's text checks it, so the API, the CSV import and the original
// frontend's routes refuse the same values.
func RefusedInLine(s string) bool { return strings.IndexFunc(s, refusedRune) >= 0 }

// RefusedInText is RefusedInLine for a multi-line value: line breaks ("\n",
// and "\r\n" as Windows writes them) and tabs are text there, every other
// refused character is not (a lone "\r" included, which a terminal reads as
// a return to the start of the line).
func RefusedInText(s string) bool {
	for i, c := range s {
		switch {
		case c == '\n' || c == '\t':
		case c == '\r' && strings.HasPrefix(s[i+1:], "\n"):
		case refusedRune(c):
			return true
		}
	}
	return false
}

// refusedRune is a control character (Cc: U+0000 to U+001F and U+007F to
// U+009F), a line or paragraph separator, or a bidirectional embedding,
// override or isolate.
func refusedRune(c rune) bool {
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
		(c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
}

// CheckLine records a one-line value that holds a refused character.
func (v *Validation) CheckLine(field, value string) {
	if RefusedInLine(value) {
		v.Add(field, LineRefusal)
	}
}

// CheckText records a multi-line value that holds a refused character.
func (v *Validation) CheckText(field, value string) {
	if RefusedInText(value) {
		v.Add(field, TextRefusal)
	}
}
