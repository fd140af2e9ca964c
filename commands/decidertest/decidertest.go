// Package decidertest runs given/when/then tables against deciders: fold
// the history, decide the command, compare the events and the refusal. It
// is for tests only, as is Events, an event store in memory.
package decidertest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// RecordedAt is the time the first folded event was recorded at; each next
// one a second later.
var RecordedAt = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// ErrInvalid matches any validation refusal (commands.Error.Is compares codes).
var ErrInvalid = commands.Invalid()

// Case is one given/when/then row: the history is the fixture. C is the
// aggregate's command type, so a row cannot name another's command.
type Case[C any] struct {
	Name  string
	Given []events.Data
	When  C
	Then  []events.Data
	Err   error
	// Fields are the invalid fields expected when Err is ErrInvalid.
	Fields []string
}

// Envelopes wraps a history in envelopes with versions 1..n, as the store would.
func Envelopes(streamID, streamType string, given []events.Data) []events.Envelope {
	out := make([]events.Envelope, len(given))
	for i, d := range given {
		out[i] = events.Envelope{
			ID: streamID + "-" + string(rune('a'+i)), StreamID: streamID, StreamType: streamType,
			Version: int64(i + 1), Type: d.EventType(), SchemaVersion: 1, Data: d,
			Actor: events.SystemActor, RecordedAt: RecordedAt.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// Fold runs a history through a decider's Evolve from its initial state.
func Fold[S, C any](d commands.Decider[S, C], streamID string, given []events.Data) S {
	s := d.Initial(streamID)
	for _, e := range Envelopes(streamID, d.StreamType, given) {
		s = d.Evolve(s, e)
	}
	return s
}

// Run checks each case: fold Given, decide When, compare with Then and Err.
func Run[S, C any](t *testing.T, d commands.Decider[S, C], streamID string, cases []Case[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			got, err := d.Decide(Fold(d, streamID, tc.Given), tc.When)
			CheckErr(t, err, tc.Err, tc.Fields)
			if diff := cmp.Diff(tc.Then, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// CheckErr asserts err matches want by errors.Is. For a refusal other than a
// validation it also requires the same message and kind, so two sentinels
// that share a code (ErrDeleted and ErrNotFound) are told apart. For a
// validation it requires exactly the listed fields.
func CheckErr(t *testing.T, err, want error, fields []string) {
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
	if w.Code != ErrInvalid.Code {
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
