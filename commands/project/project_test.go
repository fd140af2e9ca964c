package project_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

const projectID = "0190a0c0-0000-7000-8000-0000000000aa"

var (
	// errInvalid matches any validation refusal (commands.Error.Is compares codes).
	errInvalid = commands.Invalid()

	owner       = events.Actor{UserID: "student-1", Roles: []string{events.RoleStudent}}
	student     = events.Actor{UserID: "student-2", Roles: []string{events.RoleStudent}}
	stranger    = events.Actor{UserID: "stranger"}
	supervisor  = events.Actor{UserID: "staff-1", Roles: []string{events.RoleSupervisor, events.RoleExaminer}}
	coordinator = events.Actor{UserID: "staff-9", Roles: []string{events.RoleCoordinator}}

	created = &events.ProjectCreated{OwnerID: owner.UserID, Title: "Compilers", Description: "A toy compiler",
		Aim: "Learn", Rationale: "Fun"}
	withdrawn = []events.Data{created, &events.ProjectWithdrawn{}}
)

// decideCase is one given/when/then row: the history is the fixture.
type decideCase struct {
	name  string
	given []events.Data
	when  any
	then  []events.Data
	err   error
	// fields are the invalid fields expected when err is errInvalid.
	fields []string
}

// fold wraps a history in envelopes with versions 1..n and runs it through Evolve.
func fold(given []events.Data) project.State {
	s := project.Decider.Initial(projectID)
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for i, d := range given {
		s = project.Evolve(s, events.Envelope{
			ID: projectID + "-" + string(rune('a'+i)), StreamID: projectID, StreamType: events.StreamProject,
			Version: int64(i + 1), Type: d.EventType(), SchemaVersion: 1, Data: d,
			Actor: owner, RecordedAt: t0.Add(time.Duration(i) * time.Second),
		})
	}
	return s
}

func run(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := project.Decide(fold(tc.given), tc.when)
			checkErr(t, err, tc.err, tc.fields)
			if diff := cmp.Diff(tc.then, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// checkErr asserts err matches want by errors.Is; a validation must name
// exactly the listed fields, any other refusal must be the same sentinel.
func checkErr(t *testing.T, err, want error, fields []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	got, _ := commands.AsError(err)
	w, _ := commands.AsError(want)
	if w.Code != errInvalid.Code {
		if got.Kind != w.Kind || got.Message != w.Message {
			t.Errorf("err = %#v, want %#v", got, w)
		}
		return
	}
	var names []string
	for _, f := range got.Fields {
		names = append(names, f.Field)
	}
	if diff := cmp.Diff(fields, names, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s\nerr: %v", diff, err)
	}
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
		{name: "valid", when: valid, then: []events.Data{created}},
		{name: "fields trimmed", when: with(fields(" Compilers\n", "\tA toy compiler ", " Learn", "Fun ")), then: []events.Data{created}},
		{name: "only a title", when: with(fields("T", "", "", "")), then: []events.Data{&events.ProjectCreated{OwnerID: owner.UserID, Title: "T"}}},
		{name: "title missing", when: with(fields("   ", "d", "a", "r")), err: errInvalid, fields: []string{"title"}},
		{
			name: "longest fields", when: with(fields(runes(200), runes(10000), runes(4000), runes(4000))),
			then: []events.Data{&events.ProjectCreated{OwnerID: owner.UserID, Title: runes(200), Description: runes(10000), Aim: runes(4000), Rationale: runes(4000)}},
		},
		{name: "title too long", when: with(fields(runes(201), "", "", "")), err: errInvalid, fields: []string{"title"}},
		{name: "description too long", when: with(fields("T", runes(10001), "", "")), err: errInvalid, fields: []string{"description"}},
		{name: "aim too long", when: with(fields("T", "", runes(4001), "")), err: errInvalid, fields: []string{"aim"}},
		{name: "rationale too long", when: with(fields("T", "", "", runes(4001))), err: errInvalid, fields: []string{"rationale"}},
		{name: "every problem at once", when: with(fields("", runes(10001), runes(4001), runes(4001))), err: errInvalid,
			fields: []string{"title", "description", "aim", "rationale"}},
		{name: "already exists", given: []events.Data{created}, when: valid, err: commands.ErrAlreadyExists},
		{name: "withdrawn project cannot be created again", given: withdrawn, when: valid, err: commands.ErrAlreadyExists},
	})
}

