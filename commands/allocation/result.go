package allocation

import "fmt"

// result reads the allocation back from the flow on the network.
func (p *problem) result(net *allocationNetwork) Result {
	g := net.g
	placed := make([]int, len(p.in.Students)) // input student -> input supervisor, or -1
	for i := range placed {
		placed[i] = -1
	}
	outsiders := make([][]int, len(p.hubBars)) // per hub, input students sent through it, in network order
	for k, i := range p.students {
		for r, e := range net.choice[k] {
			if e >= 0 && g.cap[e] == 0 {
				placed[i] = p.supIndex[p.in.Students[i].Choices[r]]
			}
		}
		if e := net.outside[k]; e >= 0 && g.cap[e] == 0 {
			outsiders[p.hubOf[i]] = append(outsiders[p.hubOf[i]], i)
		}
	}
	// Pair each hub's students with its slots in network order; any pairing
	// is an allowed outside-list one (point 3 on build).
	for h := range p.hubBars {
		for k, j := range p.sups {
			if e := net.fromHub[h][k]; e >= 0 {
				for range net.hubCap[h][k] - g.cap[e] {
					placed[outsiders[h][0]] = j
					outsiders[h] = outsiders[h][1:]
				}
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
			res.Unplaced = append(res.Unplaced, Unplaced{StudentID: s.ID, Reason: p.reason(i, spare)})
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

// reason explains why input student i is unplaced. The flow is maximum, so
// every supervisor the student ranked and may have is full: placing the
// student would need someone else's slot. The reason says which ranked
// supervisors may not supervise them (a bar), whether the slots were gone
// before this allocation or taken in it, and what else could have helped.
func (p *problem) reason(i, spare int) string {
	s := p.in.Students[i]
	k := len(s.Choices)
	if k == 0 {
		return "ranked no supervisor" + p.elsewhere(spare)
	}
	barred, before := 0, 0
	for _, c := range s.Choices {
		j := p.supIndex[c]
		switch {
		case !p.may(i, j):
			barred++
		case p.in.Supervisors[j].Remaining == 0:
			before++
		}
	}
	const taken = "went to students who could not all be placed otherwise"
	var why string
	switch rest := k - barred; {
	case rest == 0 && k == 1:
		why = "the only ranked supervisor may not supervise them"
	case rest == 0:
		why = fmt.Sprintf("none of the %d ranked supervisors may supervise them", k)
	case barred > 0:
		other, verb := "the other", "is"
		if rest > 1 {
			other, verb = fmt.Sprintf("the other %d", rest), "are"
		}
		switch before {
		case rest:
			why = fmt.Sprintf("%s may not supervise them, and %s had no slots left before this allocation", plural(barred, "ranked supervisor"), other)
		case 0:
			why = fmt.Sprintf("%s may not supervise them, and %s %s full: the slots %s", plural(barred, "ranked supervisor"), other, verb, taken)
		default:
			why = fmt.Sprintf("%s may not supervise them, and %s are full (%d had no slots left before this allocation; the other slots %s)",
				plural(barred, "ranked supervisor"), other, before, taken)
		}
	default:
		which, verb := fmt.Sprintf("all %d ranked supervisors", k), "are"
		if k == 1 {
			which, verb = "the only ranked supervisor", "is"
		}
		switch before {
		case k:
			why = which + " had no slots left before this allocation"
		case 0:
			why = fmt.Sprintf("%s %s full: the slots %s", which, verb, taken)
		default:
			why = fmt.Sprintf("%s are full (%d had no slots left before this allocation; the other slots %s)", which, before, taken)
		}
	}
	return why + p.elsewhere(spare)
}

// elsewhere says why the student was not placed outside their list.
func (p *problem) elsewhere(spare int) string {
	switch {
	case spare == 0:
		return "; no capacity left anywhere"
	case !p.in.AllowOutsideList:
		return fmt.Sprintf("; placement outside the list is not allowed (%s free elsewhere)", plural(spare, "slot"))
	}
	// With the outside layer, a student is left unplaced only when every
	// free slot is one they may not take (point 2 on build): a free slot
	// they may take would place them without costing anyone else.
	if spare == 1 {
		return "; the 1 slot free is with a supervisor who may not supervise them"
	}
	return fmt.Sprintf("; the %d slots free are with supervisors who may not supervise them", spare)
}

// plural writes a count with its noun, e.g. "1 slot", "3 slots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
