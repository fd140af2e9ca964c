package commands

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// refusedRunes are every character the text rule refuses: all of Unicode's
// Cc, its line and paragraph separators, and the bidirectional embeddings,
// overrides and isolates.
func refusedRunes() []rune {
	var out []rune
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if unicode.Is(unicode.Cc, c) || unicode.In(c, unicode.Zl, unicode.Zp) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) {
			out = append(out, c)
		}
	}
	return out
}

// randomText is printable text over the whole range (letters of every
// script, marks, spaces, emoji, the other format characters such as the
// zero-width joiner), none of it refused.
func randomText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		c := rune(rng.IntN(0x30000))
		switch {
		case !unicode.IsPrint(c) && c != '\u200d' && c != '\u200f' && c != '\u00ad':
		case unicode.Is(unicode.Cc, c), unicode.In(c, unicode.Zl, unicode.Zp), c >= 0x202a && c <= 0x202e, c >= 0x2066 && c <= 0x2069:
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// insert puts c at a random rune boundary of s.
func insert(rng *rand.Rand, s string, c string) string {
	r := []rune(s)
	i := rng.IntN(len(r) + 1)
	return string(r[:i]) + c + string(r[i:])
}

// TestTextRule: text without refused characters passes both rules; one
// refused character anywhere is caught by the one-line rule, and by the
// multi-line one unless it is a line break or a tab ("\r" only as "\r\n").
func TestTextRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), 11))
	refused := refusedRunes()
	if len(refused) != 65+2+9 {
		t.Fatalf("%d refused characters, want the 65 of Cc, the 2 separators and 9 direction marks", len(refused))
	}
	for range 2000 {
		s := randomText(rng, rng.IntN(40))
		if RefusedInLine(s) || RefusedInText(s) {
			t.Fatalf("%+q refused", s)
		}
		c := refused[rng.IntN(len(refused))]
		bad := insert(rng, s, string(c))
		if !RefusedInLine(bad) {
			t.Fatalf("one line %+q accepted", bad)
		}
		if multi := c == '\n' || c == '\t'; RefusedInText(bad) == multi {
			t.Fatalf("several lines %+q: refused %v", bad, !multi)
		}
		lines := insert(rng, insert(rng, insert(rng, s, "\n"), "\t"), "\r\n")
		if RefusedInText(lines) || !RefusedInLine(lines) {
			t.Fatalf("several lines %+q: refused %v, as one line %v", lines, RefusedInText(lines), RefusedInLine(lines))
		}
	}
	for _, s := range []string{"a\rb", "a\r", "\r", "a\r\r\nb"} {
		if !RefusedInText(s) {
			t.Errorf("lone carriage return in %+q accepted", s)
		}
	}
}
