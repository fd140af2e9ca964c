package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// Collection names of the write side.
const (
	CollEvents      = "events"
	CollSnapshots   = "snapshots"
	CollCredentials = "credentials"
)

// MaxCommitEvents bounds a commit: a command never needs more, and the store
// keeps documents well under MongoDB's 16 MiB.
const MaxCommitEvents = 100

// EventStore is the event store and snapshot store on MongoDB.
type EventStore struct {
	events    *mongo.Collection
	snapshots *mongo.Collection
	reg       *events.Registry
	appender  *appender
}

var (
	_ commands.EventStore    = (*EventStore)(nil)
	_ commands.SnapshotStore = (*EventStore)(nil)
)

// NewEventStore returns the event store in db.
func NewEventStore(db *mongo.Database, reg *events.Registry) *EventStore {
	ev := db.Collection(CollEvents)
	return &EventStore{events: ev, snapshots: db.Collection(CollSnapshots), reg: reg, appender: newAppender(ev)}
}

type commitDoc struct {
	ID           string     `bson:"_id"`
	StreamID     string     `bson:"stream_id"`
	StreamType   string     `bson:"stream_type"`
	FirstVersion int64      `bson:"first_version"`
	LastVersion  int64      `bson:"last_version"`
	RecordedAt   time.Time  `bson:"recorded_at"`
	Events       []eventDoc `bson:"events"`
}

type eventDoc struct {
	ID            string       `bson:"id"`
	Version       int64        `bson:"version"`
	Type          string       `bson:"type"`
	SchemaVersion int          `bson:"schema_version"`
	Data          bson.Raw     `bson:"data"`
	Actor         events.Actor `bson:"actor"`
	CorrelationID string       `bson:"correlation_id,omitempty"`
}

// Append stores the commit as one document; a commit with the same id means
// another writer appended at that version first. Concurrent appends share
// one insert (see appender).
func (s *EventStore) Append(ctx context.Context, c events.Commit) error {
	doc, err := toCommitDoc(c)
	if err != nil {
		return err
	}
	return s.appender.append(ctx, &doc)
}

// ReadStream walks the stream commit by commit, each an _id lookup.
func (s *EventStore) ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error) {
	next := max(opts.From, 1)
	var out []events.Commit
	for {
		var doc commitDoc
		err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: events.CommitID(streamID, next)}}).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		c, err := s.fromCommitDoc(doc)
		if err != nil {
			return nil, err
		}
		if c, done := cut(c, opts); len(c.Events) > 0 {
			out = append(out, c)
			if done || len(out) == opts.Commits {
				return out, nil
			}
		} else {
			return out, nil
		}
		next = doc.LastVersion + 1
	}
}

// cut drops the events after the read's bounds and reports whether the bound was reached.
func cut(c events.Commit, opts events.ReadOptions) (events.Commit, bool) {
	n := 0
	for _, e := range c.Events {
		if (opts.UntilVersion > 0 && e.Version > opts.UntilVersion) || (!opts.UntilTime.IsZero() && e.RecordedAt.After(opts.UntilTime)) {
			break
		}
		n++
	}
	done := n < len(c.Events) || (opts.UntilVersion > 0 && c.LastVersion() >= opts.UntilVersion)
	c.Events = c.Events[:n]
	return c, done
}

func toCommitDoc(c events.Commit) (commitDoc, error) {
	if len(c.Events) == 0 || len(c.Events) > MaxCommitEvents {
		return commitDoc{}, fmt.Errorf("commit %s has %d events (1..%d allowed)", c.ID(), len(c.Events), MaxCommitEvents)
	}
	if c.FirstVersion < 1 {
		return commitDoc{}, fmt.Errorf("commit %s starts at version %d (versions start at 1)", c.ID(), c.FirstVersion)
	}
	doc := commitDoc{ID: c.ID(), StreamID: c.StreamID, StreamType: c.StreamType, FirstVersion: c.FirstVersion,
		LastVersion: c.LastVersion(), RecordedAt: c.RecordedAt, Events: make([]eventDoc, len(c.Events))}
	for i, e := range c.Events {
		if e.Version != c.FirstVersion+int64(i) || e.StreamID != c.StreamID {
			return commitDoc{}, fmt.Errorf("commit %s: event %d has stream %s version %d", c.ID(), i, e.StreamID, e.Version)
		}
		if e.Data == nil || e.Data.EventType() != e.Type {
			return commitDoc{}, fmt.Errorf("commit %s: event %d is labelled %q but carries %T", c.ID(), i, e.Type, e.Data)
		}
		data, err := bson.Marshal(e.Data)
		if err != nil {
			return commitDoc{}, fmt.Errorf("encode %s: %w", e.Type, err)
		}
		doc.Events[i] = eventDoc{ID: e.ID, Version: e.Version, Type: e.Type, SchemaVersion: e.SchemaVersion,
			Data: data, Actor: e.Actor, CorrelationID: e.CorrelationID}
	}
	return doc, nil
}

