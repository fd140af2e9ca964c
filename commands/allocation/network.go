package allocation

// Fixed nodes; students follow from firstStudent in network order, then the
// supervisors.
const (
	source int32 = iota
	sink
	hub // the outside-list layer; isolated unless AllowOutsideList
	firstStudent
)

// allocationNetwork is the flow network of one problem and the edges the
// result is read back from.
type allocationNetwork struct {
	g *network
	// choice[k] are the listed-choice edges of the k-th student in network
	// order, parallel to that student's Choices; -1 where the supervisor has
	// no slot left, since such an edge could never carry flow.
	choice [][]int32
	// outside[k] is the student -> hub edge of the k-th student, or -1.
	outside []int32
	// fromHub[k] is the hub -> supervisor edge of the k-th supervisor in
	// network order, or -1.
	fromHub []int32
	// hubCap[k] is the capacity fromHub[k] was built with.
	hubCap []int32
}

// build lays out source -> student -> supervisor -> sink in the seeded order,
// with costs from w, and the outside-list layer when it is allowed.
//
// Why the hub never costs anyone a within-list placement:
// Let n be the number of students, C the total capacity and M1 the most
// students placeable within their lists (the max flow without the hub).
//
//  1. Every flow restricted to listed-choice edges is a flow of the network
//     without the hub, so it places at most M1 students within their lists.
//  2. With the hub, the maximum flow is min(n, C), and it is reached by
//     extending any maximum within-list flow f: a student f leaves unplaced
//     has every listed supervisor full (an unplaced student with a free
//     listed supervisor would be an augmenting path source->student->
//     supervisor->sink), so every free slot is off their list and reachable
//     through the hub; fill the free slots one student at a time.
//  3. A flow with o outside placements and within-list cost w costs
//     o·W + w, where 0 ≤ w ≤ (B−1)·cmax < W (newWeights). Among maximum
//     flows, within-list plus outside placements is the constant min(n, C),
//     so one more outside placement costs at least W − (B−1)·cmax > 0 more
//     than the best it could improve within lists: the cheapest maximum
//     flow has the fewest outside placements, hence exactly M1 within-list
//     ones (1 and 2), and among those the cheapest within-list part, which
//     by 2 is the objective's optimum over all maximum within-list flows.
//  4. The hub cannot send a student to a supervisor they listed: if a unit
//     went student u -> hub -> supervisor v with v on u's list, the residual
//     cycle u -> v -> hub -> u (listed edge unused since u carries one unit)
//     would cost rank(v) − W < 0, impossible in a cheapest flow. So pairing
//     the hub's incoming students with its outgoing slots in any order gives
//     only outside-list placements, and result pairs them in network order.
//
// TestOutsideNeverDisplaces and the brute-force tests check this.
func (p *problem) build(w weights) *allocationNetwork {
	n, m := len(p.students), len(p.sups)
	g := newNetwork(p.nodes(), n*(MaxChoices+2)+2*m)
	supNode := make([]int32, len(p.in.Supervisors)) // input index -> node
	for k, i := range p.sups {
		supNode[i] = firstStudent + int32(n+k)
	}
	net := &allocationNetwork{g: g, choice: make([][]int32, n), outside: make([]int32, n),
		fromHub: make([]int32, m), hubCap: make([]int32, m)}
	for k, i := range p.students {
		u := firstStudent + int32(k)
		g.addEdge(source, u, 1, cost{})
		s := p.in.Students[i]
		net.choice[k] = make([]int32, len(s.Choices))
		for r, c := range s.Choices {
			j := p.supIndex[c]
			net.choice[k][r] = -1
			if p.in.Supervisors[j].Remaining > 0 {
				net.choice[k][r] = g.addEdge(u, supNode[j], 1, w.rank[r+1])
			}
		}
		net.outside[k] = -1
		if p.in.AllowOutsideList {
			net.outside[k] = g.addEdge(u, hub, 1, w.outside)
		}
	}
	for k, i := range p.sups {
		// More than n slots can never fill, and capping keeps int32 safe.
		c := int32(min(p.in.Supervisors[i].Remaining, n))
		net.fromHub[k] = -1
		if p.in.AllowOutsideList && c > 0 {
			net.fromHub[k] = g.addEdge(hub, supNode[i], c, cost{})
			net.hubCap[k] = c
		}
		g.addEdge(supNode[i], sink, c, cost{})
	}
	g.freeze()
	return net
}
