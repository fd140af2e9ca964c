package visibility_test

import (
	"testing"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/visibility"
)

// The people of every case: a student who wrote the project, the
// supervisor it names, its examiner, and others with no tie to it.
var (
	coordinator = events.Actor{UserID: "coord", Roles: []string{events.RoleCoordinator}}
	owner       = events.Actor{UserID: "stu", Roles: []string{events.RoleStudent}}
	supervisor  = events.Actor{UserID: "sup", Roles: []string{events.RoleSupervisor}}
	examiner    = events.Actor{UserID: "exa", Roles: []string{events.RoleExaminer}}
	otherSup    = events.Actor{UserID: "sup2", Roles: []string{events.RoleSupervisor}}
	otherExam   = events.Actor{UserID: "exa2", Roles: []string{events.RoleExaminer}}
	otherStu    = events.Actor{UserID: "stu2", Roles: []string{events.RoleStudent}}
	// Someone the project names as supervisor or examiner but who no
	// longer holds that role.
	exSupervisor = events.Actor{UserID: "sup", Roles: []string{events.RoleStudent}}
	exExaminer   = events.Actor{UserID: "exa"}
	// Staff holding both roles, named as examiner only.
	bothExaminer = events.Actor{UserID: "exa", Roles: []string{events.RoleSupervisor, events.RoleExaminer}}
	nobody       = events.Actor{}
)

func project(status string) visibility.Project {
	p := visibility.Project{OwnerID: "stu", ExaminerID: "exa", Status: status}
	if status != events.StatusDraft {
		p.SupervisorID = "sup"
	}
	return p
}

func TestSeesProject(t *testing.T) {
	statuses := []string{events.StatusDraft, events.StatusSubmitted, events.StatusAccepted, events.StatusRejected, events.StatusWithdrawn}
	for _, c := range []struct {
		name string
		who  events.Actor
		want [5]bool // by status, in the order above
	}{
		{"coordinator", coordinator, [5]bool{true, true, true, true, true}},
		{"owner", owner, [5]bool{true, true, true, true, true}},
		{"the supervisor it names", supervisor, [5]bool{false, true, true, true, true}},
		{"its examiner: not a draft", examiner, [5]bool{false, true, true, true, true}},
		{"its examiner who also supervises: not a draft", bothExaminer, [5]bool{false, true, true, true, true}},
		{"another supervisor", otherSup, [5]bool{}},
		{"another examiner", otherExam, [5]bool{}},
		{"another student", otherStu, [5]bool{}},
		{"named as supervisor without the role", exSupervisor, [5]bool{}},
		{"named as examiner without the role", exExaminer, [5]bool{}},
		{"no one", nobody, [5]bool{}},
	} {
		for i, status := range statuses {
			if got := visibility.SeesProject(c.who, project(status)); got != c.want[i] {
				t.Errorf("%s, %s project: sees = %v, want %v", c.name, status, got, c.want[i])
			}
		}
	}
	// An empty id on the project never matches a caller without an id.
	if visibility.SeesProject(events.Actor{Roles: []string{events.RoleSupervisor, events.RoleExaminer}}, visibility.Project{OwnerID: "stu", Status: events.StatusSubmitted}) {
		t.Error("a caller without an id sees a project with no supervisor or examiner")
	}
}

// TestGrantsAreTheRule checks the form the read side filters a store with:
// one grant per tie the viewer's roles allow, coordinators all.
func TestGrantsAreTheRule(t *testing.T) {
	for _, c := range []struct {
		who  events.Actor
		all  bool
		want []visibility.Relation
		own  bool
	}{
		{coordinator, true, nil, false},
		{owner, false, []visibility.Relation{visibility.Owner}, true},
		{nobody, false, []visibility.Relation{visibility.Owner}, true},
		{supervisor, false, []visibility.Relation{visibility.Owner, visibility.Supervisor}, false},
		{examiner, false, []visibility.Relation{visibility.Owner, visibility.Examiner}, false},
		{bothExaminer, false, []visibility.Relation{visibility.Owner, visibility.Supervisor, visibility.Examiner}, false},
	} {
		all, grants := visibility.ProjectGrants(c.who)
		var got []visibility.Relation
		for _, g := range grants {
			got = append(got, g.Relation)
			if want := g.Relation == visibility.Examiner; want != (len(g.Except) == 1 && g.Except[0] == events.StatusDraft) {
				t.Errorf("%+v: grant %s excepts %v", c.who, g.Relation, g.Except)
			}
		}
		if all != c.all || len(got) != len(c.want) {
			t.Errorf("%+v: grants = %v %v, want %v %v", c.who, all, got, c.all, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%+v: grants = %v, want %v", c.who, got, c.want)
			}
		}
		if own := visibility.OwnOnly(c.who); own != c.own {
			t.Errorf("%+v: OwnOnly = %v, want %v", c.who, own, c.own)
		}
	}
}

