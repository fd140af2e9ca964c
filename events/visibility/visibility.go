// Package visibility is the one statement of who may see what: which
// projects, which student records and which parts of them, which marks of
// a project's marking and when, and which user accounts. docs/visibility.md is this package written as a table, and the
// table test beside it holds the two together.
//
// Both sides use it: the write side to answer a caller who may not see a
// project as if it did not exist, the read side to answer, to filter lists
// and to cut a student's overview down to what the caller may see. So that
// each side can feed it from its own model, it knows nothing but plain facts
// (ids, roles and a status) and holds only pure functions. It sits under
// events, the vocabulary every layer already shares, and imports nothing
// else of ours.
//
// Seeing is not changing: who may edit, decide or grade is decided by the
// commands, among those who may see.
package visibility

import (
	"slices"

	"github.com/capstone-pms/capstone/events"
)

// Viewer is who asks: their user id and roles.
type Viewer = events.Actor

// Project is what the rule knows about a project.
type Project struct {
	OwnerID      string // the student who wrote it
	SupervisorID string // the supervisor it is (or was last) proposed to; "" for a draft
	ExaminerID   string // its second examiner, once a coordinator names one
	Status       string // events.StatusDraft, ...
}

// Relation is how a project names a person.
type Relation string

// The relations a project has.
const (
	Owner      Relation = "owner"
	Supervisor Relation = "supervisor"
	Examiner   Relation = "examiner"
)

// Grant is one reason a viewer may see a project: the project names the
// viewer in Relation, and its status is none of Except.
type Grant struct {
	Relation Relation
	Except   []string
}

// Holds reports whether g lets v see p.
func (g Grant) Holds(v Viewer, p Project) bool {
	return v.UserID != "" && p.named(g.Relation) == v.UserID && !slices.Contains(g.Except, p.Status)
}

func (p Project) named(r Relation) string {
	switch r {
	case Owner:
		return p.OwnerID
	case Supervisor:
		return p.SupervisorID
	case Examiner:
		return p.ExaminerID
	}
	return ""
}

// SeesAll reports whether v may see every record: coordinators run the
// cohort, so they see every project, student and account, every list whole
// and the exports.
func SeesAll(v Viewer) bool { return slices.Contains(v.Roles, events.RoleCoordinator) }

// ProjectGrants says which projects v may see: all of them, or those for
// which one of the grants holds. A student sees what they wrote; a
// supervisor what is proposed to them; an examiner what they examine once
// it has left the draft stage (a draft is the student's own until they
// propose it). A tie counts only with the role that makes it: someone whose
// supervisor role was taken away no longer sees what was proposed to them.
// The read side turns the grants into a store filter, so a list and a
// single read can never disagree.
func ProjectGrants(v Viewer) (all bool, grants []Grant) {
	if SeesAll(v) {
		return true, nil
	}
	grants = []Grant{{Relation: Owner}}
	if slices.Contains(v.Roles, events.RoleSupervisor) {
		grants = append(grants, Grant{Relation: Supervisor})
	}
	if slices.Contains(v.Roles, events.RoleExaminer) {
		grants = append(grants, Grant{Relation: Examiner, Except: []string{events.StatusDraft}})
	}
	return false, grants
}

// SeesProject reports whether v may see p. Whether p still exists (a
// withdrawn project is gone from every current view, its history stays) is
// the caller's question, not this one.
func SeesProject(v Viewer, p Project) bool {
	all, grants := ProjectGrants(v)
	if all {
		return true
	}
	for _, g := range grants {
		if g.Holds(v, p) {
			return true
		}
	}
	return false
}

// OwnOnly reports whether every project v may see is one v wrote, so their
// list can be read from their own record instead of searched for.
func OwnOnly(v Viewer) bool {
	all, grants := ProjectGrants(v)
	return !all && len(grants) == 1 && grants[0].Relation == Owner
}

// Student is what the rule knows about a student's record.
type Student struct {
	ID           string
	SupervisorID string    // who they are placed with
	ExaminerID   string    // their second examiner
	Projects     []Project // the projects they have not withdrawn
}

// StudentView is which parts of a student's record a viewer may see; the
// zero value is none: the record does not exist for them.
type StudentView struct {
	// Record: the record at all, with id, name, e-mail and profile, and
	// those of the student's projects the viewer may see.
	Record bool
	// Placement: who supervises the student, how they were placed, who
	// examines them, and which project is the accepted one.
	Placement bool
	// Grade: the mark released to the student and the feedback released
	// with it (nothing is shown before a release; SeesMarks says which
	// parts of the marking itself a viewer sees).
	Grade bool
	// Preferences: the student's ranking of supervisors, which is theirs
	// and the coordinators' only, so that no supervisor learns where they
	// were ranked.
	Preferences bool
}

// The views a student's record is shown in.
var (
	fullView    = StudentView{Record: true, Placement: true, Grade: true, Preferences: true}
	staffView   = StudentView{Record: true, Placement: true, Grade: true}
	contactView = StudentView{Record: true}
)

// SeesStudent says which parts of s's record v may see: all of it, to the
// student and coordinators; all but the preferences, to the supervisor
// they are placed with and their examiner; who they are and the projects
// v may see, to anyone else who may see one of their projects (a
// supervisor they proposed to); nothing to everyone else.
func SeesStudent(v Viewer, s Student) StudentView {
	switch {
	case SeesAll(v) || v.UserID != "" && v.UserID == s.ID:
		return fullView
	case v.UserID == "":
		return StudentView{}
	case v.UserID == s.SupervisorID && slices.Contains(v.Roles, events.RoleSupervisor),
		v.UserID == s.ExaminerID && slices.Contains(v.Roles, events.RoleExaminer):
		return staffView
	}
	for _, p := range s.Projects {
		if SeesProject(v, p) {
			return contactView
		}
	}
	return StudentView{}
}

// SeesUser reports whether v may see the account of user id: its roles,
// profile and history. An account is its holder's and the coordinators';
// other people see a person through the records above (a student's record,
// the supervisors' directory).
func SeesUser(v Viewer, id string) bool {
	return SeesAll(v) || v.UserID != "" && v.UserID == id
}
