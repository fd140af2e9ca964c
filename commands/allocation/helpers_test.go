package allocation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkInvariants asserts what every Result must satisfy whatever the
// objective: valid ids, each student exactly once, no barred placement,
// capacities respected,
// ranks that match the lists, outside placements only when allowed, a
// reason for every unplaced student, sorted lists and a consistent profile.
func checkInvariants(t *testing.T, in Input, res Result) {
	t.Helper()
	students := map[string]Student{}
	for _, s := range in.Students {
		students[s.ID] = s
	}
	remaining := map[string]int{}
	capacity := 0
	for _, s := range in.Supervisors {
		remaining[s.ID] = s.Remaining
		capacity += s.Remaining
	}
	barred := map[Bar]bool{}
	for _, b := range in.Bars {
		barred[b] = true
	}
	seen := map[string]bool{}
	var byRank [MaxChoices + 1]int
	for _, a := range res.Assignments {
		if barred[Bar{a.StudentID, a.SupervisorID}] {
			t.Fatalf("assignment %+v is barred", a)
		}
		s, ok := students[a.StudentID]
		if !ok {
			t.Fatalf("assignment of unknown student %q", a.StudentID)
		}
		if seen[a.StudentID] {
			t.Fatalf("student %q appears twice", a.StudentID)
		}
		seen[a.StudentID] = true
		if _, ok := remaining[a.SupervisorID]; !ok {
			t.Fatalf("assignment to unknown supervisor %q", a.SupervisorID)
		}
		remaining[a.SupervisorID]--
		if remaining[a.SupervisorID] < 0 {
			t.Fatalf("supervisor %q is over capacity", a.SupervisorID)
		}
		if want := slices.Index(s.Choices, a.SupervisorID) + 1; a.Rank != want {
			t.Fatalf("assignment %+v: rank %d, want %d from choices %v", a, a.Rank, want, s.Choices)
		}
		if a.Rank == 0 && !in.AllowOutsideList {
			t.Fatalf("assignment %+v is outside the list, which is not allowed", a)
		}
		byRank[a.Rank]++
	}
	for _, u := range res.Unplaced {
		if _, ok := students[u.StudentID]; !ok {
			t.Fatalf("unknown unplaced student %q", u.StudentID)
		}
		// With outside placement, a student is left out only when every
		// slot still free is one they may not take, as the reason says.
		for sup, left := range remaining {
			if in.AllowOutsideList && left > 0 && !barred[Bar{u.StudentID, sup}] {
				t.Fatalf("student %q is unplaced while %q has %d free slots they may take", u.StudentID, sup, left)
			}
		}
		if seen[u.StudentID] {
			t.Fatalf("student %q both placed and unplaced", u.StudentID)
		}
		seen[u.StudentID] = true
		if u.Reason == "" {
			t.Fatalf("unplaced student %q has no reason", u.StudentID)
		}
	}
	if len(seen) != len(in.Students) {
		t.Fatalf("%d students in the result, want %d", len(seen), len(in.Students))
	}
	if !slices.IsSortedFunc(res.Assignments, func(a, b Assignment) int { return cmpString(a.StudentID, b.StudentID) }) ||
		!slices.IsSortedFunc(res.Unplaced, func(a, b Unplaced) int { return cmpString(a.StudentID, b.StudentID) }) {
		t.Fatalf("result lists are not sorted by student id")
	}
	want := Profile{ByRank: byRank, OutsideList: byRank[0], Unplaced: len(res.Unplaced),
		Students: len(in.Students), Capacity: capacity}
	if res.Profile != want {
		t.Fatalf("profile %+v, want %+v", res.Profile, want)
	}
	if res.Seed != in.Seed {
		t.Fatalf("seed %d, want %d", res.Seed, in.Seed)
	}
	if obj := cmpOr(in.Objective, Generous); res.Objective != obj {
		t.Fatalf("objective %q, want %q", res.Objective, obj)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpOr(o, def Objective) Objective {
	if o == "" {
		return def
	}
	return o
}

// maxMatching is a plain augmenting-path (Kuhn) maximum matching with
// capacities, written independently of the solver: the number of students
// placeable within their lists, or anywhere when anywhere is set, bars
// respected.
func maxMatching(in Input, anywhere bool) int {
	capOf := map[string]int{}
	for _, s := range in.Supervisors {
		capOf[s.ID] = s.Remaining
	}
	holders := map[string][]int{} // supervisor -> students placed there
	barred := map[Bar]bool{}
	for _, b := range in.Bars {
		barred[b] = true
	}
	options := func(i int) []string {
		var out []string
		for _, s := range in.Supervisors {
			if (anywhere || slices.Contains(in.Students[i].Choices, s.ID)) && !barred[Bar{in.Students[i].ID, s.ID}] {
				out = append(out, s.ID)
			}
		}
		return out
	}
	var try func(i int, visited map[string]bool) bool
	try = func(i int, visited map[string]bool) bool {
		for _, v := range options(i) {
			if visited[v] || capOf[v] == 0 {
				continue
			}
			visited[v] = true
			if len(holders[v]) < capOf[v] {
				holders[v] = append(holders[v], i)
				return true
			}
			for h, other := range holders[v] {
				if try(other, visited) {
					holders[v][h] = i
					return true
				}
			}
		}
		return false
	}
	n := 0
	for i := range in.Students {
		if try(i, map[string]bool{}) {
			n++
		}
	}
	return n
}

// tally is what the objectives look at in an allocation.
type tally struct {
	placed, within int
	byRank         [MaxChoices + 1]int
}

func tallyOf(res Result) tally {
	t := tally{placed: len(res.Assignments), byRank: res.Profile.ByRank}
	t.within = t.placed - t.byRank[0]
	return t
}

// objKey is an objective's sort key; shorter keys are zero-padded.
type objKey [2 + MaxChoices]int

// key orders allocations for an objective straight from its definition
// (smaller is better), independently of the solver's weights: most placed
// within lists, then most placed, then the objective on the listed ranks.
// (Without bars both counts are at their maxima at once; with them an
// outside placement may only come second.)
func key(obj Objective, t tally) objKey {
	k := objKey{-t.within, -t.placed}
	switch obj {
	case Generous, "":
		for r := MaxChoices; r >= 2; r-- { // 1st choices follow from the rest
			k[2+MaxChoices-r] = t.byRank[r]
		}
	case Greedy:
		for r := 1; r <= MaxChoices; r++ {
			k[1+r] = -t.byRank[r]
		}
	case RankSum:
		for r := 1; r <= MaxChoices; r++ {
			k[2] += r * t.byRank[r]
		}
	}
	return k
}

func (k objKey) less(o objKey) bool { return slices.Compare(k[:], o[:]) < 0 }

// bruteForce enumerates every allocation of a small instance and returns the
// best key for each objective and the most within-list placements of any
// allocation at all.
func bruteForce(in Input) (best map[Objective]objKey, maxWithin int) {
	objectives := []Objective{Generous, Greedy, RankSum}
	best = map[Objective]objKey{}
	found := false
	left := map[string]int{}
	for _, s := range in.Supervisors {
		left[s.ID] = s.Remaining
	}
	barred := map[Bar]bool{}
	for _, b := range in.Bars {
		barred[b] = true
	}
	var t tally
	var walk func(i int)
	walk = func(i int) {
		if i == len(in.Students) {
			maxWithin = max(maxWithin, t.within)
			for _, o := range objectives {
				if k := key(o, t); !found || k.less(best[o]) {
					best[o] = k
				}
			}
			found = true
			return
		}
		walk(i + 1) // unplaced
		for _, sup := range in.Supervisors {
			r := slices.Index(in.Students[i].Choices, sup.ID) + 1
			if left[sup.ID] == 0 || r == 0 && !in.AllowOutsideList || barred[Bar{in.Students[i].ID, sup.ID}] {
				continue
			}
			left[sup.ID]--
			t.placed++
			t.byRank[r]++
			if r > 0 {
				t.within++
			}
			walk(i + 1)
			left[sup.ID]++
			t.placed--
			t.byRank[r]--
			if r > 0 {
				t.within--
			}
		}
	}
	walk(0)
	return best, maxWithin
}

// randomInstance draws a valid instance: choices favour low-numbered
// supervisors so that they compete, as real preferences do.
func randomInstance(rng *rand.Rand, students, supervisors, maxCap int) Input {
	in := Input{Seed: rng.Uint64(), AllowOutsideList: rng.IntN(2) == 0}
	for j := range supervisors {
		in.Supervisors = append(in.Supervisors, Supervisor{ID: fmt.Sprintf("v%02d", j), Remaining: rng.IntN(maxCap + 1)})
	}
	for i := range students {
		s := Student{ID: fmt.Sprintf("s%04d", i)}
		k := rng.IntN(min(MaxChoices, supervisors) + 1)
		for len(s.Choices) < k {
			j := min(rng.IntN(supervisors), rng.IntN(supervisors)) // skewed
			if id := in.Supervisors[j].ID; !slices.Contains(s.Choices, id) {
				s.Choices = append(s.Choices, id)
			}
		}
		in.Students = append(in.Students, s)
	}
	// Bars, as a second examiner who also supervises: often on a ranked
	// supervisor, where they hurt.
	for _, s := range in.Students {
		if supervisors > 0 && rng.IntN(3) == 0 {
			sup := in.Supervisors[rng.IntN(supervisors)].ID
			if len(s.Choices) > 0 && rng.IntN(2) == 0 {
				sup = s.Choices[rng.IntN(len(s.Choices))]
			}
			in.Bars = append(in.Bars, Bar{s.ID, sup})
		}
	}
	return in
}

// mustAllocate runs Allocate on an input that must be valid.
func mustAllocate(t testing.TB, in Input) Result {
	t.Helper()
	res, err := Allocate(in)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return res
}
