package allocation

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// objectivesCase is a cohort where the three objectives disagree. Eve, the
// popular supervisor, is full; everyone else has one slot.
//
//	ana: eve cyd dan bob ada      (cyd 2, dan 3, bob 4, ada 5)
//	ben: ada bob                  (ada 1, bob 2)
//	cai: eve ada cyd bob dan      (ada 2, cyd 3, bob 4, dan 5)
//	dee: bob cyd ada dan eve      (bob 1, cyd 2, ada 3, dan 4)
//
// Greedy keeps both first choices (ben-ada, dee-bob) and then prefers a 2nd
// and a 5th (ana-cyd, cai-dan) to two 3rds: ranks 1,1,2,5. Rank-sum keeps the
// first choices too but takes the two 3rds: 1,1,3,3 (sum 8, the only
// allocation below 9). Generous gives up both first choices to avoid any
// rank worse than 3 but one: 2,2,2,3. Each optimum is unique.
func objectivesCase() Input {
	return Input{
		Supervisors: []Supervisor{{"ada", 1}, {"bob", 1}, {"cyd", 1}, {"dan", 1}, {"eve", 0}},
		Students: []Student{
			{"ana", []string{"eve", "cyd", "dan", "bob", "ada"}},
			{"ben", []string{"ada", "bob"}},
			{"cai", []string{"eve", "ada", "cyd", "bob", "dan"}},
			{"dee", []string{"bob", "cyd", "ada", "dan", "eve"}},
		},
	}
}

