package quote

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestBounded: over random strings of every length around the bound, the
// quoted value unquotes to a prefix of the value of at most MaxRunes runes,
// the whole value when it is no longer, else followed by an ellipsis.
func TestBounded(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x9107e))
	alphabet := []rune("ab\"\\\n\x00é€😀…")
	for range 2000 {
		rs := make([]rune, rng.IntN(3*MaxRunes))
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(rs)
		if rng.IntN(10) == 0 {
			s += "\xff" // not UTF-8
		}
		q := Bounded(s)
		got, err := strconv.Unquote(q)
		if err != nil || strings.ContainsAny(q, "\n\x00") {
			t.Fatalf("Bounded(%q) = %s: not one quoted line (%v)", s, q, err)
		}
		if utf8.RuneCountInString(s) <= MaxRunes {
			if got != s {
				t.Fatalf("Bounded(%q) = %s, want it whole", s, q)
			}
			continue
		}
		cut, ok := strings.CutSuffix(got, "…")
		if !ok || !strings.HasPrefix(s, cut) || utf8.RuneCountInString(cut) != MaxRunes {
			t.Fatalf("Bounded(%q) = %s, want its first %d runes and an ellipsis", s, q, MaxRunes)
		}
	}
}