func TestDecideCreateSubmitted(t *testing.T) {
	valid := project.Create{OwnerID: owner.UserID, Fields: fields("Compilers", "A toy compiler", "Learn", "Fun")}
	submit := project.Submit{By: owner, SupervisorID: supervisor.UserID}
	run(t, []decideCase{
		{name: "created and submitted in one commit", when: project.CreateSubmitted{Create: valid, Submit: submit},
			then: []events.Data{created, &events.ProposalSubmitted{SupervisorID: supervisor.UserID}}},
		{name: "an invalid project submits nothing", when: project.CreateSubmitted{Create: project.Create{OwnerID: owner.UserID}, Submit: submit},
			err: errInvalid, fields: []string{"title"}},
		{name: "no supervisor creates nothing", when: project.CreateSubmitted{Create: valid, Submit: project.Submit{By: owner}},
			err: errInvalid, fields: []string{"supervisor_id"}},
		{name: "submitted by someone else", when: project.CreateSubmitted{Create: valid, Submit: project.Submit{By: student, SupervisorID: supervisor.UserID}},
			err: commands.ErrNotFound},
		{name: "already exists", given: []events.Data{created}, when: project.CreateSubmitted{Create: valid, Submit: submit},
			err: commands.ErrAlreadyExists},
	})
}

func TestDecideEdit(t *testing.T) {
	edited := func(title, description, aim, rationale string) []events.Data {
		return []events.Data{&events.ProjectEdited{Title: title, Description: description, Aim: aim, Rationale: rationale}}
	}
	run(t, []decideCase{
		{name: "owner edits a draft", given: []events.Data{created}, when: project.Edit{By: owner, Title: ptr(" Parsers ")},
			then: edited("Parsers", "A toy compiler", "Learn", "Fun")},
		{name: "owner edits every field", given: []events.Data{created},
			when: project.Edit{By: owner, Title: ptr("T"), Description: ptr("D"), Aim: ptr("A"), Rationale: ptr("R")},
			then: edited("T", "D", "A", "R")},
		{name: "owner clears an optional field", given: []events.Data{created}, when: project.Edit{By: owner, Rationale: ptr("")},
			then: edited("Compilers", "A toy compiler", "Learn", "")},
		{name: "coordinator edits", given: []events.Data{created}, when: project.Edit{By: coordinator, Aim: ptr("Teach")},
			then: edited("Compilers", "A toy compiler", "Teach", "Fun")},
		{name: "edit after an edit", given: []events.Data{created, edited("T", "D", "A", "R")[0]}, when: project.Edit{By: owner, Aim: ptr("A2")},
			then: edited("T", "D", "A2", "R")},

		{name: "nothing set is a no-op", given: []events.Data{created}, when: project.Edit{By: owner}},
		{name: "same values are a no-op", given: []events.Data{created}, when: project.Edit{By: owner, Title: ptr(" Compilers "), Rationale: ptr("Fun")}},
		{name: "same as the last edit is a no-op", given: []events.Data{created, edited("T", "D", "A", "R")[0]}, when: project.Edit{By: coordinator, Title: ptr("T")}},

		{name: "title cleared", given: []events.Data{created}, when: project.Edit{By: owner, Title: ptr(" ")}, err: errInvalid, fields: []string{"title"}},
		{name: "title too long", given: []events.Data{created}, when: project.Edit{By: owner, Title: ptr(strings.Repeat("x", 201))}, err: errInvalid, fields: []string{"title"}},
		{name: "description too long", given: []events.Data{created}, when: project.Edit{By: owner, Description: ptr(strings.Repeat("x", 10001))}, err: errInvalid, fields: []string{"description"}},
		{name: "aim too long", given: []events.Data{created}, when: project.Edit{By: owner, Aim: ptr(strings.Repeat("x", 4001))}, err: errInvalid, fields: []string{"aim"}},
		{name: "rationale too long", given: []events.Data{created}, when: project.Edit{By: owner, Rationale: ptr(strings.Repeat("x", 4001))}, err: errInvalid, fields: []string{"rationale"}},

		{name: "a stranger is told it does not exist", given: []events.Data{created}, when: project.Edit{By: stranger, Title: ptr("X")}, err: commands.ErrNotFound},
		{name: "another student is told it does not exist", given: []events.Data{created}, when: project.Edit{By: student, Title: ptr("X")}, err: commands.ErrNotFound},
		{name: "unassigned staff is told it does not exist", given: []events.Data{created}, when: project.Edit{By: supervisor, Title: ptr("X")}, err: commands.ErrNotFound},
		{name: "visibility is checked before validation", given: []events.Data{created}, when: project.Edit{By: stranger, Title: ptr("")}, err: commands.ErrNotFound},
		{name: "unknown project", when: project.Edit{By: coordinator, Title: ptr("X")}, err: commands.ErrNotFound},
		{name: "withdrawn project, owner", given: withdrawn, when: project.Edit{By: owner, Title: ptr("X")}, err: commands.ErrNotFound},
		{name: "withdrawn project, coordinator", given: withdrawn, when: project.Edit{By: coordinator, Title: ptr("X")}, err: commands.ErrNotFound},
	})
}