func TestObjectivesDiffer(t *testing.T) {
	tests := []struct {
		objective Objective
		want      []Assignment
		byRank    [MaxChoices + 1]int
	}{
		{Greedy, []Assignment{{"ana", "cyd", 2}, {"ben", "ada", 1}, {"cai", "dan", 5}, {"dee", "bob", 1}}, [6]int{0, 2, 1, 0, 0, 1}},
		{RankSum, []Assignment{{"ana", "dan", 3}, {"ben", "ada", 1}, {"cai", "cyd", 3}, {"dee", "bob", 1}}, [6]int{0, 2, 0, 2, 0, 0}},
		{Generous, []Assignment{{"ana", "dan", 3}, {"ben", "bob", 2}, {"cai", "ada", 2}, {"dee", "cyd", 2}}, [6]int{0, 0, 3, 1, 0, 0}},
		{"", []Assignment{{"ana", "dan", 3}, {"ben", "bob", 2}, {"cai", "ada", 2}, {"dee", "cyd", 2}}, [6]int{0, 0, 3, 1, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(string(tc.objective), func(t *testing.T) {
			for seed := range uint64(20) { // unique optima: no seed may change them
				in := objectivesCase()
				in.Objective, in.Seed = tc.objective, seed
				res := mustAllocate(t, in)
				checkInvariants(t, in, res)
				if diff := cmp.Diff(tc.want, res.Assignments); diff != "" {
					t.Fatalf("seed %d: assignments (-want +got):\n%s", seed, diff)
				}
				if res.Profile.ByRank != tc.byRank {
					t.Fatalf("seed %d: ByRank %v, want %v", seed, res.Profile.ByRank, tc.byRank)
				}
			}
		})
	}
}

// TestBruteForce compares Allocate with every possible allocation of small
// random instances: it must place the most students, the most within their
// lists (whether or not outside placement is allowed), and be optimal for
// its objective by the objective's own definition.
func TestBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 2000 {
		in := randomInstance(rng, rng.IntN(8), 1+rng.IntN(4), 2)
		best, maxWithin := bruteForce(in)
		for _, obj := range []Objective{Generous, Greedy, RankSum} {
			in.Objective = obj
			res := mustAllocate(t, in)
			checkInvariants(t, in, res)
			got := tallyOf(res)
			if got.within != maxWithin {
				t.Fatalf("instance %d %s: %d placed within lists, want %d\n%+v", i, obj, got.within, maxWithin, in)
			}
			if k := key(obj, got); k != best[obj] {
				t.Fatalf("instance %d %s: key %v, want optimum %v\nresult %+v\ninput %+v", i, obj, k, best[obj], res, in)
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	base := randomInstance(rng, 300, 30, 12)
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		for _, outside := range []bool{false, true} {
			in := base
			in.Objective, in.AllowOutsideList = obj, outside
			first := mustAllocate(t, in)
			checkInvariants(t, in, first)
			if diff := cmp.Diff(first, mustAllocate(t, in)); diff != "" {
				t.Fatalf("%s outside=%v: same input, different result (-first +second):\n%s", obj, outside, diff)
			}
			shuffled := in
			shuffled.Students = slices.Clone(in.Students)
			shuffled.Supervisors = slices.Clone(in.Supervisors)
			slices.Reverse(shuffled.Students)
			slices.Reverse(shuffled.Supervisors)
			if diff := cmp.Diff(first, mustAllocate(t, shuffled)); diff != "" {
				t.Fatalf("%s outside=%v: reordered input, different result (-first +second):\n%s", obj, outside, diff)
			}
		}
	}
}

// TestSeedBreaksTies: two students want the one slot; the seed, not the ids,
// decides who gets it, and each seed always decides the same way.
func TestSeedBreaksTies(t *testing.T) {
	in := Input{
		Supervisors: []Supervisor{{"x", 1}},
		Students:    []Student{{"a", []string{"x"}}, {"b", []string{"x"}}},
	}
	winners := map[string]int{}
	for seed := range uint64(64) {
		in.Seed = seed
		res := mustAllocate(t, in)
		checkInvariants(t, in, res)
		if len(res.Assignments) != 1 {
			t.Fatalf("seed %d: %d placed, want 1", seed, len(res.Assignments))
		}
		if again := mustAllocate(t, in); !cmp.Equal(res, again) {
			t.Fatalf("seed %d: not reproducible", seed)
		}
		winners[res.Assignments[0].StudentID]++
	}
	if winners["a"] == 0 || winners["b"] == 0 {
		t.Fatalf("winners over 64 seeds: %v; the seed should let either win", winners)
	}
}

// TestOutsideNeverDisplaces is the test of the proof on build: placing one
// student outside their list would let k others move from their 5th to their
// 1st choice, yet the within-list placement is kept, for every objective.
//
//	b ranks x1 only; a_i ranks x_i 1st and x_{i+1} 5th (3 full fillers between).
//
// Keeping everyone within lists forces b-x1 and a_i-x_{i+1} (k 5th choices);
// the alternative puts b on the free, unranked z and every a_i on x_i.
func TestOutsideNeverDisplaces(t *testing.T) {
	const k = 60
	in := Input{AllowOutsideList: true}
	in.Supervisors = []Supervisor{{"z", 1}, {"f1", 0}, {"f2", 0}, {"f3", 0}}
	for i := 1; i <= k+1; i++ {
		in.Supervisors = append(in.Supervisors, Supervisor{fmt.Sprintf("x%02d", i), 1})
	}
	in.Students = []Student{{"b", []string{"x01"}}}
	for i := 1; i <= k; i++ {
		in.Students = append(in.Students, Student{fmt.Sprintf("a%02d", i),
			[]string{fmt.Sprintf("x%02d", i), "f1", "f2", "f3", fmt.Sprintf("x%02d", i+1)}})
	}
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		in.Objective = obj
		res := mustAllocate(t, in)
		checkInvariants(t, in, res)
		want := Profile{ByRank: [6]int{0, 1, 0, 0, 0, k}, Students: k + 1, Capacity: k + 2}
		if res.Profile != want {
			t.Fatalf("%s: profile %+v, want %+v", obj, res.Profile, want)
		}
		if a := res.Assignments[len(res.Assignments)-1]; a != (Assignment{"b", "x01", 1}) {
			t.Fatalf("%s: b got %+v, want x01", obj, a)
		}
	}
}

// TestOutsidePlacesWhenNeeded: outside placements fill free slots for
// students whose lists are full or empty, never a supervisor they ranked.
func TestOutsidePlacesWhenNeeded(t *testing.T) {
	in := Input{
		AllowOutsideList: true,
		Supervisors:      []Supervisor{{"x", 1}, {"y", 2}, {"z", 0}},
		Students: []Student{
			{"a", []string{"x"}}, {"b", []string{"x", "z"}}, {"c", nil}, {"d", []string{"x"}},
		},
	}
	for seed := range uint64(30) {
		in.Seed = seed
		res := mustAllocate(t, in)
		checkInvariants(t, in, res)
		if got := res.Profile; got.ByRank[1] != 1 || got.OutsideList != 2 || got.Unplaced != 1 {
			t.Fatalf("seed %d: profile %+v, want one 1st choice, two outside, one unplaced", seed, got)
		}
		if u := res.Unplaced[0]; !strings.HasSuffix(u.Reason, "no capacity left anywhere") {
			t.Fatalf("seed %d: reason %q", seed, u.Reason)
		}
	}
}

func TestUnplacedReasons(t *testing.T) {
	sups := []Supervisor{{"x", 1}, {"y", 0}, {"z", 0}, {"w", 1}}
	tests := []struct {
		name    string
		in      Input
		student string
		want    string
	}{
		{"empty list", Input{Supervisors: sups, Students: []Student{{"s", nil}}}, "s",
			"ranked no supervisor; placement outside the list is not allowed (2 slots free elsewhere)"},
		{"only choice had no slot", Input{Supervisors: sups, Students: []Student{{"s", []string{"y"}}}}, "s",
			"the only ranked supervisor had no slots left before this allocation; placement outside the list is not allowed (2 slots free elsewhere)"},
		{"all choices had no slot", Input{Supervisors: sups, Students: []Student{{"s", []string{"y", "z"}}}}, "s",
			"all 2 ranked supervisors had no slots left before this allocation; placement outside the list is not allowed (2 slots free elsewhere)"},
		{"only choice taken", Input{Supervisors: sups[:3], Students: []Student{{"a", []string{"x"}}, {"b", []string{"x"}}}, Seed: 1}, "",
			"the only ranked supervisor is full: the slots went to students who could not all be placed otherwise; no capacity left anywhere"},
		{"mixed", Input{Supervisors: sups, Students: []Student{{"a", []string{"x"}}, {"b", []string{"y", "x"}}}, Seed: 2}, "",
			"all 2 ranked supervisors are full (1 had no slots left before this allocation; the other slots went to students who could not all be placed otherwise); placement outside the list is not allowed (1 slot free elsewhere)"},
		{"outside allowed, nothing free", Input{AllowOutsideList: true, Supervisors: sups[:1], Students: []Student{{"a", []string{"x"}}, {"b", nil}}}, "b",
			"ranked no supervisor; no capacity left anywhere"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustAllocate(t, tc.in)
			checkInvariants(t, tc.in, res)
			if len(res.Unplaced) != 1 {
				t.Fatalf("unplaced %+v, want exactly one", res.Unplaced)
			}
			u := res.Unplaced[0]
			if tc.student != "" && u.StudentID != tc.student {
				t.Fatalf("unplaced %q, want %q", u.StudentID, tc.student)
			}
			if u.Reason != tc.want {
				t.Fatalf("reason\n got %q\nwant %q", u.Reason, tc.want)
			}
		})
	}
}

func TestEmptyInput(t *testing.T) {
	res := mustAllocate(t, Input{})
	want := Result{Assignments: []Assignment{}, Unplaced: []Unplaced{}, Objective: Generous}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// TestSeedsAgreeOnQuality: seeds only choose among equally good allocations,
// so the objective's value is the same for every seed, while the allocations
// themselves do differ.
func TestSeedsAgreeOnQuality(t *testing.T) {
	in := randomInstance(rand.New(rand.NewPCG(9, 9)), 300, 30, 12)
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		in.Objective = obj
		var first Result
		differ := false
		for seed := range uint64(8) {
			in.Seed = seed
			res := mustAllocate(t, in)
			checkInvariants(t, in, res)
			if seed == 0 {
				first = res
				continue
			}
			if got, want := key(obj, tallyOf(res)), key(obj, tallyOf(first)); got != want {
				t.Fatalf("%s seed %d: key %v, seed 0 has %v", obj, seed, got, want)
			}
			differ = differ || !cmp.Equal(res.Assignments, first.Assignments)
		}
		if !differ {
			t.Errorf("%s: 8 seeds gave the same allocation; the seed should matter", obj)
		}
	}
}

// TestLargeCohort runs a cohort twice the benchmark's size, with outside
// placement, against the independent matching count.
func TestLargeCohort(t *testing.T) {
	if testing.Short() {
		t.Skip("large instance")
	}
	in := cohort(2000, 200)
	in.AllowOutsideList = true
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		in.Objective = obj
		res := mustAllocate(t, in)
		checkInvariants(t, in, res)
		got := tallyOf(res)
		if want := maxMatching(in, false); got.within != want {
			t.Fatalf("%s: %d placed within lists, matching finds %d", obj, got.within, want)
		}
		if want := min(len(in.Students), res.Profile.Capacity); got.placed != want {
			t.Fatalf("%s: %d placed, want %d", obj, got.placed, want)
		}
	}
}

