package visibility

import (
	"slices"

	"github.com/capstone-pms/capstone/events"
)

// MarkerOf says how v marks p: Supervisor (the first marker) or Examiner
// (the second), or "" when v is not one of its markers. As with seeing, a
// tie counts only with the role that makes it. The write side asks it
// before taking a mark, the read side before showing one.
func MarkerOf(v Viewer, p Project) Relation {
	switch {
	case v.UserID == "":
		return ""
	case p.SupervisorID == v.UserID && slices.Contains(v.Roles, events.RoleSupervisor):
		return Supervisor
	case p.ExaminerID == v.UserID && slices.Contains(v.Roles, events.RoleExaminer):
		return Examiner
	}
	return ""
}

// MarkerGrants are the ties through which v may mark projects: the read
// side turns them into a store filter for a marker's list.
func MarkerGrants(v Viewer) []Relation {
	var out []Relation
	if slices.Contains(v.Roles, events.RoleSupervisor) {
		out = append(out, Supervisor)
	}
	if slices.Contains(v.Roles, events.RoleExaminer) {
		out = append(out, Examiner)
	}
	return out
}

// Marks is what the rule knows about a project's marking: which of the two
// marks are in.
type Marks struct {
	SupervisorIn, ExaminerIn bool
}

// MarkView is which parts of a project's marking a viewer may see; the zero
// value is none.
type MarkView struct {
	// As is the viewer's own tie when they mark the project (their state
	// is then told from where they stand: "to mark" until their mark is
	// in, whatever the other marker did).
	As Relation
	// Supervisor and Examiner: that marker's mark and feedback.
	Supervisor, Examiner bool
	// Outcome: where the marking stands (waiting, moderation, agreed), the
	// agreed mark and how it was reached (the moderator's comment, the
	// coordinator's feedback).
	Outcome bool
	// Released: the mark the student was shown and the feedback shown
	// with it.
	Released bool
	// SetAside: the marks of a marker replaced before both marks were in.
	// They count for nothing (events/marking sets them aside), so they are
	// no one's to see but the coordinators', who keep the audit trail: not
	// the new marker, who marks blind, nor the other marker once both are
	// in.
	SetAside bool
}

// SeesMarks says which parts of p's marking v may see, v being someone who
// may see p. Marking is blind: a marker sees their own mark, and the other
// marker's only once both are in. A coordinator sees every part, always,
// marks set aside included. The student sees only what was released to
// them, and nothing before.
func SeesMarks(v Viewer, p Project, m Marks) MarkView {
	both := m.SupervisorIn && m.ExaminerIn
	switch {
	case SeesAll(v):
		return MarkView{Supervisor: true, Examiner: true, Outcome: true, Released: true, SetAside: true}
	case v.UserID == "":
		return MarkView{}
	}
	if as := MarkerOf(v, p); as != "" {
		return MarkView{As: as, Supervisor: as == Supervisor || both, Examiner: as == Examiner || both, Outcome: true, Released: true}
	}
	if v.UserID == p.OwnerID {
		return MarkView{Released: true}
	}
	return MarkView{}
}
