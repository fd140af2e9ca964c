package user_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

var (
	recordedAt = decidertest.RecordedAt
	errInvalid = decidertest.ErrInvalid
)

type decideCase = decidertest.Case[user.Command]

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
	decidertest.Run(t, user.Decider, userID, []decideCase{
		{Name: "valid", When: valid, Then: []events.Data{created}},
		{
			Name: "e-mail lower-cased and trimmed, name and profile trimmed",
			When: with(func(c *user.Create) {
				c.Email, c.Name = "  Ada@Example.COM\t", "  Ada Lovelace \n"
				c.Profile = events.Profile{Code: " S1 ", Programme: "MSc  "}
			}),
			Then: []events.Data{createdFull},
		},
		{Name: "e-mail of 254 characters", When: with(func(c *user.Create) { c.Email = email254 }),
			Then: []events.Data{&events.UserCreated{Email: email254, Name: "Ada Lovelace", Roles: student}}},
		{Name: "e-mail of 255 characters", When: with(func(c *user.Create) { c.Email = "a" + email254 }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail empty", When: with(func(c *user.Create) { c.Email = "   " }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail without @", When: with(func(c *user.Create) { c.Email = "ada.example.com" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail without dot in domain", When: with(func(c *user.Create) { c.Email = "ada@localhost" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with display name", When: with(func(c *user.Create) { c.Email = "Ada <ada@example.com>" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with two @", When: with(func(c *user.Create) { c.Email = "ada@@example.com" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with space", When: with(func(c *user.Create) { c.Email = "ada lovelace@example.com" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with quoted local part", When: with(func(c *user.Create) { c.Email = `"ada l"@example.com` }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with comment", When: with(func(c *user.Create) { c.Email = "ada@example.com (Ada)" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "e-mail with double dot", When: with(func(c *user.Create) { c.Email = "ada@example..com" }), Err: errInvalid, Fields: []string{"email"}},
		{Name: "name empty", When: with(func(c *user.Create) { c.Name = " \t " }), Err: errInvalid, Fields: []string{"name"}},
		{Name: "name of 200 runes", When: with(func(c *user.Create) { c.Name = long[2:] }),
			Then: []events.Data{&events.UserCreated{Email: "ada@example.com", Name: long[2:], Roles: student}}},
		{Name: "name of 201 runes", When: with(func(c *user.Create) { c.Name = long }), Err: errInvalid, Fields: []string{"name"}},
		{Name: "roles nil", When: with(func(c *user.Create) { c.Roles = nil }), Err: errInvalid, Fields: []string{"roles"}},
		{Name: "roles empty", When: with(func(c *user.Create) { c.Roles = []string{} }), Err: errInvalid, Fields: []string{"roles"}},
		{Name: "role unknown", When: with(func(c *user.Create) { c.Roles = []string{"student", "admin"} }), Err: errInvalid, Fields: []string{"roles"}},
		{Name: "role in another case", When: with(func(c *user.Create) { c.Roles = []string{"Student"} }), Err: errInvalid, Fields: []string{"roles"}},
		{
			Name: "roles de-duplicated, trimmed, in canonical order",
			When: with(func(c *user.Create) {
				c.Roles = []string{"student", " examiner", "coordinator", "student", "supervisor "}
			}),
			Then: []events.Data{&events.UserCreated{Email: "ada@example.com", Name: "Ada Lovelace",
				Roles: []string{"coordinator", "supervisor", "examiner", "student"}}},
		},
		{Name: "profile field too long", When: with(func(c *user.Create) { c.Profile.Department = long }), Err: errInvalid, Fields: []string{"profile.department"}},
		{
			Name: "every problem reported at once",
			When: user.Create{Email: "nope", Name: "", Roles: nil, Profile: events.Profile{Code: long}},
			Err:  errInvalid, Fields: []string{"email", "name", "roles", "profile.code"},
		},
		{Name: "with password", When: with(func(c *user.Create) { c.WithPassword = true }),
			Then: []events.Data{created, &events.UserPasswordSet{}}},
		{Name: "already exists", Given: []events.Data{created}, When: valid, Err: commands.ErrAlreadyExists},
		{Name: "deleted user cannot be created again", Given: []events.Data{created, &events.UserDeleted{}}, When: valid, Err: commands.ErrAlreadyExists},
		{Name: "abandoned stream", Given: []events.Data{&events.UserCreationAbandoned{Reason: "late"}}, When: valid, Err: commands.ErrAlreadyExists},
		{Name: "already exists wins over invalid input", Given: []events.Data{created}, When: user.Create{}, Err: commands.ErrAlreadyExists},
	})
}

func TestDecideUpdate(t *testing.T) {
	long := strings.Repeat("x", 201)
	decidertest.Run(t, user.Decider, userID, []decideCase{
		{
			Name: "name", Given: []events.Data{createdFull}, When: user.Update{Name: ptr("  Ada King ")},
			Then: []events.Data{&events.UserUpdated{Name: "Ada King", Roles: student, Profile: createdFull.Profile}},
		},
		{
			Name: "roles in canonical order", Given: []events.Data{createdFull},
			When: user.Update{Roles: []string{"student", "supervisor", "supervisor"}},
			Then: []events.Data{&events.UserUpdated{Name: "Ada Lovelace", Roles: []string{"supervisor", "student"}, Profile: createdFull.Profile}},
		},
		{
			Name: "profile replaced and trimmed", Given: []events.Data{createdFull},
			When: user.Update{Profile: &events.Profile{Department: " Computing "}},
			Then: []events.Data{&events.UserUpdated{Name: "Ada Lovelace", Roles: student, Profile: events.Profile{Department: "Computing"}}},
		},
		{
			Name: "every field", Given: []events.Data{created},
			When: user.Update{Name: ptr("B"), Roles: []string{"examiner"}, Profile: &events.Profile{Code: "E1"}},
			Then: []events.Data{&events.UserUpdated{Name: "B", Roles: []string{"examiner"}, Profile: events.Profile{Code: "E1"}}},
		},
		{
			Name: "after an earlier update", Given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: []string{"examiner"}}},
			When: user.Update{Name: ptr("C")},
			Then: []events.Data{&events.UserUpdated{Name: "C", Roles: []string{"examiner"}}},
		},
		{Name: "nothing set is a no-op", Given: []events.Data{createdFull}, When: user.Update{}},
		{Name: "same values are a no-op", Given: []events.Data{createdFull},
			When: user.Update{Name: ptr(" Ada Lovelace "), Roles: []string{"student", "student"}, Profile: &events.Profile{Code: "S1 ", Programme: "MSc"}}},
		{Name: "same as the last update is a no-op", Given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}},
			When: user.Update{Name: ptr("B")}},
		{
			Name: "name only may change the name", Given: []events.Data{created}, When: user.Update{Name: ptr("Ada"), NameOnly: true},
			Then: []events.Data{&events.UserUpdated{Name: "Ada", Roles: student}},
		},
		{Name: "name only refuses roles", Given: []events.Data{created}, When: user.Update{Name: ptr("Ada"), Roles: []string{"coordinator"}, NameOnly: true}, Err: commands.ErrForbidden},
		{Name: "name only refuses the same roles", Given: []events.Data{created}, When: user.Update{Roles: student, NameOnly: true}, Err: commands.ErrForbidden},
		{Name: "name only refuses profile", Given: []events.Data{created}, When: user.Update{Profile: &events.Profile{}, NameOnly: true}, Err: commands.ErrForbidden},
		{Name: "name empty", Given: []events.Data{created}, When: user.Update{Name: ptr(" ")}, Err: errInvalid, Fields: []string{"name"}},
		{Name: "name too long", Given: []events.Data{created}, When: user.Update{Name: ptr(long)}, Err: errInvalid, Fields: []string{"name"}},
		{Name: "roles empty", Given: []events.Data{created}, When: user.Update{Roles: []string{}}, Err: errInvalid, Fields: []string{"roles"}},
		{Name: "role unknown", Given: []events.Data{created}, When: user.Update{Roles: []string{"root"}}, Err: errInvalid, Fields: []string{"roles"}},
		{Name: "profile too long", Given: []events.Data{created}, When: user.Update{Profile: &events.Profile{Position: long}}, Err: errInvalid, Fields: []string{"profile.position"}},
		{Name: "deleted user", Given: []events.Data{created, &events.UserDeleted{}}, When: user.Update{Name: ptr("B")}, Err: user.ErrDeleted},
		{Name: "unknown user", When: user.Update{Name: ptr("B")}, Err: commands.ErrNotFound},
		{Name: "abandoned stream", Given: []events.Data{&events.UserCreationAbandoned{}}, When: user.Update{Name: ptr("B")}, Err: commands.ErrNotFound},
	})
}

func TestDecideDeleteSetPasswordAbandon(t *testing.T) {
	deleted := []events.Data{created, &events.UserDeleted{}}
	decidertest.Run(t, user.Decider, userID, []decideCase{
		{Name: "delete", Given: []events.Data{created}, When: user.Delete{}, Then: []events.Data{&events.UserDeleted{}}},
		{Name: "delete after an update", Given: []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}}, When: user.Delete{}, Then: []events.Data{&events.UserDeleted{}}},
		{Name: "delete twice", Given: deleted, When: user.Delete{}, Err: user.ErrDeleted},
		{Name: "delete unknown user", When: user.Delete{}, Err: commands.ErrNotFound},
		{Name: "delete abandoned stream", Given: []events.Data{&events.UserCreationAbandoned{}}, When: user.Delete{}, Err: commands.ErrNotFound},

		{Name: "set password", Given: []events.Data{created}, When: user.SetPassword{}, Then: []events.Data{&events.UserPasswordSet{}}},
		{Name: "set password again", Given: []events.Data{created, &events.UserPasswordSet{}}, When: user.SetPassword{}, Then: []events.Data{&events.UserPasswordSet{}}},
		{Name: "set password of deleted user", Given: deleted, When: user.SetPassword{}, Err: user.ErrDeleted},
		{Name: "set password of unknown user", When: user.SetPassword{}, Err: commands.ErrNotFound},
		{Name: "set password with a token", Given: []events.Data{created, &events.UserPasswordTokenIssued{ExpiresAt: "2026-12-04T10:00:00Z"}},
			When: user.SetPassword{TokenVersion: 2}, Then: []events.Data{&events.UserPasswordSet{TokenVersion: 2}}},

		{Name: "issue a set-password token", Given: []events.Data{created}, When: user.IssuePasswordToken{ExpiresAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.FixedZone("", 3600))},
			Then: []events.Data{&events.UserPasswordTokenIssued{ExpiresAt: "2026-12-04T09:00:00Z"}}},
		{Name: "issue a token for a deleted user", Given: deleted, When: user.IssuePasswordToken{}, Err: user.ErrDeleted},
		{Name: "issue a token for an unknown user", When: user.IssuePasswordToken{}, Err: commands.ErrNotFound},

		{Name: "abandon empty stream", When: user.Abandon{Reason: "never created"}, Then: []events.Data{&events.UserCreationAbandoned{Reason: "never created"}}},
		{Name: "abandon created user", Given: []events.Data{created}, When: user.Abandon{Reason: "x"}, Err: commands.ErrAlreadyExists},
		{Name: "abandon deleted user", Given: deleted, When: user.Abandon{Reason: "x"}, Err: commands.ErrAlreadyExists},
		{Name: "abandon twice", Given: []events.Data{&events.UserCreationAbandoned{}}, When: user.Abandon{Reason: "x"}, Err: commands.ErrAlreadyExists},
	})
}

// foreignEvent is a type the user aggregate does not know.
type foreignEvent struct{ Name string }

func (foreignEvent) EventType() string { return "ForeignEvent" }

func TestEvolveIgnoresUnknownEvents(t *testing.T) {
	history := []events.Data{created, &events.UserUpdated{Name: "B", Roles: student}}
	want := decidertest.Fold(user.Decider, userID, history)
	for _, noise := range []events.Data{&foreignEvent{Name: "Z"}, foreignEvent{Name: "Z"}, &events.ProjectWithdrawn{}, &events.EmailReleased{Email: "b@example.com"}, nil} {
		got := want
		got = user.Evolve(got, events.Envelope{StreamID: userID, Version: 3, Data: noise})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Evolve(%T) changed the state (-want +got):\n%s", noise, diff)
		}
	}
	// Interleaved with known events, unknown ones change nothing either
	// (the known ones are recorded at other times there: times aside).
	mixed := []events.Data{&foreignEvent{}, created, &foreignEvent{}, &events.UserUpdated{Name: "B", Roles: student}, &foreignEvent{}}
	if diff := cmp.Diff(want, decidertest.Fold(user.Decider, userID, mixed), cmpopts.IgnoreFields(user.State{}, "CreatedAt", "UpdatedAt")); diff != "" {
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
		Profile: events.Profile{Code: "S2"}, Created: true, Deleted: true,
		CreatedAt: decidertest.RecordedAt, UpdatedAt: decidertest.RecordedAt.Add(3 * time.Second)}
	first := decidertest.Fold(user.Decider, userID, history)
	if diff := cmp.Diff(want, first); diff != "" {
		t.Fatalf("fold (-want +got):\n%s", diff)
	}
	for i := range 3 {
		if diff := cmp.Diff(first, decidertest.Fold(user.Decider, userID, history)); diff != "" {
			t.Fatalf("fold #%d differs from the first (-first +got):\n%s", i+2, diff)
		}
	}
	if first.Active() {
		t.Error("a deleted user is Active")
	}
	if !first.HasRole(events.RoleSupervisor) || first.HasRole(events.RoleCoordinator) {
		t.Errorf("HasRole wrong for roles %v", first.Roles)
	}
	abandoned := decidertest.Fold(user.Decider, userID, []events.Data{&events.UserCreationAbandoned{Reason: "x"}})
	if diff := cmp.Diff(user.State{ID: userID, Abandoned: true, UpdatedAt: decidertest.RecordedAt}, abandoned); diff != "" {
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
