package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Data is the payload of an event. Each event type names itself so that the
// registry, the store and the bus agree on one name per Go type.
type Data interface {
	EventType() string
}

// Actor records who caused an event (invariant "every change is attributed"). System actions (bootstrap,
// imports run from the CLI) use the SystemActor.
type Actor struct {
	UserID string   `json:"user_id" bson:"user_id"`
	Roles  []string `json:"roles,omitempty" bson:"roles,omitempty"`
	// Via says how the actor proved who they are when it was not by signing
	// in: ViaPasswordToken for whoever redeemed a set-password token.
	Via string `json:"via,omitempty" bson:"via,omitempty"`
}

// ViaPasswordToken marks the actor of a password set with a set-password
// token: the holder of the token, acting as the user it was issued for
// (which coordinator issued it is in the event).
const ViaPasswordToken = "set-password-token"

// SystemActor is the actor of changes made by the service itself, such as
// creating the bootstrap coordinator at start-up.
var SystemActor = Actor{UserID: "system"}

// Envelope is one stored event with everything needed to audit it and to
// rebuild any read model from it.
type Envelope struct {
	ID            string    `json:"id"`
	StreamID      string    `json:"stream_id"`
	StreamType    string    `json:"stream_type"`
	Version       int64     `json:"version"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schema_version"`
	Data          Data      `json:"-"`
	Actor         Actor     `json:"actor"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	RecordedAt    time.Time `json:"recorded_at"`
}

// Commit is the unit of appending and of publishing: the events that one command
// decided, stored all or nothing, with consecutive versions from FirstVersion.
// Publishing whole commits means a read model's version is always a commit
// boundary, so a consumer that finds a gap can read the missing commits by id.
type Commit struct {
	StreamID     string
	StreamType   string
	FirstVersion int64
	Events       []Envelope
	RecordedAt   time.Time
}

// ID is the commit's identity in the store: stream id and first version. Two
// writers that read the same version produce the same ID, so the store's
// uniqueness of IDs is the optimistic-concurrency check.
func (c Commit) ID() string { return CommitID(c.StreamID, c.FirstVersion) }

// LastVersion is the stream version after this commit.
func (c Commit) LastVersion() int64 { return c.FirstVersion + int64(len(c.Events)) - 1 }

// CommitID formats the store identity of the commit that starts at version first.
func CommitID(streamID string, first int64) string {
	return fmt.Sprintf("%s:%012d", streamID, first)
}

// ParseCommitID splits a commit id (CommitID) into its stream and first
// version.
func ParseCommitID(id string) (streamID string, first int64, ok bool) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseInt(id[i+1:], 10, 64)
	return id[:i], v, err == nil
}

// ReadOptions bounds a read of one stream. From must be a commit boundary (1,
// or the version after a commit); zero values mean "from the start" and "to
// the end". With UntilVersion or UntilTime, events after the bound are cut,
// even in the middle of a commit, which is how past states are rebuilt.
// Commits, when above zero, ends the read after that many commits (a store
// may return more).
type ReadOptions struct {
	From         int64
	UntilVersion int64
	UntilTime    time.Time
	Commits      int
}
