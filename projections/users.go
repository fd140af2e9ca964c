package projections

import (
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// Read-model collections.
const (
	CollUsers    = "users"
	CollProjects = "projects"
)

// Statuses of a user document.
const (
	UserActive  = "active"
	UserDeleted = "deleted"
)

// UserDoc is a user as the query side serves it.
type UserDoc struct {
	ID        string         `bson:"_id"`
	Email     string         `bson:"email"`
	Name      string         `bson:"name"`
	Roles     []string       `bson:"roles"`
	Profile   events.Profile `bson:"profile"`
	Status    string         `bson:"status"`
	Version   int64          `bson:"version"`
	CreatedAt time.Time      `bson:"created_at"`
	UpdatedAt time.Time      `bson:"updated_at"`
}

// NewUsers is the projection of user streams into the users collection.
func NewUsers(docs Documents, streams Streams) *Model[UserDoc] {
	return &Model[UserDoc]{
		ProjectionName: "users", Collection: CollUsers, StreamType: events.StreamUser,
		Fold: FoldUser, Version: func(d UserDoc) int64 { return d.Version },
		Docs: docs, Streams: streams, locks: keylock.New(),
	}
}

// FoldUser applies one event to a user document. The query side uses it
// too, to show a version the read model has not reached yet.
func FoldUser(d UserDoc, e events.Envelope) (UserDoc, bool) {
	switch x := e.Data.(type) {
	case *events.UserCreated:
		d = UserDoc{ID: e.StreamID, Email: x.Email, Name: x.Name, Roles: x.Roles, Profile: x.Profile,
			Status: UserActive, CreatedAt: e.RecordedAt}
	case *events.UserUpdated:
		d.Name, d.Roles, d.Profile = x.Name, x.Roles, x.Profile
	case *events.UserDeleted:
		d.Status = UserDeleted
	}
	d.Version, d.UpdatedAt = e.Version, e.RecordedAt
	return d, d.Status != ""
}
