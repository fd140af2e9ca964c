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
	users, projects, cohort, emails := NewUsers(docs, streams), NewProjects(docs, streams), NewCohort(docs, streams), NewEmails(docs, streams)
	supervisors, students := NewSupervisors(docs, streams), NewStudents(docs, streams)
	users.Locks, projects.Locks, cohort.Locks, emails.Locks = locks, locks, locks, locks
	supervisors.Locks, students.Locks = locks, locks
	return []Projection{users, projects, supervisors, students, cohort, emails}
}

// Names lists the projections, in the order of [All].
func Names() []string {
	var out []string
	for _, p := range All(nil, nil) {
		out = append(out, p.Name())
	}
	return out
}
