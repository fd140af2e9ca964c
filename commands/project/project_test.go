package project_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

const projectID = "0190a0c0-0000-7000-8000-0000000000aa"

var (
	errInvalid = decidertest.ErrInvalid

	owner       = events.Actor{UserID: "student-1", Roles: []string{events.RoleStudent}}
	student     = events.Actor{UserID: "student-2", Roles: []string{events.RoleStudent}}
	stranger    = events.Actor{UserID: "stranger"}
	supervisor  = events.Actor{UserID: "staff-1", Roles: []string{events.RoleSupervisor, events.RoleExaminer}}
	coordinator = events.Actor{UserID: "staff-9", Roles: []string{events.RoleCoordinator}}

	created = &events.ProjectCreated{OwnerID: owner.UserID, Title: "Compilers", Description: "A toy compiler",
		Aim: "Learn", Rationale: "Fun"}
	withdrawn = []events.Data{created, &events.ProjectWithdrawn{}}
)

type decideCase = decidertest.Case[project.Command]

// fold runs a history through Evolve (versions 1..n).
func fold(given []events.Data) project.State {
	return decidertest.Fold(project.Decider, projectID, given)
}

func run(t *testing.T, cases []decideCase) {
	t.Helper()
	decidertest.Run(t, project.Decider, projectID, cases)
}

func ptr(s string) *string { return &s }

func fields(title, description, aim, rationale string) project.Fields {
	return project.Fields{Title: title, Description: description, Aim: aim, Rationale: rationale}
}

func TestDecideCreate(t *testing.T) {
	valid := project.Create{OwnerID: owner.UserID, Fields: fields("Compilers", "A toy compiler", "Learn", "Fun")}
	with := func(f project.Fields) project.Create { return project.Create{OwnerID: owner.UserID, Fields: f} }
	runes := func(n int) string { return strings.Repeat("é", n) }
	run(t, []decideCase{
		{Name: "valid", When: valid, Then: []events.Data{created}},
		{Name: "fields trimmed", When: with(fields(" Compilers\n", "\tA toy compiler ", " Learn", "Fun ")), Then: []events.Data{created}},
		{Name: "only a title", When: with(fields("T", "", "", "")), Then: []events.Data{&events.ProjectCreated{OwnerID: owner.UserID, Title: "T"}}},
		{Name: "title missing", When: with(fields("   ", "d", "a", "r")), Err: errInvalid, Fields: []string{"title"}},
		{
			Name: "longest fields", When: with(fields(runes(200), runes(10000), runes(4000), runes(4000))),
			Then: []events.Data{&events.ProjectCreated{OwnerID: owner.UserID, Title: runes(200), Description: runes(10000), Aim: runes(4000), Rationale: runes(4000)}},
		},
		{Name: "title too long", When: with(fields(runes(201), "", "", "")), Err: errInvalid, Fields: []string{"title"}},
		{Name: "description too long", When: with(fields("T", runes(10001), "", "")), Err: errInvalid, Fields: []string{"description"}},
		{Name: "aim too long", When: with(fields("T", "", runes(4001), "")), Err: errInvalid, Fields: []string{"aim"}},
		{Name: "rationale too long", When: with(fields("T", "", "", runes(4001))), Err: errInvalid, Fields: []string{"rationale"}},
		{Name: "every problem at once", When: with(fields("", runes(10001), runes(4001), runes(4001))), Err: errInvalid,
			Fields: []string{"title", "description", "aim", "rationale"}},
		{Name: "already exists", Given: []events.Data{created}, When: valid, Err: commands.ErrAlreadyExists},
		{Name: "withdrawn project cannot be created again", Given: withdrawn, When: valid, Err: commands.ErrAlreadyExists},
	})
}

