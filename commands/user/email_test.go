package user_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/commands/decidertest"
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
	decidertest.Run(t, user.EmailDecider, user.EmailStreamID(address), []decidertest.Case[user.EmailCommand]{
		{Name: "claim a free address", When: user.Claim{UserID: owner}, Then: []events.Data{claimed(owner)}},
		{Name: "claim a free address naming a replacement", When: user.Claim{UserID: owner, Replace: other}, Then: []events.Data{claimed(owner)}},
		{Name: "claim a released address", Given: []events.Data{claimed(other), released(other)}, When: user.Claim{UserID: owner}, Then: []events.Data{claimed(owner)}},
		{Name: "claim again by the owner is a no-op", Given: []events.Data{claimed(owner)}, When: user.Claim{UserID: owner}},
		{Name: "claim again by the owner naming a replacement is a no-op", Given: []events.Data{claimed(owner)}, When: user.Claim{UserID: owner, Replace: owner}},
		{
			Name: "replace the current owner releases and claims in one decision", Given: []events.Data{claimed(other)},
			When: user.Claim{UserID: owner, Replace: other}, Then: []events.Data{released(other), claimed(owner)},
		},
		{
			Name: "replace after an earlier replacement", Given: []events.Data{claimed("user-0"), released("user-0"), claimed(other)},
			When: user.Claim{UserID: owner, Replace: other}, Then: []events.Data{released(other), claimed(owner)},
		},
		{Name: "taken", Given: []events.Data{claimed(other)}, When: user.Claim{UserID: owner}, Err: user.ErrEmailTaken},
		{Name: "taken, replacing someone who is not the owner", Given: []events.Data{claimed(other)}, When: user.Claim{UserID: owner, Replace: "user-3"}, Err: user.ErrEmailTaken},
		{Name: "taken by the replacement of an earlier owner", Given: []events.Data{claimed("user-0"), released("user-0"), claimed(other)},
			When: user.Claim{UserID: owner, Replace: "user-0"}, Err: user.ErrEmailTaken},

		{Name: "release by the owner", Given: []events.Data{claimed(owner)}, When: user.Release{UserID: owner}, Then: []events.Data{released(owner)}},
		{Name: "release by another user is a no-op", Given: []events.Data{claimed(owner)}, When: user.Release{UserID: other}},
		{Name: "release of a free address is a no-op", When: user.Release{UserID: owner}},
		{Name: "release without a user of a free address is a no-op", When: user.Release{}},
		{Name: "release twice is a no-op", Given: []events.Data{claimed(owner), released(owner)}, When: user.Release{UserID: owner}},
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
	got := decidertest.Fold(user.EmailDecider, stream, []events.Data{claimed(other), released(other), claimed(owner)})
	want := user.EmailState{Email: address, Owner: owner, ClaimedAt: recordedAt.Add(2e9)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fold (-want +got):\n%s", diff)
	}
	got = decidertest.Fold(user.EmailDecider, stream, []events.Data{claimed(owner), &foreignEvent{}, released(owner), &events.UserDeleted{}})
	if got.Owner != "" || got.Email != address {
		t.Errorf("after release: %+v, want a free %s", got, address)
	}
	if diff := cmp.Diff(got, decidertest.Fold(user.EmailDecider, stream, []events.Data{claimed(owner), released(owner)})); diff != "" {
		t.Errorf("unknown events changed the fold (-want +got):\n%s", diff)
	}
}
