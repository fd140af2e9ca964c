package allocation

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/capstone-pms/capstone/commands"
)

// ErrTooLarge refuses an input whose exact costs would not fit the 128-bit
// arithmetic of the solver. It is matched with errors.Is. It needs over a
// hundred thousand students, far beyond a cohort, but silently wrong
// arithmetic would be worse than a refusal.
var ErrTooLarge = &commands.Error{
	Kind:    commands.KindRule,
	Code:    "allocation-too-large",
	Message: "the allocation is too large to compute exactly",
}

// costBits bounds the magnitude of every cost, potential and distance the
// solver handles (see newWeights), leaving headroom below 2^127.
const costBits = 125

// infinite is larger than any distance the solver can compute.
var infinite = cost{hi: 1 << (costBits + 1 - 64)}

// cost is an exact signed 128-bit integer in two's complement. int64 is not
// enough: with the outside-list layer the largest edge cost is about
// students·base^5, and that times the number of nodes overflows int64 at a
// few hundred students. Two words keep Dijkstra's inner loop
// allocation-free, unlike math/big.
type cost struct {
	hi int64
	lo uint64
}

// add returns a+b.
func (a cost) add(b cost) cost {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	return cost{hi: a.hi + b.hi + int64(carry), lo: lo}
}

// sub returns a−b.
func (a cost) sub(b cost) cost {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	return cost{hi: a.hi - b.hi - int64(borrow), lo: lo}
}

// neg returns −a, the cost of a reverse edge.
func (a cost) neg() cost { return cost{}.sub(a) }

// less reports whether a < b.
func (a cost) less(b cost) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// isZero reports whether a == 0.
func (a cost) isZero() bool { return a.hi == 0 && a.lo == 0 }

// costOf converts a non-negative big integer below 2^127.
func costOf(x *big.Int) cost {
	lo := new(big.Int).And(x, new(big.Int).SetUint64(^uint64(0)))
	return cost{hi: new(big.Int).Rsh(x, 64).Int64(), lo: lo.Uint64()}
}

// weights are the edge costs of one run: what a placement at each rank, or
// outside the list, or leaving a student unplaced adds to the cost of a flow.
type weights struct {
	rank     [MaxChoices + 1]cost // rank[r] for r = 1..5; rank[0] unused
	outside  cost
	unplaced cost
}

// newWeights derives the costs for an objective. B = base exceeds the number
// of students that can be placed, so no per-rank count reaches B:
//
//   - Generous: rank r costs B^(r-1). A flow costs c5·B^4 + c4·B^3 + … + c1,
//     a base-B number whose digits are the counts of 5th, 4th, … choices, so
//     the cheapest flow has the fewest 5th choices, then 4th, and so on.
//   - Greedy: rank r costs B^4 − B^(5−r) ≥ 0. With P students placed within
//     their lists a flow costs P·B^4 − (c1·B^4 + c2·B^3 + … + c5), so among
//     equal P the cheapest has the most 1st choices, then 2nd, and so on.
//     (Subtracting from B^4 keeps every cost non-negative, so the first
//     potentials can be zero.)
//   - RankSum: rank r costs r.
//
// With cmax = rank[5], the dearest rank in all three, any set of within-list
// placements costs at most (B−1)·cmax < Y = B·cmax. With n students, an
// outside placement costs X = (n+1)·Y, more than n·Y plus any within-list
// cost, and leaving a student unplaced costs X + Y: what makes the outside
// placements never cost a within-list one (see the proof on build in
// network.go).
//
// The solver's numbers stay within 4·(nodes+1)·(largest edge cost): a
// potential is at most a shortest-path length, a reduced cost or distance at
// most a few of those. The input is refused when that exceeds 2^costBits.
func newWeights(obj Objective, base int64, students, nodes int, outside bool) (weights, error) {
	b := big.NewInt(base)
	pow := func(k int64) *big.Int { return new(big.Int).Exp(b, big.NewInt(k), nil) }
	var rank [MaxChoices + 1]*big.Int
	for r := 1; r <= MaxChoices; r++ {
		switch obj {
		case Generous:
			rank[r] = pow(int64(r - 1))
		case Greedy:
			rank[r] = new(big.Int).Sub(pow(MaxChoices-1), pow(int64(MaxChoices-r)))
		default: // RankSum; validate has refused anything else
			rank[r] = big.NewInt(int64(r))
		}
	}
	cmax := rank[MaxChoices]
	y := new(big.Int).Mul(b, cmax)
	out := new(big.Int).Mul(big.NewInt(int64(students)+1), y)
	unplaced := new(big.Int).Add(out, y)
	largest := cmax
	if outside {
		largest = unplaced
	}
	bound := new(big.Int).Mul(big.NewInt(4*int64(nodes+1)), largest)
	if bound.BitLen() > costBits {
		return weights{}, &commands.Error{
			Kind: ErrTooLarge.Kind, Code: ErrTooLarge.Code,
			Message: fmt.Sprintf("%s: %d nodes with base %d need a %d-bit cost range, more than %d",
				ErrTooLarge.Message, nodes, base, bound.BitLen(), costBits),
		}
	}
	var w weights
	for r := 1; r <= MaxChoices; r++ {
		w.rank[r] = costOf(rank[r])
	}
	w.outside, w.unplaced = costOf(out), costOf(unplaced)
	return w, nil
}
