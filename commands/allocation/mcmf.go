package allocation

// network is a residual flow network. Edge e and its reverse are e and e^1;
// out-edges are kept in insertion order (compressed after freeze), which is
// what makes the seeded node order decide ties.
type network struct {
	nodes int
	from  []int32
	to    []int32
	cap   []int32
	cost  []cost
	head  []int32 // out-edges of v are order[head[v]:head[v+1]]
	order []int32
}

func newNetwork(nodes, edges int) *network {
	return &network{
		nodes: nodes,
		from:  make([]int32, 0, 2*edges),
		to:    make([]int32, 0, 2*edges),
		cap:   make([]int32, 0, 2*edges),
		cost:  make([]cost, 0, 2*edges),
	}
}

// addEdge adds u -> v and its empty reverse, returning the forward edge.
func (g *network) addEdge(u, v int32, capacity int32, c cost) int32 {
	e := int32(len(g.to))
	g.from = append(g.from, u, v)
	g.to = append(g.to, v, u)
	g.cap = append(g.cap, capacity, 0)
	g.cost = append(g.cost, c, c.neg())
	return e
}

// freeze builds the compressed adjacency; no edge may be added afterwards.
func (g *network) freeze() {
	g.head = make([]int32, g.nodes+1)
	for _, u := range g.from {
		g.head[u+1]++
	}
	for v := range g.nodes {
		g.head[v+1] += g.head[v]
	}
	next := append([]int32(nil), g.head[:g.nodes]...)
	g.order = make([]int32, len(g.from))
	for e, u := range g.from {
		g.order[next[u]] = int32(e)
		next[u]++
	}
}

// out returns the edges leaving v.
func (g *network) out(v int32) []int32 { return g.order[g.head[v]:g.head[v+1]] }

// minCostMaxFlow sends the maximum flow from s to t at minimum cost and
// returns its value. Every augmenting path starts with a capacity-1 edge out
// of s, so each augmentation carries one unit.
//
// It is successive shortest paths: augmenting along a cheapest path keeps the
// flow the cheapest of its value, so the last flow is a cheapest maximum one.
// Potentials p make reduced costs c(u,v)+p(u)−p(v) non-negative on residual
// edges, so Dijkstra applies; all costs start non-negative, so p starts at 0.
// Each phase:
//
//  1. Dijkstra from s on reduced costs, stopped when t is settled (distance D).
//  2. p(v) += min(d(v), D), taking d(v) = D for nodes not settled. For a
//     residual edge u→v, d(v) ≤ d(u)+c'(u,v) gives
//     min(d(v),D) ≤ min(d(u),D)+c'(u,v), so reduced costs stay non-negative,
//     and edges on shortest paths to t get reduced cost 0.
//  3. p(s) stays 0, so every s–t path of zero reduced cost costs p(t), the
//     shortest distance: augment along such paths (blockingFlows) until
//     there is none. Augmenting only opens reverses of zero edges, which are
//     zero too, so the flags computed once per phase stay valid and reduced
//     costs stay non-negative.
//
// The loop ends when t is unreachable: the flow is maximum.
func (g *network) minCostMaxFlow(s, t int32) int {
	pot := make([]cost, g.nodes)
	dist := make([]cost, g.nodes)
	done := make([]bool, g.nodes)
	zero := make([]bool, len(g.to))
	d := newSearch(g.nodes)
	var h costHeap
	flow := 0
	for g.dijkstra(s, t, pot, dist, done, &h) {
		reach := dist[t]
		for v := range pot {
			if done[v] {
				pot[v] = pot[v].add(dist[v])
			} else {
				pot[v] = pot[v].add(reach)
			}
		}
		for e := range g.to {
			zero[e] = g.cost[e].add(pot[g.from[e]]).sub(pot[g.to[e]]).isZero()
		}
		flow += d.blockingFlows(g, s, t, zero)
	}
	return flow
}

