package allocation

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decode turns arbitrary bytes into a valid instance: every byte sequence
// means something, and running out of bytes reads zeros.
func decode(data []byte) Input {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	n, m := next()%10, next()%6
	in := Input{
		Objective:        []Objective{"", Generous, Greedy, RankSum}[next()%4],
		AllowOutsideList: next()%2 == 1,
		Seed:             uint64(next()) | uint64(next())<<8,
	}
	for j := range m {
		in.Supervisors = append(in.Supervisors, Supervisor{ID: fmt.Sprintf("v%d", j), Remaining: next() % 4})
	}
	for i := range n {
		s := Student{ID: fmt.Sprintf("s%d", i)}
		for k := next() % (MaxChoices + 1); m > 0 && k > 0; k-- {
			if id := in.Supervisors[next()%m].ID; !slices.Contains(s.Choices, id) {
				s.Choices = append(s.Choices, id)
			}
		}
		in.Students = append(in.Students, s)
	}
	for b := next() % 4; n > 0 && m > 0 && b > 0; b-- {
		in.Bars = append(in.Bars, Bar{in.Students[next()%n].ID, in.Supervisors[next()%m].ID})
	}
	return in
}

// FuzzAllocate checks the invariants on arbitrary instances: no panic, no
// error for valid input, capacities and lists respected, as many placed
// within lists (and in all) as an independent matching finds, the same result
// twice, and for small instances the optimum found by enumeration.
func FuzzAllocate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{3, 2, 1, 0, 7, 0, 1, 1, 2, 0, 1, 2, 1, 0, 0})
	f.Add([]byte{9, 5, 2, 1, 42, 42, 1, 2, 3, 0, 1, 5, 0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 2, 2, 1, 3, 0})
	f.Add([]byte{6, 3, 3, 0, 1, 1, 1, 1, 1, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2})
	f.Add([]byte{2, 2, 0, 1, 0, 0, 1, 1, 1, 0, 0, 3, 1, 1, 0, 0, 0}) // a bar on the only other slot
	f.Fuzz(func(t *testing.T, data []byte) {
		in := decode(data)
		res, err := Allocate(in)
		if err != nil {
			t.Fatalf("valid input refused: %v\n%+v", err, in)
		}
		checkInvariants(t, in, res)
		got := tallyOf(res)
		if want := maxMatching(in, false); got.within != want {
			t.Fatalf("%d placed within lists, matching finds %d\n%+v", got.within, want, in)
		}
		want := got.within
		if in.AllowOutsideList {
			want = maxMatching(in, true)
		}
		// With bars, placing the most within lists may leave fewer to place
		// in all than a matching that ignores lists: enumeration checks those.
		if got.placed != want && (len(in.Bars) == 0 || got.placed > want) {
			t.Fatalf("%d placed, matching finds %d\n%+v", got.placed, want, in)
		}
		if again := mustAllocate(t, in); !cmp.Equal(res, again) {
			t.Fatalf("not deterministic:\n%s", cmp.Diff(res, again))
		}
		if len(in.Students) <= 6 {
			best, _ := bruteForce(in)
			if k := key(res.Objective, got); k != best[res.Objective] {
				t.Fatalf("%s: key %v, optimum %v\n%+v\n%+v", res.Objective, k, best[res.Objective], in, res)
			}
		}
	})
}
