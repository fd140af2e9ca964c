package allocation

import "slices"

// Fixed nodes; students follow from firstStudent in network order, then the
// supervisors, then the hubs of students with bars.
const (
	source int32 = iota
	sink
	hub // the outside-list layer of students without bars; isolated unless AllowOutsideList
	firstStudent
)

// allocationNetwork is the flow network of one problem and the edges the
// result is read back from.
type allocationNetwork struct {
	g *network
	// choice[k] are the listed-choice edges of the k-th student in network
	// order, parallel to that student's Choices; -1 where the supervisor has
	// no slot left or is barred for them, since such an edge never carries
	// flow.
	choice [][]int32
	// outside[k] is the student -> hub edge of the k-th student, or -1.
	outside []int32
	// fromHub[h][k] is the edge from hub h to the k-th supervisor in network
	// order, or -1; hubCap[h][k] is the capacity it was built with.
	fromHub, hubCap [][]int32
}

// build lays out source -> student -> supervisor -> sink in the seeded order,
// with costs from w, and the outside-list layer when it is allowed.
//
// The outside-list layer: every student can leave the list at cost X
// through a hub that leads to every supervisor with a slot that the student
// may take (students without bars share the one hub; students with the same
// bars share another), and every student can stay unplaced, by an edge
// straight to the sink at cost X + Y (newWeights: within-list placements
// cost at most (B−1)·cmax < Y, and X = (n+1)·Y).
//
// Why an outside placement never costs anyone a within-list placement:
//
//  1. Every student has an edge to the sink, so every maximum flow carries
//     all n units and is an allocation (each student within their list,
//     outside it, or unplaced); every allocation that respects capacities,
//     lists and bars is such a flow.
//  2. A flow with w within-list placements of cost c, o outside and u
//     unplaced costs c + o·X + u·(X+Y) = c + (n−w)·X + u·Y. As u·Y + c ≤
//     n·Y + (B−1)·cmax < X, a flow with more within-list placements is
//     always cheaper; among equal w, as c < Y, one with fewer unplaced; and
//     among those, the one best for the objective. So the cheapest maximum
//     flow places the most students within their lists, then the most in
//     all, then best for the objective.
//  3. A hub cannot send a student to a supervisor they listed: if a unit
//     went student u -> hub -> supervisor v with v on u's list, the residual
//     cycle u -> v -> hub -> u (listed edge unused since u carries one unit)
//     would cost rank(v) − X < 0, impossible in a cheapest flow. Every
//     student entering a hub may take every supervisor it leads to, so
//     pairing a hub's incoming students with its outgoing slots in any order
//     gives only allowed outside-list placements; result pairs them in
//     network order.
//
// Without the layer, the maximum flow places the most students within their
// lists, and the cheapest of those is the objective's best.
// TestOutsideNeverDisplaces, TestBarsNeverDisplace and the brute-force tests
// check this.
func (p *problem) build(w weights) *allocationNetwork {
	n, m, hubs := len(p.students), len(p.sups), len(p.hubBars)
	g := newNetwork(p.nodes(), n*(MaxChoices+3)+(hubs+1)*m)
	supNode := make([]int32, len(p.in.Supervisors)) // input index -> node
	for k, i := range p.sups {
		supNode[i] = firstStudent + int32(n+k)
	}
	hubNode := func(h int) int32 {
		if h == 0 {
			return hub
		}
		return firstStudent + int32(n+m+h-1)
	}
	net := &allocationNetwork{g: g, choice: make([][]int32, n), outside: make([]int32, n),
		fromHub: make([][]int32, hubs), hubCap: make([][]int32, hubs)}
	for k, i := range p.students {
		u := firstStudent + int32(k)
		g.addEdge(source, u, 1, cost{})
		s := p.in.Students[i]
		net.choice[k] = make([]int32, len(s.Choices))
		for r, c := range s.Choices {
			j := p.supIndex[c]
			net.choice[k][r] = -1
			if p.in.Supervisors[j].Remaining > 0 && p.may(i, j) {
				net.choice[k][r] = g.addEdge(u, supNode[j], 1, w.rank[r+1])
			}
		}
		net.outside[k] = -1
		if p.in.AllowOutsideList {
			net.outside[k] = g.addEdge(u, hubNode(p.hubOf[i]), 1, w.outside)
			g.addEdge(u, sink, 1, w.unplaced)
		}
	}
	for h := range hubs {
		net.fromHub[h], net.hubCap[h] = make([]int32, m), make([]int32, m)
		for k, i := range p.sups {
			// More than n slots can never fill, and capping keeps int32 safe.
			c := int32(min(p.in.Supervisors[i].Remaining, n))
			net.fromHub[h][k] = -1
			if p.in.AllowOutsideList && c > 0 && !slices.Contains(p.hubBars[h], i) {
				net.fromHub[h][k] = g.addEdge(hubNode(h), supNode[i], c, cost{})
				net.hubCap[h][k] = c
			}
		}
	}
	for _, i := range p.sups {
		g.addEdge(supNode[i], sink, int32(min(p.in.Supervisors[i].Remaining, n)), cost{})
	}
	g.freeze()
	return net
}
