package user_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// recordedAt is the time every folded test event was recorded at.
var recordedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// errInvalid matches any validation refusal (commands.Error.Is compares codes).
var errInvalid = commands.Invalid()

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

// envelopes wraps a history in envelopes with versions 1..n, as the store would.
func envelopes(streamID, streamType string, given []events.Data) []events.Envelope {
	out := make([]events.Envelope, len(given))
	for i, d := range given {
		out[i] = events.Envelope{
			ID: streamID + "-" + string(rune('a'+i)), StreamID: streamID, StreamType: streamType,
			Version: int64(i + 1), Type: d.EventType(), SchemaVersion: 1, Data: d,
			Actor: events.SystemActor, RecordedAt: recordedAt.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// fold runs a history through a decider's Evolve from its initial state.
func fold[S any](d commands.Decider[S, any], streamID string, given []events.Data) S {
	s := d.Initial(streamID)
	for _, e := range envelopes(streamID, d.StreamType, given) {
		s = d.Evolve(s, e)
	}
	return s
}

// run checks each case: fold given, decide when, compare with then and err.
func run[S any](t *testing.T, d commands.Decider[S, any], streamID string, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Decide(fold(d, streamID, tc.given), tc.when)
			checkErr(t, err, tc.err, tc.fields)
			if diff := cmp.Diff(tc.then, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// checkErr asserts err matches want by errors.Is. For a refusal other than a
// validation it also requires the same message, so two sentinels that share
// a code (ErrDeleted and ErrNotFound) are told apart. For a validation it
// requires exactly the listed fields.
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
	got, ok := commands.AsError(err)
	w, _ := commands.AsError(want)
	if !ok || w == nil {
		return
	}
	if w.Code != errInvalid.Code {
		if got.Message != w.Message || got.Kind != w.Kind {
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
	if got.Kind != commands.KindInvalid {
		t.Errorf("kind = %v, want KindInvalid", got.Kind)
	}
}

const userID = "0190a0c0-0000-7000-8000-000000000001"

var (
	student     = []string{events.RoleStudent}
	created     = &events.UserCreated{Email: "ada@example.com", Name: "Ada Lovelace", Roles: student}
	createdFull = &events.UserCreated{Email: "ada@example.com", Name: "Ada Lovelace", Roles: student,
		Profile: events.Profile{Code: "S1", Programme: "MSc"}}
)

func ptr[T any](v T) *T { return &v }

func TestDecideCreate(t *testing.T) {
	valid := user.Create{Email: "ada@example.com", Name: "Ada Lovelace", Roles: student}
	with := func(change func(*user.Create)) user.Create {
		c := valid
		c.Roles = slices.Clone(valid.Roles)
		change(&c)
		return c
	}
	email254 := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	if len(email254) != 254 {
		t.Fatalf("fixture: len(email254) = %d", len(email254))
	}
	long := strings.Repeat("é", 201)
	run(t, user.Decider, userID, []decideCase{
		{name: "valid", when: valid, then: []events.Data{created}},
		{
			name: "e-mail lower-cased and trimmed, name and profile trimmed",
			when: with(func(c *user.Create) {
				c.Email, c.Name = "  Ada@Example.COM\t", "  Ada Lovelace \n"
				c.Profile = events.Profile{Code: " S1 ", Programme: "MSc  "}
			}),
			then: []events.Data{createdFull},
		},
		{name: "e-mail of 254 characters", when: with(func(c *user.Create) { c.Email = email254 }),
			then: []events.Data{&events.UserCreated{Email: email254, Name: "Ada Lovelace", Roles: student}}},
		{name: "e-mail of 255 characters", when: with(func(c *user.Create) { c.Email = "a" + email254 }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail empty", when: with(func(c *user.Create) { c.Email = "   " }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail without @", when: with(func(c *user.Create) { c.Email = "ada.example.com" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail without dot in domain", when: with(func(c *user.Create) { c.Email = "ada@localhost" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with display name", when: with(func(c *user.Create) { c.Email = "Ada <ada@example.com>" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with two @", when: with(func(c *user.Create) { c.Email = "ada@@example.com" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with space", when: with(func(c *user.Create) { c.Email = "ada lovelace@example.com" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with quoted local part", when: with(func(c *user.Create) { c.Email = `"ada l"@example.com` }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with comment", when: with(func(c *user.Create) { c.Email = "ada@example.com (Ada)" }), err: errInvalid, fields: []string{"email"}},
		{name: "e-mail with double dot", when: with(func(c *user.Create) { c.Email = "ada@example..com" }), err: errInvalid, fields: []string{"email"}},
		{name: "name empty", when: with(func(c *user.Create) { c.Name = " \t " }), err: errInvalid, fields: []string{"name"}},
		{name: "name of 200 runes", when: with(func(c *user.Create) { c.Name = long[2:] }),
			then: []events.Data{&events.UserCreated{Email: "ada@example.com", Name: long[2:], Roles: student}}},
		{name: "name of 201 runes", when: with(func(c *user.Create) { c.Name = long }), err: errInvalid, fields: []string{"name"}},
		{name: "roles nil", when: with(func(c *user.Create) { c.Roles = nil }), err: errInvalid, fields: []string{"roles"}},
		{name: "roles empty", when: with(func(c *user.Create) { c.Roles = []string{} }), err: errInvalid, fields: []string{"roles"}},
		{name: "role unknown", when: with(func(c *user.Create) { c.Roles = []string{"student", "admin"} }), err: errInvalid, fields: []string{"roles"}},
		{name: "role in another case", when: with(func(c *user.Create) { c.Roles = []string{"Student"} }), err: errInvalid, fields: []string{"roles"}},
		{
			name: "roles de-duplicated, trimmed, in canonical order",
			when: with(func(c *user.Create) {
				c.Roles = []string{"student", " examiner", "coordinator", "student", "supervisor "}
			}),
			then: []events.Data{&events.UserCreated{Email: "ada@example.com", Name: "Ada Lovelace",
				Roles: []string{"coordinator", "supervisor", "examiner", "student"}}},
		},
		{name: "profile field too long", when: with(func(c *user.Create) { c.Profile.Department = long }), err: errInvalid, fields: []string{"profile.department"}},
		{
			name: "every problem reported at once",
			when: user.Create{Email: "nope", Name: "", Roles: nil, Profile: events.Profile{Code: long}},
			err:  errInvalid, fields: []string{"email", "name", "roles", "profile.code"},
		},
		{name: "with password", when: with(func(c *user.Create) { c.WithPassword = true }),
			then: []events.Data{created, &events.UserPasswordSet{}}},
		{name: "already exists", given: []events.Data{created}, when: valid, err: commands.ErrAlreadyExists},
		{name: "deleted user cannot be created again", given: []events.Data{created, &events.UserDeleted{}}, when: valid, err: commands.ErrAlreadyExists},
		{name: "abandoned stream", given: []events.Data{&events.UserCreationAbandoned{Reason: "late"}}, when: valid, err: commands.ErrAlreadyExists},
		{name: "already exists wins over invalid input", given: []events.Data{created}, when: user.Create{}, err: commands.ErrAlreadyExists},
	})
}

func TestDecideUpdate(t *testing.T) {
	long := strings.Repeat("x", 201)
	run(t, user.Decider, userID, []decideCase{
		{
			name: "name", given: []events.Data{createdFull}, when: user.Update{Name: ptr("  Ada King ")},
			then: []events.Data{&events.UserUpdated{Name: "Ada King", Roles: student, Profile: createdFull.Profile}},
		},
		{
			name: "roles in canonical order", given: []events.Data{createdFull},
			when: user.Update{Roles: []string{"student", "supervisor", "supervisor"}},
			then: []events.Data{&events.UserUpdated{Name: "Ada Lovelace", Roles: []string{"supervisor", "student"}, Profile: createdFull.Profile}},
		},
		{
			name: "profile replaced and trimmed", given: []events.Data{createdFull},
			when: user.Update{Profile: &events.Profile{Department: " Computing "}},
			then: []events.Data{&events.UserUpdated{Name: "Ada Lovelace", Roles: student, Profile: events.Profile{Department: "Computing"}}},
		},
		{
			name: "every field", given: []events.Data{created},
			when: user.Update{Name: ptr("B"), Roles: []string{"examiner"}, Profile: &events.Profile{Code: "E1"}},
			then: []events.Data{&events.UserUpdated{Name: "B", Roles: []string{"examiner"}, Profile: events.Profile{Code: "E1"}}},
		},
		{
			name: "after an earlier update", given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: []string{"examiner"}}},
			when: user.Update{Name: ptr("C")},
			then: []events.Data{&events.UserUpdated{Name: "C", Roles: []string{"examiner"}}},
		},
		{name: "nothing set is a no-op", given: []events.Data{createdFull}, when: user.Update{}},
		{name: "same values are a no-op", given: []events.Data{createdFull},
			when: user.Update{Name: ptr(" Ada Lovelace "), Roles: []string{"student", "student"}, Profile: &events.Profile{Code: "S1 ", Programme: "MSc"}}},
		{name: "same as the last update is a no-op", given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}},
			when: user.Update{Name: ptr("B")}},
		{
			name: "name only may change the name", given: []events.Data{created}, when: user.Update{Name: ptr("Ada"), NameOnly: true},
			then: []events.Data{&events.UserUpdated{Name: "Ada", Roles: student}},
		},
		{name: "name only refuses roles", given: []events.Data{created}, when: user.Update{Name: ptr("Ada"), Roles: []string{"coordinator"}, NameOnly: true}, err: commands.ErrForbidden},
		{name: "name only refuses the same roles", given: []events.Data{created}, when: user.Update{Roles: student, NameOnly: true}, err: commands.ErrForbidden},
		{name: "name only refuses profile", given: []events.Data{created}, when: user.Update{Profile: &events.Profile{}, NameOnly: true}, err: commands.ErrForbidden},
		{name: "name empty", given: []events.Data{created}, when: user.Update{Name: ptr(" ")}, err: errInvalid, fields: []string{"name"}},
		{name: "name too long", given: []events.Data{created}, when: user.Update{Name: ptr(long)}, err: errInvalid, fields: []string{"name"}},
		{name: "roles empty", given: []events.Data{created}, when: user.Update{Roles: []string{}}, err: errInvalid, fields: []string{"roles"}},
		{name: "role unknown", given: []events.Data{created}, when: user.Update{Roles: []string{"root"}}, err: errInvalid, fields: []string{"roles"}},
		{name: "profile too long", given: []events.Data{created}, when: user.Update{Profile: &events.Profile{Position: long}}, err: errInvalid, fields: []string{"profile.position"}},
		{name: "deleted user", given: []events.Data{created, &events.UserDeleted{}}, when: user.Update{Name: ptr("B")}, err: user.ErrDeleted},
		{name: "unknown user", when: user.Update{Name: ptr("B")}, err: commands.ErrNotFound},
		{name: "abandoned stream", given: []events.Data{&events.UserCreationAbandoned{}}, when: user.Update{Name: ptr("B")}, err: commands.ErrNotFound},
	})
}

func TestDecideDeleteSetPasswordAbandon(t *testing.T) {
	deleted := []events.Data{created, &events.UserDeleted{}}
	run(t, user.Decider, userID, []decideCase{
		{name: "delete", given: []events.Data{created}, when: user.Delete{}, then: []events.Data{&events.UserDeleted{}}},
		{name: "delete after an update", given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}}, when: user.Delete{}, then: []events.Data{&events.UserDeleted{}}},
		{name: "delete twice", given: deleted, when: user.Delete{}, err: user.ErrDeleted},
		{name: "delete unknown user", when: user.Delete{}, err: commands.ErrNotFound},
		{name: "delete abandoned stream", given: []events.Data{&events.UserCreationAbandoned{}}, when: user.Delete{}, err: commands.ErrNotFound},

		{name: "set password", given: []events.Data{created}, when: user.SetPassword{}, then: []events.Data{&events.UserPasswordSet{}}},
		{name: "set password again", given: []events.Data{created, &events.UserPasswordSet{}}, when: user.SetPassword{}, then: []events.Data{&events.UserPasswordSet{}}},
		{name: "set password of deleted user", given: deleted, when: user.SetPassword{}, err: user.ErrDeleted},
		{name: "set password of unknown user", when: user.SetPassword{}, err: commands.ErrNotFound},

		{name: "abandon empty stream", when: user.Abandon{Reason: "never created"}, then: []events.Data{&events.UserCreationAbandoned{Reason: "never created"}}},
		{name: "abandon created user", given: []events.Data{created}, when: user.Abandon{Reason: "x"}, err: commands.ErrAlreadyExists},
		{name: "abandon deleted user", given: deleted, when: user.Abandon{Reason: "x"}, err: commands.ErrAlreadyExists},
		{name: "abandon twice", given: []events.Data{&events.UserCreationAbandoned{}}, when: user.Abandon{Reason: "x"}, err: commands.ErrAlreadyExists},

		{name: "unknown command", given: []events.Data{created}, when: struct{}{}, err: errInvalid, fields: []string{"command"}},
		{name: "pointer to a command is unknown", given: []events.Data{created}, when: &user.Delete{}, err: errInvalid, fields: []string{"command"}},
	})
}

// foreignEvent is a type the user aggregate does not know.
type foreignEvent struct{ Name string }

func (foreignEvent) EventType() string { return "ForeignEvent" }

func TestEvolveIgnoresUnknownEvents(t *testing.T) {
	history := []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}}
	want := fold(user.Decider, userID, history)
	for _, noise := range []events.Data{&foreignEvent{Name: "Z"}, foreignEvent{Name: "Z"}, &events.ProjectWithdrawn{}, &events.EmailReleased{Email: "b@example.com"}, nil} {
		got := want
		got = user.Evolve(got, events.Envelope{StreamID: userID, Version: 3, Data: noise})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Evolve(%T) changed the state (-want +got):\n%s", noise, diff)
		}
	}
	// Interleaved with known events, unknown ones change nothing either.
	mixed := []events.Data{&foreignEvent{}, created, &foreignEvent{}, &events.UserUpdated{Name: "B", Roles: student}, &foreignEvent{}}
	if diff := cmp.Diff(want, fold(user.Decider, userID, mixed)); diff != "" {
		t.Errorf("fold with unknown events (-want +got):\n%s", diff)
	}
}

func TestFoldIsDeterministic(t *testing.T) {
	history := []events.Data{
		createdFull,
		&events.UserPasswordSet{},
		&events.UserUpdated{Name: "Ada King", Roles: []string{"supervisor", "student"}, Profile: events.Profile{Code: "S2"}},
		&events.UserDeleted{},
	}
	want := user.State{ID: userID, Email: "ada@example.com", Name: "Ada King", Roles: []string{"supervisor", "student"},
		Profile: events.Profile{Code: "S2"}, Created: true, Deleted: true}
	first := fold(user.Decider, userID, history)
	if diff := cmp.Diff(want, first); diff != "" {
		t.Fatalf("fold (-want +got):\n%s", diff)
	}
	for i := range 3 {
		if diff := cmp.Diff(first, fold(user.Decider, userID, history)); diff != "" {
			t.Fatalf("fold #%d differs from the first (-first +got):\n%s", i+2, diff)
		}
	}
	if first.Active() {
		t.Error("a deleted user is Active")
	}
	if !first.HasRole(events.RoleSupervisor) || first.HasRole(events.RoleCoordinator) {
		t.Errorf("HasRole wrong for roles %v", first.Roles)
	}
	abandoned := fold(user.Decider, userID, []events.Data{&events.UserCreationAbandoned{Reason: "x"}})
	if diff := cmp.Diff(user.State{ID: userID, Abandoned: true}, abandoned); diff != "" {
		t.Errorf("abandoned fold (-want +got):\n%s", diff)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Ada@Example.COM ": "ada@example.com",
		"ada@example.com":   "ada@example.com",
		"\tBOB@X.ORG\n":     "bob@x.org",
		"":                  "",
	} {
		if got := user.NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
