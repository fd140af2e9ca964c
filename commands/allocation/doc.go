// Package allocation assigns students to supervisors from the students'
// ranked preferences and the supervisors' remaining capacities.
//
// It is the pure core behind POST /v1/allocation: the caller loads the
// preferences and capacities, calls [Allocate], and decides what to do with
// the [Result] (show it as a dry run, or record it as events). Nothing here does
// I/O or reads the clock, so the same [Input] always gives the same [Result];
// that is what lets a coordinator review a dry run and then commit exactly
// the allocation they saw.
//
// # Model
//
// The allocation is a min-cost max-flow on the network
//
//	source -> student (cap 1) -> supervisor (cap 1 per listed choice, cost by rank) -> sink (cap Remaining)
//
// plus, when [Input.AllowOutsideList] is set, one hub node that every student
// can reach at a cost dearer than any combination of listed ranks
// (student -> hub -> any supervisor), and an "unplaced" edge from every
// student to the sink, dearer still. [Input.Bars] remove edges: a barred
// placement is never made, within a list or outside it (a student with a bar
// reaches the supervisors they may take by edges of their own instead of the
// hub). Maximum flow places as many students as possible within their lists,
// then (when allowed) as many as possible outside them without taking a
// within-list placement from anyone; minimum cost then picks, among those
// placements, the best one for the [Objective]. Costs are powers of a base
// larger than the number of students that can be placed, so the total cost of
// a flow spells out its rank profile as digits and comparing costs compares
// profiles lexicographically.
// Costs are exact 128-bit integers, so no rounding or overflow can silently
// change which allocation wins; inputs too large for that are refused with
// [ErrTooLarge].
//
// # Algorithm
//
// Successive shortest paths with Johnson potentials: every edge cost starts
// non-negative, so the initial potentials are zero and each phase is one
// Dijkstra run on reduced costs, stopped as soon as the sink is settled. After
// a phase every shortest path consists of zero-reduced-cost edges, and the
// phase augments along such paths (found by depth-first search) until none is
// left, so one Dijkstra run usually serves many students: a cohort of 1,000
// students and 100 supervisors needs about 40 phases and well under 100 ms
// (BenchmarkAllocate1000x100).
//
// # Ties
//
// Many allocations usually share the optimal cost. Which one is returned is
// decided by [Input.Seed]: students and supervisors are put in a canonical
// order (by id) and then shuffled with a PCG generator seeded by it before the
// network is built. The same seed gives the same result whatever order the
// input lists come in; a different seed may pick a different optimum, so no
// student is favoured merely by the position of their id.
package allocation