func TestDecideCreateSubmitted(t *testing.T) {
	valid := project.Create{OwnerID: owner.UserID, Fields: fields("Compilers", "A toy compiler", "Learn", "Fun")}
	submit := project.Submit{By: owner, SupervisorID: supervisor.UserID}
	run(t, []decideCase{
		{Name: "created and submitted in one commit", When: project.CreateSubmitted{Create: valid, Submit: submit},
			Then: []events.Data{created, &events.ProposalSubmitted{SupervisorID: supervisor.UserID}}},
		{Name: "an invalid project submits nothing", When: project.CreateSubmitted{Create: project.Create{OwnerID: owner.UserID}, Submit: submit},
			Err: errInvalid, Fields: []string{"title"}},
		{Name: "no supervisor creates nothing", When: project.CreateSubmitted{Create: valid, Submit: project.Submit{By: owner}},
			Err: errInvalid, Fields: []string{"supervisor_id"}},
		{Name: "submitted by someone else", When: project.CreateSubmitted{Create: valid, Submit: project.Submit{By: student, SupervisorID: supervisor.UserID}},
			Err: commands.ErrNotFound},
		{Name: "already exists", Given: []events.Data{created}, When: project.CreateSubmitted{Create: valid, Submit: submit},
			Err: commands.ErrAlreadyExists},
	})
}

func TestDecideEdit(t *testing.T) {
	edited := func(title, description, aim, rationale string) []events.Data {
		return []events.Data{&events.ProjectEdited{Title: title, Description: description, Aim: aim, Rationale: rationale}}
	}
	run(t, []decideCase{
		{Name: "owner edits a draft", Given: []events.Data{created}, When: project.Edit{By: owner, Title: ptr(" Parsers ")},
			Then: edited("Parsers", "A toy compiler", "Learn", "Fun")},
		{Name: "owner edits every field", Given: []events.Data{created},
			When: project.Edit{By: owner, Title: ptr("T"), Description: ptr("D"), Aim: ptr("A"), Rationale: ptr("R")},
			Then: edited("T", "D", "A", "R")},
		{Name: "owner clears an optional field", Given: []events.Data{created}, When: project.Edit{By: owner, Rationale: ptr("")},
			Then: edited("Compilers", "A toy compiler", "Learn", "")},
		{Name: "coordinator edits", Given: []events.Data{created}, When: project.Edit{By: coordinator, Aim: ptr("Teach")},
			Then: edited("Compilers", "A toy compiler", "Teach", "Fun")},
		{Name: "edit after an edit", Given: []events.Data{created, edited("T", "D", "A", "R")[0]}, When: project.Edit{By: owner, Aim: ptr("A2")},
			Then: edited("T", "D", "A2", "R")},

		{Name: "nothing set is a no-op", Given: []events.Data{created}, When: project.Edit{By: owner}},
		{Name: "same values are a no-op", Given: []events.Data{created}, When: project.Edit{By: owner, Title: ptr(" Compilers "), Rationale: ptr("Fun")}},
		{Name: "same as the last edit is a no-op", Given: []events.Data{created, edited("T", "D", "A", "R")[0]}, When: project.Edit{By: coordinator, Title: ptr("T")}},

		{Name: "title cleared", Given: []events.Data{created}, When: project.Edit{By: owner, Title: ptr(" ")}, Err: errInvalid, Fields: []string{"title"}},
		{Name: "title too long", Given: []events.Data{created}, When: project.Edit{By: owner, Title: ptr(strings.Repeat("x", 201))}, Err: errInvalid, Fields: []string{"title"}},
		{Name: "description too long", Given: []events.Data{created}, When: project.Edit{By: owner, Description: ptr(strings.Repeat("x", 10001))}, Err: errInvalid, Fields: []string{"description"}},
		{Name: "aim too long", Given: []events.Data{created}, When: project.Edit{By: owner, Aim: ptr(strings.Repeat("x", 4001))}, Err: errInvalid, Fields: []string{"aim"}},
		{Name: "rationale too long", Given: []events.Data{created}, When: project.Edit{By: owner, Rationale: ptr(strings.Repeat("x", 4001))}, Err: errInvalid, Fields: []string{"rationale"}},

		{Name: "a stranger is told it does not exist", Given: []events.Data{created}, When: project.Edit{By: stranger, Title: ptr("X")}, Err: commands.ErrNotFound},
		{Name: "another student is told it does not exist", Given: []events.Data{created}, When: project.Edit{By: student, Title: ptr("X")}, Err: commands.ErrNotFound},
		{Name: "unassigned staff is told it does not exist", Given: []events.Data{created}, When: project.Edit{By: supervisor, Title: ptr("X")}, Err: commands.ErrNotFound},
		{Name: "visibility is checked before validation", Given: []events.Data{created}, When: project.Edit{By: stranger, Title: ptr("")}, Err: commands.ErrNotFound},
		{Name: "unknown project", When: project.Edit{By: coordinator, Title: ptr("X")}, Err: commands.ErrNotFound},
		{Name: "withdrawn project, owner", Given: withdrawn, When: project.Edit{By: owner, Title: ptr("X")}, Err: commands.ErrNotFound},
		{Name: "withdrawn project, coordinator", Given: withdrawn, When: project.Edit{By: coordinator, Title: ptr("X")}, Err: commands.ErrNotFound},
	})
}