func (s *EventStore) fromCommitDoc(doc commitDoc) (events.Commit, error) {
	c := events.Commit{StreamID: doc.StreamID, StreamType: doc.StreamType, FirstVersion: doc.FirstVersion,
		RecordedAt: doc.RecordedAt.UTC(), Events: make([]events.Envelope, len(doc.Events))}
	for i, e := range doc.Events {
		data, err := s.reg.Decode(e.Type, e.SchemaVersion, func(v any) error { return bson.Unmarshal(e.Data, v) })
		if err != nil {
			return events.Commit{}, fmt.Errorf("commit %s: %w", doc.ID, err)
		}
		c.Events[i] = events.Envelope{ID: e.ID, StreamID: doc.StreamID, StreamType: doc.StreamType, Version: e.Version,
			Type: e.Type, SchemaVersion: e.SchemaVersion, Data: data, Actor: e.Actor, CorrelationID: e.CorrelationID,
			RecordedAt: c.RecordedAt}
	}
	return c, nil
}

type snapshotDoc struct {
	ID         string    `bson:"_id"`
	StreamType string    `bson:"stream_type"`
	Schema     string    `bson:"schema"`
	Version    int64     `bson:"version"`
	State      string    `bson:"state"`
	SavedAt    time.Time `bson:"saved_at"`
}

// LoadSnapshot returns the stream's latest snapshot, or commands.ErrNoSnapshot.
func (s *EventStore) LoadSnapshot(ctx context.Context, streamID string) (commands.Snapshot, error) {
	var doc snapshotDoc
	err := s.snapshots.FindOne(ctx, bson.D{{Key: "_id", Value: streamID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return commands.Snapshot{}, commands.ErrNoSnapshot
	}
	if err != nil {
		return commands.Snapshot{}, err
	}
	return commands.Snapshot{StreamID: doc.ID, StreamType: doc.StreamType, Schema: doc.Schema, Version: doc.Version, State: []byte(doc.State)}, nil
}

// SaveSnapshot replaces the stream's snapshot. Writers racing may leave an
// older one behind; that only costs the loader one more commit to fold.
func (s *EventStore) SaveSnapshot(ctx context.Context, snap commands.Snapshot) error {
	doc := snapshotDoc{ID: snap.StreamID, StreamType: snap.StreamType, Schema: snap.Schema, Version: snap.Version,
		State: string(snap.State), SavedAt: time.Now().UTC()}
	return upsert(ctx, s.snapshots, snap.StreamID, doc)
}

// LoadCommit reads one commit by its id (the relay's lookup).
func (s *EventStore) LoadCommit(ctx context.Context, commitID string) (events.Commit, bool, error) {
	var doc commitDoc
	err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: commitID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return events.Commit{}, false, nil
	}
	if err != nil {
		return events.Commit{}, false, err
	}
	c, err := s.fromCommitDoc(doc)
	return c, err == nil, err
}

// Scan hands every commit recorded at or after since to fn, in the order
// the store keeps them: the order they were stored in, on the embedded
// store and on MongoDB's WiredTiger alike, which keeps each stream's
// commits in version order (a commit is appended only once the one before
// it is stored). It is not sorted: a sort makes the store read and hold
// every commit before it hands over the first (the embedded store sorts in
// memory), where unsorted the scan streams; a projection that meets a
// stream's commits out of order all the same fills the gap from the
// stream. It reads the whole events collection: it is for rebuilding read
// models, never for a request.
func (s *EventStore) Scan(ctx context.Context, since time.Time, fn func(events.Commit) error) (int, error) {
	filter := bson.D{}
	if !since.IsZero() {
		filter = bson.D{{Key: "recorded_at", Value: bson.D{{Key: "$gte", Value: since}}}}
	}
	cur, err := s.events.Find(ctx, filter)
	if err != nil {
		return 0, err
	}
	defer cur.Close(ctx)
	n := 0
	for cur.Next(ctx) {
		var doc commitDoc
		if err := cur.Decode(&doc); err != nil {
			return n, err
		}
		c, err := s.fromCommitDoc(doc)
		if err != nil {
			return n, err
		}
		if err := fn(c); err != nil {
			return n, err
		}
		n++
	}
	return n, cur.Err()
}

// Count is the number of commits recorded since a time (all of them for the
// zero time), exactly: the total a rebuild's scan of them goes over.
func (s *EventStore) Count(ctx context.Context, since time.Time) (int64, error) {
	filter := bson.D{}
	if !since.IsZero() {
		filter = bson.D{{Key: "recorded_at", Value: bson.D{{Key: "$gte", Value: since}}}}
	}
	return s.events.CountDocuments(ctx, filter)
}

// Estimate is about how many commits the store holds, from the store's own
// figures rather than by reading them (what a count does on the embedded
// store): enough for a rebuild's progress.
func (s *EventStore) Estimate(ctx context.Context) (int64, error) {
	var stats struct {
		Count int64 `bson:"count"`
	}
	err := s.events.Database().RunCommand(ctx, bson.D{{Key: "collStats", Value: s.events.Name()}}).Decode(&stats)
	if err != nil {
		return s.events.EstimatedDocumentCount(ctx)
	}
	return stats.Count, nil
}

// Empty reports whether the store holds no commit at all (without counting
// them).
func (s *EventStore) Empty(ctx context.Context) (bool, error) {
	n, err := s.events.CountDocuments(ctx, bson.D{}, options.Count().SetLimit(1))
	return n == 0, err
}
