package projections

import (
	"strings"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// CollEmails is the read model of who holds each e-mail address.
const CollEmails = "emails"

// EmailDoc is who holds an address, under the id of the address's own
// stream ("email:" and the normalised address): finding a user by e-mail is
// then one lookup by _id, the one query every store answers from an index,
// and never a search of the users.
type EmailDoc struct {
	ID    string `bson:"_id"`
	Email string `bson:"email"`
	// UserID holds the address; empty once released (its user deleted).
	UserID  string `bson:"user_id"`
	Version int64  `bson:"version"`
}

// EmailID is the id of the document of an already normalised address.
func EmailID(email string) string { return "email:" + email }

// NewEmails is the projection of the e-mail streams into the emails collection.
func NewEmails(docs Documents, streams Streams) *Model[EmailDoc] {
	return &Model[EmailDoc]{
		ProjectionName: "emails", Collection: CollEmails, StreamType: events.StreamEmail,
		Fold: FoldEmail, Version: func(d EmailDoc) int64 { return d.Version },
		Docs: docs, Streams: streams, locks: keylock.New(),
	}
}

// FoldEmail applies one event to an address's document. A claim whose user
// was never created (or was deleted without the release being recorded)
// names a user the users read model does not show as active: a look-up
// checks the user too.
func FoldEmail(d EmailDoc, e events.Envelope) (EmailDoc, bool) {
	d.ID = e.StreamID
	if d.Email == "" {
		d.Email = strings.TrimPrefix(e.StreamID, "email:")
	}
	switch x := e.Data.(type) {
	case *events.EmailClaimed:
		d.UserID = x.UserID
	case *events.EmailReleased:
		if d.UserID == x.UserID {
			d.UserID = ""
		}
	}
	d.Version = e.Version
	return d, true
}