func TestSeesStudent(t *testing.T) {
	var (
		full    = visibility.StudentView{Record: true, Placement: true, Grade: true, Preferences: true}
		staff   = visibility.StudentView{Record: true, Placement: true, Grade: true}
		contact = visibility.StudentView{Record: true}
		none    = visibility.StudentView{}
	)
	// The student is placed with "sup" and examined by "exa"; they have a
	// proposal submitted to "sup3" and a draft that names "exa4" as its
	// examiner.
	student := visibility.Student{ID: "stu", SupervisorID: "sup", ExaminerID: "exa", Projects: []visibility.Project{
		{OwnerID: "stu", SupervisorID: "sup3", Status: events.StatusSubmitted},
		{OwnerID: "stu", ExaminerID: "exa4", Status: events.StatusDraft},
	}}
	for _, c := range []struct {
		name string
		who  events.Actor
		want visibility.StudentView
	}{
		{"the student", owner, full},
		{"a coordinator", coordinator, full},
		{"the supervisor they are placed with", supervisor, staff},
		{"their examiner", examiner, staff},
		{"a supervisor they proposed to", events.Actor{UserID: "sup3", Roles: []string{events.RoleSupervisor}}, contact},
		{"the examiner of a draft of theirs", events.Actor{UserID: "exa4", Roles: []string{events.RoleExaminer}}, none},
		{"another supervisor", otherSup, none},
		{"another examiner", otherExam, none},
		{"another student", otherStu, none},
		{"their supervisor, without the role", exSupervisor, none},
		{"their examiner, without the role", exExaminer, none},
		{"no one", nobody, none},
	} {
		if got := visibility.SeesStudent(c.who, student); got != c.want {
			t.Errorf("%s: view = %+v, want %+v", c.name, got, c.want)
		}
	}
	// A student placed with no one is not everyone's: empty ids match no
	// caller without an id.
	if got := visibility.SeesStudent(nobody, visibility.Student{ID: "stu"}); got != none {
		t.Errorf("a caller without an id sees %+v of an unplaced student", got)
	}
}

func TestSeesUser(t *testing.T) {
	for _, c := range []struct {
		who  events.Actor
		id   string
		want bool
	}{
		{coordinator, "stu", true},
		{owner, "stu", true},
		{supervisor, "stu", false},
		{examiner, "stu", false},
		{otherStu, "stu", false},
		{nobody, "", false},
	} {
		if got := visibility.SeesUser(c.who, c.id); got != c.want {
			t.Errorf("%+v sees user %q = %v, want %v", c.who, c.id, got, c.want)
		}
	}
	if !visibility.SeesAll(coordinator) || visibility.SeesAll(events.Actor{UserID: "x", Roles: []string{events.RoleSupervisor, events.RoleExaminer, events.RoleStudent}}) {
		t.Error("SeesAll must hold for coordinators only")
	}
}

// TestSeesMarks: blind marking. Each marker sees their own mark, the other's
// only once both are in; the student sees only what was released; a
// coordinator everything; everyone else nothing.
func TestSeesMarks(t *testing.T) {
	p := project(events.StatusAccepted)
	none, supOnly, exaOnly, both := visibility.Marks{}, visibility.Marks{SupervisorIn: true}, visibility.Marks{ExaminerIn: true},
		visibility.Marks{SupervisorIn: true, ExaminerIn: true}
	all := visibility.MarkView{Supervisor: true, Examiner: true, Outcome: true, Released: true, SetAside: true}
	asSup := visibility.MarkView{As: visibility.Supervisor, Supervisor: true, Outcome: true, Released: true}
	asExa := visibility.MarkView{As: visibility.Examiner, Examiner: true, Outcome: true, Released: true}
	released := visibility.MarkView{Released: true}
	for _, c := range []struct {
		name string
		who  events.Actor
		want [4]visibility.MarkView // with no mark in, the supervisor's, the examiner's, both
	}{
		{"coordinator", coordinator, [4]visibility.MarkView{all, all, all, all}},
		{"supervisor", supervisor, [4]visibility.MarkView{asSup, asSup, asSup, {As: visibility.Supervisor, Supervisor: true, Examiner: true, Outcome: true, Released: true}}},
		{"examiner", examiner, [4]visibility.MarkView{asExa, asExa, asExa, {As: visibility.Examiner, Supervisor: true, Examiner: true, Outcome: true, Released: true}}},
		{"examiner who also supervises", bothExaminer, [4]visibility.MarkView{asExa, asExa, asExa, {As: visibility.Examiner, Supervisor: true, Examiner: true, Outcome: true, Released: true}}},
		{"owner", owner, [4]visibility.MarkView{released, released, released, released}},
		{"named as supervisor without the role", exSupervisor, [4]visibility.MarkView{}},
		{"named as examiner without the role", exExaminer, [4]visibility.MarkView{}},
		{"another supervisor", otherSup, [4]visibility.MarkView{}},
		{"another student", otherStu, [4]visibility.MarkView{}},
		{"no one", nobody, [4]visibility.MarkView{}},
	} {
		for i, m := range []visibility.Marks{none, supOnly, exaOnly, both} {
			if got := visibility.SeesMarks(c.who, p, m); got != c.want[i] {
				t.Errorf("%s, marks %+v: %+v, want %+v", c.name, m, got, c.want[i])
			}
		}
	}
	// A marker's tie, for the write side.
	for _, c := range []struct {
		who  events.Actor
		want visibility.Relation
	}{{supervisor, visibility.Supervisor}, {examiner, visibility.Examiner}, {bothExaminer, visibility.Examiner},
		{exSupervisor, ""}, {exExaminer, ""}, {owner, ""}, {coordinator, ""}, {nobody, ""}} {
		if got := visibility.MarkerOf(c.who, p); got != c.want {
			t.Errorf("MarkerOf(%+v) = %q, want %q", c.who, got, c.want)
		}
	}
	if got := visibility.MarkerOf(events.Actor{Roles: []string{events.RoleSupervisor}}, visibility.Project{OwnerID: "stu", Status: events.StatusAccepted}); got != "" {
		t.Errorf("a caller without an id marks a project that names no one: %q", got)
	}
}