// TestBarsNeverDisplace: a bar is never broken, a barred choice keeps the
// ranks of the others, and a student whose only way in is outside their
// list never takes a within-list placement from another: u ranks x only; w
// ranks nobody and is barred from y, the only other slot. Placing w (on x,
// outside their list) would need u moved off their list to y; instead u
// keeps x and w stays unplaced.
func TestBarsNeverDisplace(t *testing.T) {
	in := Input{
		AllowOutsideList: true,
		Supervisors:      []Supervisor{{"x", 1}, {"y", 1}},
		Students:         []Student{{"u", []string{"x"}}, {"w", nil}},
		Bars:             []Bar{{"w", "y"}},
	}
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		for seed := range uint64(10) {
			in.Objective, in.Seed = obj, seed
			res := mustAllocate(t, in)
			checkInvariants(t, in, res)
			if want := []Assignment{{"u", "x", 1}}; !cmp.Equal(res.Assignments, want) {
				t.Fatalf("%s seed %d: %+v, want %+v", obj, seed, res.Assignments, want)
			}
			if got := res.Unplaced[0].Reason; got != "ranked no supervisor; the 1 slot free is with a supervisor who may not supervise them" {
				t.Fatalf("reason %q", got)
			}
		}
	}
	// A barred first choice: the second is still the second.
	in = Input{Supervisors: []Supervisor{{"x", 1}, {"y", 1}}, Students: []Student{{"s", []string{"x", "y"}}}, Bars: []Bar{{"s", "x"}}}
	res := mustAllocate(t, in)
	checkInvariants(t, in, res)
	if want := []Assignment{{"s", "y", 2}}; !cmp.Equal(res.Assignments, want) {
		t.Fatalf("%+v, want %+v", res.Assignments, want)
	}
	// Barred from the only ranked supervisor, with outside placement off.
	in = Input{Supervisors: []Supervisor{{"x", 1}, {"y", 1}}, Students: []Student{{"s", []string{"x"}}}, Bars: []Bar{{"s", "x"}}}
	res = mustAllocate(t, in)
	checkInvariants(t, in, res)
	if len(res.Unplaced) != 1 || res.Unplaced[0].Reason != "the only ranked supervisor may not supervise them; placement outside the list is not allowed (2 slots free elsewhere)" {
		t.Fatalf("%+v", res.Unplaced)
	}
}