func TestDecideWithdraw(t *testing.T) {
	run(t, []decideCase{
		{Name: "owner withdraws a draft", Given: []events.Data{created}, When: project.Withdraw{By: owner}, Then: []events.Data{&events.ProjectWithdrawn{}}},
		{Name: "coordinator withdraws", Given: []events.Data{created}, When: project.Withdraw{By: coordinator}, Then: []events.Data{&events.ProjectWithdrawn{}}},
		{Name: "owner withdraws an edited draft", Given: []events.Data{created, &events.ProjectEdited{Title: "T"}}, When: project.Withdraw{By: owner}, Then: []events.Data{&events.ProjectWithdrawn{}}},
		{Name: "a stranger is told it does not exist", Given: []events.Data{created}, When: project.Withdraw{By: stranger}, Err: commands.ErrNotFound},
		{Name: "another student is told it does not exist", Given: []events.Data{created}, When: project.Withdraw{By: student}, Err: commands.ErrNotFound},
		{Name: "withdrawn twice", Given: withdrawn, When: project.Withdraw{By: owner}, Err: commands.ErrNotFound},
		{Name: "unknown project", When: project.Withdraw{By: coordinator}, Err: commands.ErrNotFound},
	})
}

// TestDecideRefusalsOfLaterStatuses covers refusals that no event of this
// package can reach yet (assignment of staff and the proposal workflow
// arrive later), so the state is built directly.
func TestDecideRefusalsOfLaterStatuses(t *testing.T) {
	base := fold([]events.Data{created})
	assigned := base
	assigned.SupervisorID, assigned.ExaminerID = "staff-1", "staff-2"
	examiner := events.Actor{UserID: "staff-2", Roles: []string{events.RoleExaminer}}
	cases := []struct {
		Name   string
		status string
		When   project.Command
		Then   []events.Data
		Err    error
	}{
		{Name: "assigned supervisor may see but not edit", status: events.StatusDraft, When: project.Edit{By: supervisor, Title: ptr("X")}, Err: commands.ErrForbidden},
		{Name: "assigned examiner may not withdraw", status: events.StatusSubmitted, When: project.Withdraw{By: examiner}, Err: commands.ErrForbidden},
		{Name: "a draft's examiner is told it does not exist", status: events.StatusDraft, When: project.Withdraw{By: examiner}, Err: commands.ErrNotFound},
		{Name: "owner edits a submitted proposal", status: "submitted", When: project.Edit{By: owner, Title: ptr("X")}, Then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
		{Name: "owner edits a rejected proposal", status: "rejected", When: project.Edit{By: owner, Title: ptr("X")}, Then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
		{Name: "owner may not edit an accepted project", status: "accepted", When: project.Edit{By: owner, Title: ptr("X")}, Err: project.ErrNotEditable},
		{Name: "owner may not withdraw an accepted project", status: "accepted", When: project.Withdraw{By: owner}, Err: project.ErrNotEditable},
		{Name: "coordinator edits an accepted project", status: "accepted", When: project.Edit{By: coordinator, Title: ptr("X")}, Then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			s := assigned
			s.Status = tc.status
			got, err := project.Decide(s, tc.When)
			decidertest.CheckErr(t, err, tc.Err, nil)
			if diff := cmp.Diff(tc.Then, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVisibleTo(t *testing.T) {
	s := fold([]events.Data{created})
	s.SupervisorID = "staff-1"
	for _, c := range []struct {
		who  events.Actor
		want bool
	}{
		{owner, true}, {coordinator, true}, {supervisor, true}, {student, false}, {stranger, false},
		{events.Actor{UserID: "staff-2", Roles: []string{events.RoleExaminer}}, false},
	} {
		if got := s.VisibleTo(c.who); got != c.want {
			t.Errorf("VisibleTo(%+v) = %v, want %v", c.who, got, c.want)
		}
	}
	// An unassigned examiner id ("") must not match a caller without an id.
	if s.VisibleTo(events.Actor{}) {
		t.Error("a caller without an id sees the project")
	}
}

// foreignEvent is a type the project aggregate does not know.
type foreignEvent struct{}

func (foreignEvent) EventType() string { return "ForeignEvent" }

func TestEvolve(t *testing.T) {
	history := []events.Data{created, &events.ProjectEdited{Title: "T", Description: "D", Aim: "A", Rationale: "R"}, &events.ProjectWithdrawn{}}
	want := project.State{ID: projectID, OwnerID: owner.UserID, Title: "T", Description: "D", Aim: "A", Rationale: "R",
		Status: events.StatusWithdrawn, Created: true, CreatedAt: decidertest.RecordedAt, UpdatedAt: decidertest.RecordedAt.Add(2 * time.Second)}
	got := fold(history)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("fold (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, fold(history)); diff != "" {
		t.Errorf("folding twice differs (-first +second):\n%s", diff)
	}
	// Interleaved, the known events are recorded at other times: times aside.
	mixed := []events.Data{&foreignEvent{}, created, &events.UserDeleted{}, history[1], foreignEvent{}, history[2], &events.EmailClaimed{}}
	if diff := cmp.Diff(want, fold(mixed), cmpopts.IgnoreFields(project.State{}, "CreatedAt", "UpdatedAt")); diff != "" {
		t.Errorf("unknown events changed the fold (-want +got):\n%s", diff)
	}
	if s := project.Evolve(want, events.Envelope{Version: 4}); !cmp.Equal(s, want) {
		t.Errorf("an envelope without data changed the state: %+v", s)
	}
	if diff := cmp.Diff(project.State{ID: projectID, OwnerID: owner.UserID, Title: "Compilers", Description: "A toy compiler",
		Aim: "Learn", Rationale: "Fun", Status: events.StatusDraft, Created: true, CreatedAt: decidertest.RecordedAt, UpdatedAt: decidertest.RecordedAt},
		fold([]events.Data{created})); diff != "" {
		t.Errorf("created fold (-want +got):\n%s", diff)
	}
}

// TestNobodySupervisesThemselves: a student who also supervises cannot
// propose to themselves (alone or when creating), nor decide a proposal of
// their own that an older version let through.
func TestNobodySupervisesThemselves(t *testing.T) {
	both := events.Actor{UserID: owner.UserID, Roles: []string{events.RoleStudent, events.RoleSupervisor}}
	toSelf := &events.ProposalSubmitted{SupervisorID: owner.UserID}
	valid := project.Create{OwnerID: owner.UserID, Fields: fields("Compilers", "A toy compiler", "Learn", "Fun")}
	run(t, []decideCase{
		{Name: "submit to self", Given: []events.Data{created}, When: project.Submit{By: both, SupervisorID: owner.UserID}, Err: project.ErrSelfSupervision},
		{Name: "create submitted to self", When: project.CreateSubmitted{Create: valid, Submit: project.Submit{By: both, SupervisorID: owner.UserID}},
			Err: project.ErrSelfSupervision},
		{Name: "accept own proposal", Given: []events.Data{created, toSelf}, When: project.Decision{By: both, Accept: true}, Err: project.ErrSelfSupervision},
		{Name: "reject own proposal", Given: []events.Data{created, toSelf}, When: project.Decision{By: both}, Err: project.ErrSelfSupervision},
		{Name: "submit to another", Given: []events.Data{created}, When: project.Submit{By: both, SupervisorID: supervisor.UserID},
			Then: []events.Data{&events.ProposalSubmitted{SupervisorID: supervisor.UserID}}},
	})
}
