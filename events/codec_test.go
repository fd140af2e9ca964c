package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/events"
)

// commitOf builds a commit of the given events on one user stream, with every
// envelope field set.
func commitOf(data ...events.Data) events.Commit {
	at := time.Date(2025, 3, 4, 5, 6, 7, 123000000, time.UTC)
	c := events.Commit{StreamID: "user-1", StreamType: events.StreamUser, FirstVersion: 4, RecordedAt: at}
	for i, d := range data {
		c.Events = append(c.Events, events.Envelope{
			ID: "evt-" + d.EventType(), StreamID: c.StreamID, StreamType: c.StreamType,
			Version: c.FirstVersion + int64(i), Type: d.EventType(), SchemaVersion: 1, Data: d,
			Actor:         events.Actor{UserID: "coord-1", Roles: []string{events.RoleCoordinator}},
			CorrelationID: "req-42", RecordedAt: at,
		})
	}
	return c
}

func TestCommitRoundTrip(t *testing.T) {
	in := commitOf(
		&events.UserCreated{Email: "ada@example.com", Name: "Ada", Roles: []string{"student"}, Profile: events.Profile{Code: "S1"}},
		&events.UserPasswordSet{},
	)
	raw, err := events.MarshalCommit(in)
	if err != nil {
		t.Fatalf("MarshalCommit: %v", err)
	}
	out, err := events.UnmarshalCommit(raw, events.NewRegistry(events.All()...))
	if err != nil {
		t.Fatalf("UnmarshalCommit: %v", err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if out.ID() != in.ID() || out.LastVersion() != 5 {
		t.Errorf("ID, LastVersion = %s, %d; want %s, 5", out.ID(), out.LastVersion(), in.ID())
	}
}

// TestCommitWireFormat pins the JSON names consumers on the bus rely on.
func TestCommitWireFormat(t *testing.T) {
	raw, err := events.MarshalCommit(commitOf(&events.EmailClaimed{Email: "ada@example.com", UserID: "user-1"}))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		StreamID     string `json:"stream_id"`
		StreamType   string `json:"stream_type"`
		FirstVersion int64  `json:"first_version"`
		Events       []struct {
			Type          string          `json:"type"`
			SchemaVersion int             `json:"schema_version"`
			Version       int64           `json:"version"`
			Data          json.RawMessage `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	if w.StreamID != "user-1" || w.StreamType != "user" || w.FirstVersion != 4 || len(w.Events) != 1 {
		t.Fatalf("wire commit = %s", raw)
	}
	e := w.Events[0]
	if e.Type != "EmailClaimed" || e.SchemaVersion != 1 || e.Version != 4 {
		t.Errorf("wire event = %s", raw)
	}
	if got, want := string(e.Data), `{"email":"ada@example.com","user_id":"user-1"}`; got != want {
		t.Errorf("data = %s, want %s", got, want)
	}
}

// secretEvent is a test-only type that the product registry does not know.
type secretEvent struct {
	Note string `json:"note"`
}

func (secretEvent) EventType() string { return "TestSecretEvent" }

func TestUnmarshalCommitUnknownTypeNamesIt(t *testing.T) {
	raw, err := events.MarshalCommit(commitOf(&events.UserPasswordSet{}, &secretEvent{Note: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = events.UnmarshalCommit(raw, events.NewRegistry(events.All()...))
	if !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("err = %v, want ErrUnknownType", err)
	}
	if !strings.Contains(err.Error(), "TestSecretEvent") {
		t.Errorf("error %q does not name the type", err)
	}
}

func TestUnmarshalCommitNewerSchemaNamesIt(t *testing.T) {
	c := commitOf(&events.UserDeleted{})
	c.Events[0].SchemaVersion = 7
	raw, err := events.MarshalCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = events.UnmarshalCommit(raw, events.NewRegistry(events.All()...))
	if !errors.Is(err, events.ErrNewerSchema) || !strings.Contains(err.Error(), "UserDeleted") {
		t.Errorf("err = %v, want ErrNewerSchema naming UserDeleted", err)
	}
}

func TestUnmarshalCommitUpcasts(t *testing.T) {
	raw := `{"stream_id":"s","stream_type":"test","first_version":1,"recorded_at":"2025-03-04T05:06:07Z",
		"events":[{"id":"e1","stream_id":"s","stream_type":"test","version":1,"type":"TestRenamed","schema_version":1,
		"actor":{"user_id":"system"},"recorded_at":"2025-03-04T05:06:07Z","data":{"name":"Ada"}}]}`
	c, err := events.UnmarshalCommit([]byte(raw), events.NewRegistry(renamedRegistration()))
	if err != nil {
		t.Fatalf("UnmarshalCommit: %v", err)
	}
	if diff := cmp.Diff(events.Data(&renamed{FullName: "Ada", Source: "v1"}), c.Events[0].Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	// The envelope keeps the schema version it was stored with.
	if c.Events[0].SchemaVersion != 1 || c.Events[0].Actor.UserID != "system" {
		t.Errorf("envelope = %+v", c.Events[0])
	}
}

func TestUnmarshalCommitRefusesBadInput(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	for name, raw := range map[string]string{
		"not JSON":            `{"stream_id":`,
		"no events":           `{"stream_id":"s","stream_type":"user","first_version":1,"events":[]}`,
		"events missing":      `{"stream_id":"s","stream_type":"user","first_version":1}`,
		"data of wrong shape": `{"stream_id":"s","first_version":1,"events":[{"type":"UserCreated","schema_version":1,"data":{"roles":"student"}}]}`,
	} {
		if c, err := events.UnmarshalCommit([]byte(raw), reg); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, c)
		}
	}
}

func TestMarshalCommitRefusesUnencodableData(t *testing.T) {
	_, err := events.MarshalCommit(commitOf(&unencodable{Ch: make(chan int)}))
	if err == nil {
		t.Fatal("MarshalCommit encoded a channel")
	}
	if !strings.Contains(err.Error(), "user-1") {
		t.Errorf("error %q does not name the stream", err)
	}
}

type unencodable struct{ Ch chan int }

func (unencodable) EventType() string { return "TestUnencodable" }

func TestCommitID(t *testing.T) {
	c := events.Commit{StreamID: "user-1", FirstVersion: 12, Events: make([]events.Envelope, 3)}
	if got, want := c.ID(), "user-1:000000000012"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
	if c.LastVersion() != 14 {
		t.Errorf("LastVersion = %d, want 14", c.LastVersion())
	}
	// Zero-padding keeps IDs of one stream in version order when sorted as strings.
	if !(events.CommitID("s", 9) < events.CommitID("s", 10)) {
		t.Error("commit IDs do not sort by version")
	}
}