func TestDecideWithdraw(t *testing.T) {
	run(t, []decideCase{
		{name: "owner withdraws a draft", given: []events.Data{created}, when: project.Withdraw{By: owner}, then: []events.Data{&events.ProjectWithdrawn{}}},
		{name: "coordinator withdraws", given: []events.Data{created}, when: project.Withdraw{By: coordinator}, then: []events.Data{&events.ProjectWithdrawn{}}},
		{name: "owner withdraws an edited draft", given: []events.Data{created, &events.ProjectEdited{Title: "T"}}, when: project.Withdraw{By: owner}, then: []events.Data{&events.ProjectWithdrawn{}}},
		{name: "a stranger is told it does not exist", given: []events.Data{created}, when: project.Withdraw{By: stranger}, err: commands.ErrNotFound},
		{name: "another student is told it does not exist", given: []events.Data{created}, when: project.Withdraw{By: student}, err: commands.ErrNotFound},
		{name: "withdrawn twice", given: withdrawn, when: project.Withdraw{By: owner}, err: commands.ErrNotFound},
		{name: "unknown project", when: project.Withdraw{By: coordinator}, err: commands.ErrNotFound},
		{name: "unknown command", given: []events.Data{created}, when: "withdraw", err: errInvalid, fields: []string{"command"}},
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
		name   string
		status string
		when   any
		then   []events.Data
		err    error
	}{
		{name: "assigned supervisor may see but not edit", status: events.StatusDraft, when: project.Edit{By: supervisor, Title: ptr("X")}, err: commands.ErrForbidden},
		{name: "assigned examiner may not withdraw", status: events.StatusDraft, when: project.Withdraw{By: examiner}, err: commands.ErrForbidden},
		{name: "owner edits a submitted proposal", status: "submitted", when: project.Edit{By: owner, Title: ptr("X")}, then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
		{name: "owner edits a rejected proposal", status: "rejected", when: project.Edit{By: owner, Title: ptr("X")}, then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
		{name: "owner may not edit an accepted project", status: "accepted", when: project.Edit{By: owner, Title: ptr("X")}, err: project.ErrNotEditable},
		{name: "owner may not withdraw an accepted project", status: "accepted", when: project.Withdraw{By: owner}, err: project.ErrNotEditable},
		{name: "coordinator edits an accepted project", status: "accepted", when: project.Edit{By: coordinator, Title: ptr("X")}, then: []events.Data{&events.ProjectEdited{Title: "X", Description: "A toy compiler", Aim: "Learn", Rationale: "Fun"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := assigned
			s.Status = tc.status
			got, err := project.Decide(s, tc.when)
			checkErr(t, err, tc.err, nil)
			if diff := cmp.Diff(tc.then, got, cmpopts.EquateEmpty()); diff != "" {
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
		Status: events.StatusWithdrawn, Created: true}
	got := fold(history)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("fold (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got, fold(history)); diff != "" {
		t.Errorf("folding twice differs (-first +second):\n%s", diff)
	}
	mixed := []events.Data{&foreignEvent{}, created, &events.UserDeleted{}, history[1], foreignEvent{}, history[2], &events.EmailClaimed{}}
	if diff := cmp.Diff(want, fold(mixed)); diff != "" {
		t.Errorf("unknown events changed the fold (-want +got):\n%s", diff)
	}
	if s := project.Evolve(want, events.Envelope{Version: 4}); !cmp.Equal(s, want) {
		t.Errorf("an envelope without data changed the state: %+v", s)
	}
	if diff := cmp.Diff(project.State{ID: projectID, OwnerID: owner.UserID, Title: "Compilers", Description: "A toy compiler",
		Aim: "Learn", Rationale: "Fun", Status: events.StatusDraft, Created: true}, fold([]events.Data{created})); diff != "" {
		t.Errorf("created fold (-want +got):\n%s", diff)
	}
}
