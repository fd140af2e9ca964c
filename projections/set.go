package projections

// All builds every projection over the given stores, in a stable order. A
// projection's name is also the logical name of the one collection it
// owns: the projector runs each, a rebuild refills each, and the status
// reports each.
func All(docs Documents, streams Streams) []Projection {
	return AllSharing(docs, streams, nil)
}

// AllSharing is All with the instances' document locks taken from locks
// (nil: each its own): a process gives its live projectors and a rebuild's
// catch-up the same, so that they never write one document at once.
func AllSharing(docs Documents, streams Streams, locks *Locks) []Projection {
	all := []Projection{NewUsers(docs, streams), NewProjects(docs, streams), NewSupervisors(docs, streams),
		NewStudents(docs, streams), NewCohort(docs, streams), NewEmails(docs, streams)}
	if locks != nil {
		for _, p := range all {
			p.(lockSharer).shareLocks(locks)
		}
	}
	return all
}

// Names lists the projections, in the order of [All].
func Names() []string {
	var out []string
	for _, p := range All(nil, nil) {
		out = append(out, p.Name())
	}
	return out
}
