package csvio

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
)

// TestFinalGradeAcceptedIsAGrade: over random cells (made of digits of
// several scripts, signs, points, the letters of number notations and of
// words), whatever a final-grades import accepts, the parser and then the
// decision on it, is a grade: a whole mark from 0 to 100, or words that
// are no number in any notation strconv reads (a float, NaN, Infinity,
// another base, grouped digits) and that hold some rune other than digits,
// signs and points. Each accepted grade is written back by the export and
// read back the same.
func TestFinalGradeAcceptedIsAGrade(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x62ade))
	alphabet := []rune("0123456789+-.,_ eExXbBoOpPnNaAiIfFtTyY:sS١٢０１ \u00a0")
	pieces := []string{"NaN", "Inf", "Infinity", "0x", "0b", "0o", "1e2", "100", "72", "Pass", "2:1", "1_0"}
	var marks, words, refused int
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			if rng.IntN(4) == 0 {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			} else {
				b.WriteRune(alphabet[rng.IntN(len(alphabet))])
			}
		}
		cell := b.String()
		f, err := Parse(KindFinalGrades, strings.NewReader("Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
			"S1,a@x.ac.uk,A,"+cell+",ok\n"), Limits{})
		if err != nil {
			t.Fatalf("cell %q: %v", cell, err)
		}
		if len(f.Grades) == 0 {
			refused++
			continue
		}
		g := f.Grades[0]
		evs, err := project.DecideSetMark(marking.Record{}, g.Grade, g.Label, g.Feedback)
		if err != nil {
			refused++
			continue
		}
		set := evs[0].(*events.MarkSet)
		switch {
		case set.Label == "":
			marks++
			digits := strings.TrimFunc(cell, unicode.IsSpace)
			n, err := strconv.Atoi(digits)
			if set.Mark < 0 || set.Mark > 100 || err != nil || n != set.Mark || strings.Trim(digits, "0123456789") != "" {
				t.Fatalf("cell %q taken as the mark %d", cell, set.Mark)
			}
		default:
			words++
			if what, ok := aNumber(set.Label); ok {
				t.Fatalf("cell %q taken as the grade in words %q, which is %s", cell, set.Label, what)
			}
		}
		var out strings.Builder
		if err := WriteGrades(&out, []Grade{{StudentCode: "S1", StudentEmail: "a@x.ac.uk", StudentName: "A", Grade: set.Mark, Label: set.Label, Feedback: "ok"}}); err != nil {
			t.Fatal(err)
		}
		back := mustParse(t, KindFinalGrades, out.String())
		if len(back.Grades) != 1 || back.Grades[0].Grade != set.Mark || back.Grades[0].Label != set.Label {
			t.Fatalf("cell %q (mark %d, words %q) written as %q and read back as %+v", cell, set.Mark, set.Label, out.String(), back)
		}
	}
	t.Logf("%d marks, %d grades in words, %d refused", marks, words, refused)
	if marks == 0 || words == 0 || refused == 0 {
		t.Fatalf("the cells did not reach every outcome: %d marks, %d grades in words, %d refused", marks, words, refused)
	}
}

// aNumber is this test's own reading of a number, independent of the
// code under test: what strconv reads as a float or an integer in any
// base, signed or not, or a string of digits (of any script), signs and
// points alone.
func aNumber(s string) (string, bool) {
	u := strings.Replace(strings.TrimLeft(s, "+-"), ",", ".", 1)
	if _, err := strconv.ParseFloat(u, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return "a float to strconv", true
	}
	if _, err := strconv.ParseInt(u, 0, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return "an integer to strconv", true
	}
	if strings.ContainsFunc(s, unicode.IsDigit) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && !strings.ContainsRune("+-.,", r) }) {
		return "digits, signs and points alone", true
	}
	return "", false
}
