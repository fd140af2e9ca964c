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
		if _, err := newWeights(obj, 100_001, 100_500, true); err != nil {
			t.Errorf("%s, 100,000 students: %v", obj, err)
		}
	}
	_, err := newWeights(Generous, 4_000_001, 4_000_500, true)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("4,000,000 students: error %v, want ErrTooLarge", err)
	}
	if _, err := newWeights(RankSum, 4_000_001, 4_000_500, true); err != nil {
		t.Fatalf("rank-sum needs no large costs: %v", err)
	}
}

// TestOutsideCostDominates checks the inequality the outside layer relies
// on: W exceeds what base-1 placements at the dearest rank cost.
func TestOutsideCostDominates(t *testing.T) {
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		for _, base := range []int64{2, 3, 1001, 2001} {
			w, err := newWeights(obj, base, int(base)+200, true)
			if err != nil {
				t.Fatal(err)
			}
			all := cost{}
			for range base - 1 {
				all = all.add(w.rank[MaxChoices])
			}
			if !all.less(w.outside) {
				t.Errorf("%s base %d: %d placements at rank 5 cost %v, not below outside %v", obj, base, base-1, all, w.outside)
			}
			for r := 2; r <= MaxChoices; r++ {
				if !w.rank[r-1].less(w.rank[r]) {
					t.Errorf("%s base %d: rank %d not cheaper than rank %d", obj, base, r-1, r)
				}
			}
		}
	}
}
