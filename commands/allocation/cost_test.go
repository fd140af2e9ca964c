package allocation

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestCostArithmetic checks the 128-bit type against math/big.
func TestCostArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	random := func() *big.Int { // below 2^costBits, of random magnitude
		x := new(big.Int).Lsh(new(big.Int).SetUint64(rng.Uint64()>>(128-costBits)), 64)
		x.Add(x, new(big.Int).SetUint64(rng.Uint64()))
		x.Rsh(x, uint(rng.IntN(costBits)))
		if rng.IntN(2) == 0 {
			x.Neg(x)
		}
		return x
	}
	toBig := func(c cost) *big.Int {
		x := new(big.Int).Lsh(big.NewInt(c.hi), 64)
		return x.Add(x, new(big.Int).SetUint64(c.lo))
	}
	fromBig := func(x *big.Int) cost {
		if x.Sign() < 0 {
			return costOf(new(big.Int).Neg(x)).neg()
		}
		return costOf(x)
	}
	for range 10000 {
		a, b := random(), random()
		ca, cb := fromBig(a), fromBig(b)
		if got := toBig(ca); got.Cmp(a) != 0 {
			t.Fatalf("round trip %v -> %v", a, got)
		}
		if got, want := toBig(ca.add(cb)), new(big.Int).Add(a, b); got.Cmp(want) != 0 {
			t.Fatalf("%v + %v = %v, want %v", a, b, got, want)
		}
		if got, want := toBig(ca.sub(cb)), new(big.Int).Sub(a, b); got.Cmp(want) != 0 {
			t.Fatalf("%v - %v = %v, want %v", a, b, got, want)
		}
		if ca.less(cb) != (a.Cmp(b) < 0) {
			t.Fatalf("%v < %v wrong", a, b)
		}
	}
}

// TestWeightsRange: a cohort far beyond any university fits; an absurd one
// is refused with ErrTooLarge rather than computed with wrapped numbers.
func TestWeightsRange(t *testing.T) {
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		if _, err := newWeights(obj, 100_001, 100_000, 100_500, true); err != nil {
			t.Errorf("%s, 100,000 students: %v", obj, err)
		}
	}
	_, err := newWeights(Generous, 4_000_001, 4_000_000, 4_000_500, true)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("4,000,000 students: error %v, want ErrTooLarge", err)
	}
	if _, err := newWeights(RankSum, 4_000_001, 4_000_000, 4_000_500, true); err != nil {
		t.Fatalf("rank-sum needs no large costs: %v", err)
	}
}

// TestOutsideCostDominates checks the inequalities the outside layer relies
// on (the proof on build): Y, what leaving a student unplaced costs more than
// placing them outside, exceeds what base-1 placements at the dearest rank
// cost; and the outside cost X exceeds n·Y plus that.
func TestOutsideCostDominates(t *testing.T) {
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		for _, base := range []int64{2, 3, 1001, 2001} {
			for _, n := range []int{int(base) - 1, 3 * int(base)} { // base-1: students <= capacity
				w, err := newWeights(obj, base, n, n+200, true)
				if err != nil {
					t.Fatal(err)
				}
				within := cost{}
				for range base - 1 {
					within = within.add(w.rank[MaxChoices])
				}
				y := w.unplaced.sub(w.outside)
				if !within.less(y) {
					t.Errorf("%s base %d: %d placements at rank 5 cost %v, not below Y %v", obj, base, base-1, within, y)
				}
				ny := within
				for range n {
					ny = ny.add(y)
				}
				if !ny.less(w.outside) {
					t.Errorf("%s base %d, %d students: n·Y plus any within-list cost %v is not below X %v", obj, base, n, ny, w.outside)
				}
				for r := 2; r <= MaxChoices; r++ {
					if !w.rank[r-1].less(w.rank[r]) {
						t.Errorf("%s base %d: rank %d not cheaper than rank %d", obj, base, r-1, r)
					}
				}
			}
		}
	}
}
