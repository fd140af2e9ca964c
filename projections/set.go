package projections

// All builds every projection over the given stores, in a stable order. A
// projection's name is also the logical name of the one collection it
// owns: the projector runs each, a rebuild refills each, and the status
// reports each.
func All(docs Documents, streams Streams) []Projection {
	return []Projection{NewUsers(docs, streams), NewProjects(docs, streams), NewSupervisors(docs, streams),
		NewStudents(docs, streams), NewCohort(docs, streams), NewEmails(docs, streams)}
}

// Names lists the projections, in the order of [All].
func Names() []string {
	var out []string
	for _, p := range All(nil, nil) {
		out = append(out, p.Name())
	}
	return out
}
