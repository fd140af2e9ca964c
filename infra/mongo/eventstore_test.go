package mongo_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

func TestEventStore(t *testing.T) {
	runEventStoreContract(t, func(t *testing.T) *imongo.EventStore {
		return imongo.NewEventStore(newDB(t), registry)
	})
}

// commitsEqual compares commits as a store can keep them: times at
// millisecond precision (BSON's), nil and empty slices alike.
var commitsEqual = cmp.Options{
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
	}),
	cmpopts.EquateEmpty(),
}

// newCommit builds a commit the way commands.Executor does: consecutive
// versions from first, every event recorded at the commit's time.
func newCommit(stream string, first int64, at time.Time, data ...events.Data) events.Commit {
	c := events.Commit{StreamID: stream, StreamType: events.StreamProject, FirstVersion: first, RecordedAt: at}
	for i, d := range data {
		c.Events = append(c.Events, events.Envelope{
			ID: uuid.Must(uuid.NewV7()).String(), StreamID: stream, StreamType: events.StreamProject,
			Version: first + int64(i), Type: d.EventType(), SchemaVersion: 1, Data: d,
			Actor:         events.Actor{UserID: "u-" + stream, Roles: []string{events.RoleStudent}},
			CorrelationID: "req-" + uuid.NewString(), RecordedAt: at,
		})
	}
	return c
}

func created(title string) *events.ProjectCreated {
	return &events.ProjectCreated{OwnerID: "u-1", Title: title, Description: "d", Aim: "a", Rationale: "r"}
}

func edited(title string) *events.ProjectEdited {
	return &events.ProjectEdited{Title: title, Description: "d2", Aim: "a2", Rationale: "r2"}
}

