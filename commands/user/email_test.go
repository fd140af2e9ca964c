package user_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

const (
	address = "ada@example.com"
	owner   = "user-1"
	other   = "user-2"
)

func claimed(id string) *events.EmailClaimed { return &events.EmailClaimed{Email: address, UserID: id} }
func released(id string) *events.EmailReleased {
	return &events.EmailReleased{Email: address, UserID: id}
}

func TestDecideEmail(t *testing.T) {
	run(t, user.EmailDecider, user.EmailStreamID(address), []decideCase{
		{name: "claim a free address", when: user.Claim{UserID: owner}, then: []events.Data{claimed(owner)}},
		{name: "claim a free address naming a replacement", when: user.Claim{UserID: owner, Replace: other}, then: []events.Data{claimed(owner)}},
		{name: "claim a released address", given: []events.Data{claimed(other), released(other)}, when: user.Claim{UserID: owner}, then: []events.Data{claimed(owner)}},
		{name: "claim again by the owner is a no-op", given: []events.Data{claimed(owner)}, when: user.Claim{UserID: owner}},
		{name: "claim again by the owner naming a replacement is a no-op", given: []events.Data{claimed(owner)}, when: user.Claim{UserID: owner, Replace: owner}},
		{
			name: "replace the current owner releases and claims in one decision", given: []events.Data{claimed(other)},
			when: user.Claim{UserID: owner, Replace: other}, then: []events.Data{released(other), claimed(owner)},
		},
		{
			name: "replace after an earlier replacement", given: []events.Data{claimed("user-0"), released("user-0"), claimed(other)},
			when: user.Claim{UserID: owner, Replace: other}, then: []events.Data{released(other), claimed(owner)},
		},
		{name: "taken", given: []events.Data{claimed(other)}, when: user.Claim{UserID: owner}, err: user.ErrEmailTaken},
		{name: "taken, replacing someone who is not the owner", given: []events.Data{claimed(other)}, when: user.Claim{UserID: owner, Replace: "user-3"}, err: user.ErrEmailTaken},
		{name: "taken by the replacement of an earlier owner", given: []events.Data{claimed("user-0"), released("user-0"), claimed(other)},
			when: user.Claim{UserID: owner, Replace: "user-0"}, err: user.ErrEmailTaken},

		{name: "release by the owner", given: []events.Data{claimed(owner)}, when: user.Release{UserID: owner}, then: []events.Data{released(owner)}},
		{name: "release by another user is a no-op", given: []events.Data{claimed(owner)}, when: user.Release{UserID: other}},
		{name: "release of a free address is a no-op", when: user.Release{UserID: owner}},
		{name: "release without a user of a free address is a no-op", when: user.Release{}},
		{name: "release twice is a no-op", given: []events.Data{claimed(owner), released(owner)}, when: user.Release{UserID: owner}},

		{name: "unknown command", when: user.Delete{}, err: errInvalid, fields: []string{"command"}},
	})
}

func TestEvolveEmail(t *testing.T) {
	stream := user.EmailStreamID(address)
	if stream != "email:"+address {
		t.Fatalf("EmailStreamID = %q", stream)
	}
	if diff := cmp.Diff(user.EmailState{Email: address}, user.EmailDecider.Initial(stream)); diff != "" {
		t.Errorf("initial state (-want +got):\n%s", diff)
	}
	// The claim time is the time the claim was recorded (the second event).
	got := fold(user.EmailDecider, stream, []events.Data{claimed(other), released(other), claimed(owner)})
	want := user.EmailState{Email: address, Owner: owner, ClaimedAt: recordedAt.Add(2e9)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fold (-want +got):\n%s", diff)
	}
	got = fold(user.EmailDecider, stream, []events.Data{claimed(owner), &foreignEvent{}, released(owner), &events.UserDeleted{}})
	if got.Owner != "" || got.Email != address {
		t.Errorf("after release: %+v, want a free %s", got, address)
	}
	if diff := cmp.Diff(got, fold(user.EmailDecider, stream, []events.Data{claimed(owner), released(owner)})); diff != "" {
		t.Errorf("unknown events changed the fold (-want +got):\n%s", diff)
	}
}