// dijkstra computes reduced distances from s into dist until t is settled,
// marking settled nodes in done. It reports whether t is reachable.
func (g *network) dijkstra(s, t int32, pot, dist []cost, done []bool, h *costHeap) bool {
	for v := range dist {
		dist[v] = infinite
		done[v] = false
	}
	dist[s] = cost{}
	h.items = h.items[:0]
	h.push(cost{}, s)
	for len(h.items) > 0 {
		du, u := h.pop()
		if done[u] {
			continue
		}
		done[u] = true
		if u == t {
			return true
		}
		pu := pot[u].add(du)
		for _, e := range g.out(u) {
			v := g.to[e]
			if g.cap[e] == 0 || done[v] {
				continue
			}
			if nd := pu.add(g.cost[e]).sub(pot[v]); nd.less(dist[v]) {
				dist[v] = nd
				h.push(nd, v)
			}
		}
	}
	return false
}

// search holds the buffers of the blocking-flow search for augmenting
// paths inside one phase.
type search struct {
	level []int32 // BFS depth from s over admissible edges; -1: unreached
	next  []int32 // current arc: next out-edge position to try, per node
	queue []int32
	edges []int32 // current path
}

func newSearch(nodes int) *search {
	return &search{level: make([]int32, nodes), next: make([]int32, nodes)}
}

// blockingFlows pushes unit flows along s–t paths of residual,
// zero-reduced-cost ("admissible") edges until there is none, returning how
// many. It is Dinic's algorithm on the admissible subgraph: a breadth-first
// search layers the nodes, and depth-first searches follow only edges one
// layer down, remembering per node the next edge to try, so no edge is
// retried after it led to a dead end. Augmenting opens only reverse edges,
// which point one layer up and so never make a dead end live again; when no
// layered path is left, the layers are rebuilt. The restriction to layers
// does not change what is found: every admissible path is a shortest path.
func (d *search) blockingFlows(g *network, s, t int32, zero []bool) int {
	flow := 0
	for d.layer(g, s, t, zero) {
		copy(d.next, g.head[:g.nodes])
		for d.path(g, s, t, zero) {
			for _, e := range d.edges {
				g.cap[e]--
				g.cap[e^1]++
			}
			flow++
		}
	}
	return flow
}

// admissible reports whether edge e is residual, of zero reduced cost and
// leads one layer down.
func (d *search) admissible(g *network, e int32, zero []bool) bool {
	return g.cap[e] > 0 && zero[e] && d.level[g.to[e]] == d.level[g.from[e]]+1
}

// layer sets BFS levels from s over admissible edges and reports whether t
// is reached.
func (d *search) layer(g *network, s, t int32, zero []bool) bool {
	for v := range d.level {
		d.level[v] = -1
	}
	d.level[s] = 0
	d.queue = append(d.queue[:0], s)
	for i := 0; i < len(d.queue); i++ {
		u := d.queue[i]
		if d.level[t] >= 0 && d.level[u] >= d.level[t] {
			break // nodes this deep cannot be on a shortest layered path
		}
		for _, e := range g.out(u) {
			if v := g.to[e]; g.cap[e] > 0 && zero[e] && d.level[v] < 0 {
				d.level[v] = d.level[u] + 1
				d.queue = append(d.queue, v)
			}
		}
	}
	return d.level[t] >= 0
}

// path finds one layered s–t path into d.edges, advancing current arcs past
// edges that lead nowhere.
func (d *search) path(g *network, s, t int32, zero []bool) bool {
	d.edges = d.edges[:0]
	u := s
	for {
		if u == t {
			return true
		}
		end := g.head[u+1]
		for d.next[u] < end && !d.admissible(g, g.order[d.next[u]], zero) {
			d.next[u]++
		}
		if d.next[u] < end {
			e := g.order[d.next[u]]
			d.edges = append(d.edges, e)
			u = g.to[e]
			continue
		}
		// u is a dead end: retreat and skip the edge that led here.
		if u == s {
			return false
		}
		last := len(d.edges) - 1
		u = g.from[d.edges[last]]
		d.edges = d.edges[:last]
		d.next[u]++
	}
}

// costHeap is a binary min-heap of (distance, node), with lazy deletion:
// stale entries are skipped when popped.
type costHeap struct {
	items []heapItem
}

type heapItem struct {
	d cost
	v int32
}

func (h *costHeap) push(d cost, v int32) {
	h.items = append(h.items, heapItem{d, v})
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].d.less(h.items[p].d) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *costHeap) pop() (cost, int32) {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.items[l].d.less(h.items[m].d) {
			m = l
		}
		if r < last && h.items[r].d.less(h.items[m].d) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top.d, top.v
}