// runEventStoreContract is what commands expects of an EventStore and a
// SnapshotStore. newStore returns an empty store for each subtest.
func runEventStoreContract(t *testing.T, newStore func(t *testing.T) *imongo.EventStore) {
	now := time.Now().UTC()

	// appendAll appends commits that must all be accepted.
	appendAll := func(t *testing.T, s *imongo.EventStore, commits ...events.Commit) {
		t.Helper()
		for _, c := range commits {
			if err := s.Append(testCtx(t), c); err != nil {
				t.Fatalf("Append(%s): %v", c.ID(), err)
			}
		}
	}
	read := func(t *testing.T, s *imongo.EventStore, stream string, opts events.ReadOptions) []events.Commit {
		t.Helper()
		got, err := s.ReadStream(testCtx(t), stream, opts)
		if err != nil {
			t.Fatalf("ReadStream(%s, %+v): %v", stream, opts, err)
		}
		return got
	}
	wantStream := func(t *testing.T, s *imongo.EventStore, stream string, opts events.ReadOptions, want []events.Commit) {
		t.Helper()
		if diff := cmp.Diff(want, read(t, s, stream, opts), commitsEqual); diff != "" {
			t.Errorf("ReadStream(%s, %+v) (-want +got):\n%s", stream, opts, diff)
		}
	}
	// cutAt is c with only its first n events.
	cutAt := func(c events.Commit, n int) events.Commit {
		c.Events = c.Events[:n]
		return c
	}

	t.Run("append to a new stream", func(t *testing.T) {
		s := newStore(t)
		c := newCommit("p1", 1, now, created("first"))
		appendAll(t, s, c)
		wantStream(t, s, "p1", events.ReadOptions{}, []events.Commit{c})
	})

	t.Run("append at a taken version is a conflict and changes nothing", func(t *testing.T) {
		s := newStore(t)
		c := newCommit("p1", 1, now, created("first"))
		appendAll(t, s, c)
		other := newCommit("p1", 1, now.Add(time.Second), created("second"), edited("second"))
		if err := s.Append(testCtx(t), other); !errors.Is(err, commands.ErrConcurrentAppend) {
			t.Fatalf("Append at a taken version: err = %v, want ErrConcurrentAppend", err)
		}
		wantStream(t, s, "p1", events.ReadOptions{}, []events.Commit{c})
	})

	t.Run("a commit of several events is stored all or nothing", func(t *testing.T) {
		s := newStore(t)
		c1 := newCommit("p1", 1, now, created("t"))
		batch := newCommit("p1", 2, now.Add(time.Second), edited("a"), edited("b"), &events.ProjectWithdrawn{})
		appendAll(t, s, c1, batch)
		wantStream(t, s, "p1", events.ReadOptions{}, []events.Commit{c1, batch})

		// A stale writer's batch at a taken version leaves none of its events.
		stale := newCommit("p1", 2, now.Add(2*time.Second), edited("x"), edited("y"), edited("z"))
		if err := s.Append(testCtx(t), stale); !errors.Is(err, commands.ErrConcurrentAppend) {
			t.Fatalf("stale batch: err = %v, want ErrConcurrentAppend", err)
		}
		// An invalid batch (its third event is out of sequence) leaves none either.
		bad := newCommit("p1", 5, now.Add(3*time.Second), edited("x"), edited("y"), edited("z"))
		bad.Events[2].Version = 9
		if err := s.Append(testCtx(t), bad); err == nil {
			t.Fatal("a batch with a version out of sequence was accepted")
		}
		wantStream(t, s, "p1", events.ReadOptions{}, []events.Commit{c1, batch})
	})

	t.Run("a commit must have 1 to MaxCommitEvents events of its own stream", func(t *testing.T) {
		s := newStore(t)
		many := make([]events.Data, imongo.MaxCommitEvents+1)
		for i := range many {
			many[i] = edited(fmt.Sprint(i))
		}
		wrongStream := newCommit("p1", 1, now, created("t"))
		wrongStream.Events[0].StreamID = "p2"
		for name, c := range map[string]events.Commit{
			"no events":    newCommit("p1", 1, now),
			"too many":     newCommit("p1", 1, now, many...),
			"other stream": wrongStream,
		} {
			if err := s.Append(testCtx(t), c); err == nil || errors.Is(err, commands.ErrConcurrentAppend) {
				t.Errorf("%s: Append err = %v, want a refusal", name, err)
			}
		}
		wantStream(t, s, "p1", events.ReadOptions{}, nil)

		// The largest commit allowed is accepted whole.
		most := newCommit("p1", 1, now, many[:imongo.MaxCommitEvents]...)
		appendAll(t, s, most)
		wantStream(t, s, "p1", events.ReadOptions{}, []events.Commit{most})
	})

	// Stream p1 of the read tests: commits [1] [2 3 4] [5], one second apart.
	c1 := newCommit("p1", 1, now, created("t"))
	c2 := newCommit("p1", 2, now.Add(time.Second), edited("a"), edited("b"), edited("c"))
	c3 := newCommit("p1", 5, now.Add(2*time.Second), &events.ProjectWithdrawn{})

	t.Run("read from a later commit boundary", func(t *testing.T) {
		s := newStore(t)
		appendAll(t, s, c1, c2, c3)
		for _, tc := range []struct {
			from int64
			want []events.Commit
		}{
			{0, []events.Commit{c1, c2, c3}},
			{1, []events.Commit{c1, c2, c3}},
			{2, []events.Commit{c2, c3}},
			{5, []events.Commit{c3}},
			{6, nil},
		} {
			wantStream(t, s, "p1", events.ReadOptions{From: tc.from}, tc.want)
		}
	})

	t.Run("Commits ends the read after that many commits", func(t *testing.T) {
		s := newStore(t)
		appendAll(t, s, c1, c2, c3)
		wantStream(t, s, "p1", events.ReadOptions{Commits: 1}, []events.Commit{c1})
		wantStream(t, s, "p1", events.ReadOptions{From: 2, Commits: 1}, []events.Commit{c2})
		wantStream(t, s, "p1", events.ReadOptions{From: 2, Commits: 5}, []events.Commit{c2, c3})
		wantStream(t, s, "p2", events.ReadOptions{Commits: 1}, nil)
	})

	t.Run("UntilVersion cuts inside a commit", func(t *testing.T) {
		s := newStore(t)
		appendAll(t, s, c1, c2, c3)
		for _, tc := range []struct {
			from, until int64
			want        []events.Commit
		}{
			{0, 1, []events.Commit{c1}},
			{0, 2, []events.Commit{c1, cutAt(c2, 1)}},
			{0, 3, []events.Commit{c1, cutAt(c2, 2)}},
			{0, 4, []events.Commit{c1, c2}},
			{0, 5, []events.Commit{c1, c2, c3}},
			{0, 99, []events.Commit{c1, c2, c3}},
			{2, 3, []events.Commit{cutAt(c2, 2)}},
			{5, 4, nil},
		} {
			wantStream(t, s, "p1", events.ReadOptions{From: tc.from, UntilVersion: tc.until}, tc.want)
		}
	})

	t.Run("UntilTime keeps the events recorded at or before it", func(t *testing.T) {
		s := newStore(t)
		base := now.Truncate(time.Millisecond)
		d1 := newCommit("p1", 1, base, created("t"))
		d2 := newCommit("p1", 2, base.Add(time.Second), edited("a"), edited("b"))
		d3 := newCommit("p1", 4, base.Add(2*time.Second), edited("c"))
		appendAll(t, s, d1, d2, d3)
		for _, tc := range []struct {
			until time.Time
			from  int64
			want  []events.Commit
		}{
			{until: base.Add(-time.Millisecond), want: nil},
			{until: base, want: []events.Commit{d1}},
			{until: base.Add(time.Second - time.Millisecond), want: []events.Commit{d1}},
			{until: base.Add(time.Second), want: []events.Commit{d1, d2}},
			{until: base.Add(1500 * time.Millisecond), want: []events.Commit{d1, d2}},
			{until: base.Add(time.Hour), want: []events.Commit{d1, d2, d3}},
			{until: base.Add(time.Second), from: 2, want: []events.Commit{d2}},
		} {
			wantStream(t, s, "p1", events.ReadOptions{From: tc.from, UntilTime: tc.until}, tc.want)
		}
		// Both bounds: the earlier one wins.
		wantStream(t, s, "p1", events.ReadOptions{UntilTime: base.Add(time.Hour), UntilVersion: 2},
			[]events.Commit{d1, cutAt(d2, 1)})
		wantStream(t, s, "p1", events.ReadOptions{UntilTime: base, UntilVersion: 3}, []events.Commit{d1})
	})

	t.Run("a long stream reads back in order", func(t *testing.T) {
		s := newStore(t)
		var want []events.Commit
		next := int64(1)
		for i := range 50 {
			data := []events.Data{edited(fmt.Sprint("e", i))}
			if i%3 == 1 { // vary the commit sizes
				data = append(data, edited(fmt.Sprint("f", i)))
			}
			c := newCommit("p1", next, now.Add(time.Duration(i)*time.Millisecond), data...)
			appendAll(t, s, c)
			want = append(want, c)
			next = c.LastVersion() + 1
		}
		wantStream(t, s, "p1", events.ReadOptions{}, want)
	})

	t.Run("of writers racing for the next version exactly one wins", func(t *testing.T) {
		s := newStore(t)
		base := []events.Commit{c1, c2}
		appendAll(t, s, base...)
		const writers = 20
		var (
			start  = make(chan struct{})
			wg     sync.WaitGroup
			errs   = make([]error, writers)
			tries  = make([]events.Commit, writers)
			ctx    = testCtx(t)
			winner = -1
		)
		for i := range writers {
			tries[i] = newCommit("p1", 5, now.Add(time.Minute), edited(fmt.Sprint("writer ", i)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Append(ctx, tries[i])
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, commands.ErrConcurrentAppend):
				t.Errorf("writer %d: %v, want nil or ErrConcurrentAppend", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer won")
		}
		wantStream(t, s, "p1", events.ReadOptions{}, append(base, tries[winner]))
	})

	t.Run("an unknown stream has no commits", func(t *testing.T) {
		s := newStore(t)
		appendAll(t, s, c1)
		if got := read(t, s, "nobody", events.ReadOptions{}); len(got) != 0 {
			t.Errorf("ReadStream(nobody) = %v, want no commits", got)
		}
		// Stream ids are not prefixes of each other.
		if got := read(t, s, "p", events.ReadOptions{}); len(got) != 0 {
			t.Errorf("ReadStream(p) = %v, want no commits", got)
		}
	})

	t.Run("snapshots", func(t *testing.T) {
		s := newStore(t)
		ctx := testCtx(t)
		if _, err := s.LoadSnapshot(ctx, "p1"); !errors.Is(err, commands.ErrNoSnapshot) {
			t.Fatalf("LoadSnapshot of a stream without one: err = %v, want ErrNoSnapshot", err)
		}
		loads := func(want commands.Snapshot) {
			t.Helper()
			got, err := s.LoadSnapshot(ctx, want.StreamID)
			if err != nil {
				t.Fatalf("LoadSnapshot(%s): %v", want.StreamID, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("LoadSnapshot(%s) (-want +got):\n%s", want.StreamID, diff)
			}
		}
		saves := func(snap commands.Snapshot) {
			t.Helper()
			if err := s.SaveSnapshot(ctx, snap); err != nil {
				t.Fatalf("SaveSnapshot(%s): %v", snap.StreamID, err)
			}
		}
		v1 := commands.Snapshot{StreamID: "p1", StreamType: events.StreamProject, Schema: "project/v1", Version: 1,
			State: []byte(`{"title":"t","tags":["a","b"],"note":"é \" \\ <>"}`)}
		saves(v1)
		loads(v1)

		v4 := commands.Snapshot{StreamID: "p1", StreamType: events.StreamProject, Schema: "project/v2", Version: 4,
			State: []byte(`{"title":"t4"}`)}
		saves(v4)
		loads(v4)

		other := commands.Snapshot{StreamID: "p2", StreamType: events.StreamUser, Schema: "user/v1", Version: 7,
			State: []byte(`{}`)}
		saves(other)
		loads(other)
		loads(v4)
	})
}

// TestEventStoreStoredFormat reads commits written straight into the
// collection, as an older or newer binary may have left them: the stored
// format is kept forever, and a type this binary does not know is an error
// that names it, never a silently skipped event.
func TestEventStoreStoredFormat(t *testing.T) {
	db := newDB(t)
	ctx := testCtx(t)
	at := time.Now().UTC()
	known := newCommit("known", 1, at, created("t"), edited("t2"))
	unknown := newCommit("unknown", 1, at, created("t"), &projectArchived{Reason: "old"})
	newer := newCommit("newer", 1, at, created("t"))
	newer.Events[0].SchemaVersion = 2
	docs := []any{storedCommit(known), storedCommit(unknown), storedCommit(newer)}
	if _, err := db.Collection(imongo.CollEvents).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	s := imongo.NewEventStore(db, registry)

	// storedCommit writes what Append writes: a commit of known types reads back.
	got, err := s.ReadStream(ctx, "known", events.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadStream(known): %v", err)
	}
	if diff := cmp.Diff([]events.Commit{known}, got, commitsEqual); diff != "" {
		t.Errorf("ReadStream(known) (-want +got):\n%s", diff)
	}

	got, err = s.ReadStream(ctx, "unknown", events.ReadOptions{})
	if !errors.Is(err, events.ErrUnknownType) || !strings.Contains(fmt.Sprint(err), "ProjectArchived") {
		t.Errorf("ReadStream(unknown) = %v, %v; want ErrUnknownType naming ProjectArchived", got, err)
	}
	got, err = s.ReadStream(ctx, "newer", events.ReadOptions{})
	if !errors.Is(err, events.ErrNewerSchema) || !strings.Contains(fmt.Sprint(err), "ProjectCreated") {
		t.Errorf("ReadStream(newer) = %v, %v; want ErrNewerSchema naming ProjectCreated", got, err)
	}

	// A binary whose registry lacks a type refuses the stream an up-to-date one wrote.
	c := newCommit("p1", 1, at, created("t"), edited("t2"))
	c.Events[1].CorrelationID, c.Events[1].Actor = "", events.SystemActor // optional fields left out
	if err := s.Append(ctx, c); err != nil {
		t.Fatal(err)
	}
	// And Append writes exactly storedCommit's document.
	var stored, want bson.M
	if err := db.Collection(imongo.CollEvents).FindOne(ctx, bson.D{{Key: "_id", Value: c.ID()}}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	raw, err := bson.Marshal(storedCommit(c))
	if err == nil {
		err = bson.Unmarshal(raw, &want)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored document (-storedCommit +Append):\n%s", diff)
	}

	var userEvents []events.Registration
	for _, r := range events.All() {
		if !strings.HasPrefix(r.Name, "Project") {
			userEvents = append(userEvents, r)
		}
	}
	narrow := imongo.NewEventStore(db, events.NewRegistry(userEvents...))
	if _, err := narrow.ReadStream(ctx, "p1", events.ReadOptions{}); !errors.Is(err, events.ErrUnknownType) ||
		!strings.Contains(fmt.Sprint(err), "ProjectCreated") {
		t.Errorf("ReadStream without ProjectCreated registered: err = %v, want ErrUnknownType naming it", err)
	}
}

// projectArchived is an event type a newer binary might write.
type projectArchived struct {
	Reason string `bson:"reason"`
}

func (projectArchived) EventType() string { return "ProjectArchived" }

// storedCommit is the document Append stores for c, written out field by
// field: the stored format outlives every binary, so it is pinned here.
func storedCommit(c events.Commit) bson.D {
	evs := bson.A{}
	for _, e := range c.Events {
		data, err := bson.Marshal(e.Data)
		if err != nil {
			panic(err)
		}
		actor := bson.D{{Key: "user_id", Value: e.Actor.UserID}}
		if len(e.Actor.Roles) > 0 {
			actor = append(actor, bson.E{Key: "roles", Value: e.Actor.Roles})
		}
		ev := bson.D{
			{Key: "id", Value: e.ID}, {Key: "version", Value: e.Version}, {Key: "type", Value: e.Type},
			{Key: "schema_version", Value: e.SchemaVersion}, {Key: "data", Value: bson.Raw(data)}, {Key: "actor", Value: actor},
		}
		if e.CorrelationID != "" {
			ev = append(ev, bson.E{Key: "correlation_id", Value: e.CorrelationID})
		}
		evs = append(evs, ev)
	}
	return bson.D{
		{Key: "_id", Value: c.ID()}, {Key: "stream_id", Value: c.StreamID}, {Key: "stream_type", Value: c.StreamType},
		{Key: "first_version", Value: c.FirstVersion}, {Key: "last_version", Value: c.LastVersion()},
		{Key: "recorded_at", Value: c.RecordedAt}, {Key: "events", Value: evs},
	}
}
