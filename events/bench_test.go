package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/events"
)

// BenchmarkCodec encodes and decodes a two-event commit as the bus carries
// it, next to encoding/json of the same payload as plain maps (the raw
// equivalent: no registry, no typed decoding).
func BenchmarkCodec(b *testing.B) {
	reg := events.NewRegistry(events.All()...)
	now := time.Now().UTC()
	c := events.Commit{StreamID: "p1", StreamType: events.StreamProject, FirstVersion: 1, RecordedAt: now, Events: []events.Envelope{
		{ID: "e1", StreamID: "p1", StreamType: events.StreamProject, Version: 1, Type: "ProjectCreated", SchemaVersion: 1,
			Data:  &events.ProjectCreated{OwnerID: "u1", Title: "A title", Description: "A description of a project", Aim: "aim", Rationale: "why"},
			Actor: events.Actor{UserID: "u1", Roles: []string{"student"}}, CorrelationID: "r1", RecordedAt: now},
		{ID: "e2", StreamID: "p1", StreamType: events.StreamProject, Version: 2, Type: "ProposalSubmitted", SchemaVersion: 1,
			Data: &events.ProposalSubmitted{SupervisorID: "s1"}, Actor: events.Actor{UserID: "u1"}, RecordedAt: now},
	}}
	raw, err := events.MarshalCommit(c)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			out, err := events.MarshalCommit(c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := events.UnmarshalCommit(out, reg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-json", func(b *testing.B) {
		var m map[string]any
		for b.Loop() {
			if err := json.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
