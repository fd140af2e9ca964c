package allocation

import "fmt"

// result reads the allocation back from the flow on the network.
func (p *problem) result(net *allocationNetwork) Result {
	g := net.g
	placed := make([]int, len(p.in.Students)) // input student -> input supervisor, or -1
	for i := range placed {
		placed[i] = -1
	}
	var outsiders []int // input students sent through the hub, in network order
	for k, i := range p.students {
		for r, e := range net.choice[k] {
			if e >= 0 && g.cap[e] == 0 {
				placed[i] = p.supIndex[p.in.Students[i].Choices[r]]
			}
		}
		if e := net.outside[k]; e >= 0 && g.cap[e] == 0 {
			outsiders = append(outsiders, i)
		}
	}
	// Pair hub students with hub slots in network order; any pairing is an
	// outside-list one (point 4 on build).
	for k, j := range p.sups {
		if e := net.fromHub[k]; e >= 0 {
			for range net.hubCap[k] - g.cap[e] {
				placed[outsiders[0]] = j
				outsiders = outsiders[1:]
			}
		}
	}
	return p.collect(placed)
}

// collect builds the Result from each student's supervisor (-1: unplaced).
func (p *problem) collect(placed []int) Result {
	res := Result{
		Assignments: []Assignment{},
		Unplaced:    []Unplaced{},
		Objective:   p.obj,
		Seed:        p.in.Seed,
		Profile:     Profile{Students: len(p.in.Students), Capacity: p.capacity},
	}
	load := make([]int, len(p.in.Supervisors))
	for _, j := range placed {
		if j >= 0 {
			load[j]++
		}
	}
	spare := 0
	for j, s := range p.in.Supervisors {
		spare = saturatingAdd(spare, s.Remaining-load[j])
	}
	for i, s := range p.in.Students {
		j := placed[i]
		if j < 0 {
			res.Unplaced = append(res.Unplaced, Unplaced{StudentID: s.ID, Reason: p.reason(s, spare)})
			continue
		}
		sup := p.in.Supervisors[j].ID
		r := rankOf(s, sup)
		res.Assignments = append(res.Assignments, Assignment{StudentID: s.ID, SupervisorID: sup, Rank: r})
		res.Profile.ByRank[r]++
	}
	res.Profile.OutsideList = res.Profile.ByRank[0]
	res.Profile.Unplaced = len(res.Unplaced)
	sortByStudent(res.Assignments, func(a Assignment) string { return a.StudentID })
	sortByStudent(res.Unplaced, func(u Unplaced) string { return u.StudentID })
	return res
}

// reason explains why a student is unplaced. The flow is maximum, so every
// supervisor the student ranked is full: placing the student would need
// someone else's slot. The reason says whether the slots were gone before
// this allocation or taken in it, and what else could have helped.
func (p *problem) reason(s Student, spare int) string {
	k := len(s.Choices)
	var why string
	if k == 0 {
		why = "ranked no supervisor"
	} else {
		before := 0
		for _, c := range s.Choices {
			if p.in.Supervisors[p.supIndex[c]].Remaining == 0 {
				before++
			}
		}
		which, verb := fmt.Sprintf("all %d ranked supervisors", k), "are"
		if k == 1 {
			which, verb = "the only ranked supervisor", "is"
		}
		const taken = "went to students who could not all be placed otherwise"
		switch before {
		case k:
			why = which + " had no slots left before this allocation"
		case 0:
			why = fmt.Sprintf("%s %s full: the slots %s", which, verb, taken)
		default:
			why = fmt.Sprintf("%s are full (%d had no slots left before this allocation; the other slots %s)", which, before, taken)
		}
	}
	switch {
	case spare == 0:
		return why + "; no capacity left anywhere"
	case !p.in.AllowOutsideList:
		return why + fmt.Sprintf("; placement outside the list is not allowed (%s free elsewhere)", plural(spare, "slot"))
	default:
		// Unreachable: with the outside layer every student is placed while a
		// slot is free (point 2 on build). Said plainly rather than panicking.
		return why
	}
}

// plural writes a count with its noun, e.g. "1 slot", "3 slots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
