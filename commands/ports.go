package commands

import (
	"context"
	"errors"

	"github.com/capstone-pms/capstone/events"
)

// ErrConcurrentAppend is returned by an EventStore when a commit with the same
// stream and first version already exists: another writer got there first.
var ErrConcurrentAppend = errors.New("concurrent append to the stream")

// ErrNoSnapshot is returned when a stream has no snapshot yet.
var ErrNoSnapshot = errors.New("no snapshot")

// EventStore is the durable, append-only log of commits, one stream per aggregate.
type EventStore interface {
	// Append stores the commit all or nothing, or fails with ErrConcurrentAppend.
	Append(ctx context.Context, c events.Commit) error
	// ReadStream returns the stream's commits in version order. With UntilVersion
	// or UntilTime, events after the bound are cut (a commit may be cut mid-way).
	ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error)
}

// Snapshot is an aggregate's folded state at a commit boundary. It is a cache:
// it may lag behind the stream (the loader folds the rest), never run ahead.
type Snapshot struct {
	StreamID   string
	StreamType string
	// Schema names the state's shape; a snapshot of another shape is ignored.
	Schema  string
	Version int64
	State   []byte
}

// SnapshotStore keeps the latest snapshot of each stream.
type SnapshotStore interface {
	LoadSnapshot(ctx context.Context, streamID string) (Snapshot, error)
	SaveSnapshot(ctx context.Context, s Snapshot) error
}

// Publisher hands a stored commit to the bus. A failure is not the command's
// failure: the commit is durable, and the relay publishes what was missed.
type Publisher interface {
	Publish(ctx context.Context, c events.Commit) error
}

// Outbox makes publishing survive a crash. Before a commit is appended,
// Reserve durably records that it may be; after the append the reservation is
// told the outcome, and a stored commit is published. A reservation whose
// process died is found by the relay, which publishes the commit if it was
// stored. The event store is the outbox: nothing but commit ids is copied.
type Outbox interface {
	Reserve(ctx context.Context, commitID string) (Reservation, error)
}

// Reservation is one commit's place in the outbox.
type Reservation interface {
	// Stored hands over the appended commit for publishing.
	Stored(c events.Commit)
	// Abandoned says the append certainly did not happen (a lost race).
	Abandoned()
	// Uncertain says the append failed in a way that may still have stored
	// the commit (a timeout, a lost connection): whoever settles the
	// reservation must look in the store first.
	Uncertain()
}

// Credentials keeps password hashes outside the event store, so no event,
// history or read model ever carries one.
type Credentials interface {
	SetPasswordHash(ctx context.Context, userID, hash string) error
	// ReplacePasswordHash stores hash only while old is the user's hash
	// ("": while the user has none), and reports whether it did: false when
	// another write replaced old first (a password change that proved old
	// races another; a user sets their own while a file gives them one). It is one
	// filtered update: atomic on MongoDB, whereas the embedded store finds
	// the document and then updates it, so its caller also takes turns in
	// its process.
	ReplacePasswordHash(ctx context.Context, userID, old, hash string) (bool, error)
	// PasswordHash returns ErrNoPassword when the user has none.
	PasswordHash(ctx context.Context, userID string) (string, error)
}

// ErrNoPassword is returned for a user who has no password yet.
var ErrNoPassword = errors.New("no password set")

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Compare(hash, password string) bool
	// CompareDummy takes as long as Compare, so unknown e-mails cannot be told
	// apart from wrong passwords by timing.
	CompareDummy(password string)
}
