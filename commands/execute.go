package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/retry"
)

// Decider is an aggregate: pure functions over its state. Decide validates a
// command against the state and returns the events it causes (none when the
// command changes nothing); Evolve folds one event into the state and never
// fails.
type Decider[S, C any] struct {
	StreamType string
	// Schema names the shape of S in snapshots; change it when S changes.
	Schema  string
	Initial func(streamID string) S
	Evolve  func(S, events.Envelope) S
	// EvolveAll, when set, folds the events of a commit as Evolve would
	// one after the other, in one go: for a state whose Evolve copies
	// what it changes (a cached state is never modified), once for them
	// all instead of once an event.
	EvolveAll func(S, []events.Envelope) S
	Decide    func(S, C) ([]events.Data, error)
	// Retries, when set, replaces the executor's retry count for a stream
	// that many writers share (the cohort), where losing a race is routine.
	Retries int
}

// Meta is what a command carries besides its own fields. The version a
// client expects a stream at is not in it: it guards one stream, and is
// given to that stream's write alone (Expected, ExecuteAt).
type Meta struct {
	Actor         events.Actor
	CorrelationID string
	// NewID, when set, is the id a create gives the stream it makes instead
	// of a fresh one: the id an idempotency key was bound to, so that every
	// attempt of one request creates the same stream, and of attempts
	// racing or retried after a crash exactly one stores it (see Created).
	NewID string
}

// NewStreamID is meta's NewID, or a fresh UUIDv7 (creation order).
func (m Meta) NewStreamID() string {
	if m.NewID != "" {
		return m.NewID
	}
	return uuid.Must(uuid.NewV7()).String()
}

// Result is what a command returns: the state after it and its version.
type Result[S any] struct {
	State   S
	Version int64
	// Commit is nil when the command changed nothing.
	Commit *events.Commit
	// Replayed: the result is that of an earlier attempt of the same
	// request (Created), not of this one.
	Replayed bool
}

// Executor holds what every command needs. Its zero values for Clock, Log and
// Retries are filled with sensible defaults by NewExecutor.
type Executor struct {
	Store     EventStore
	Snapshots SnapshotStore
	Publisher Publisher
	// Outbox, when set, replaces Publisher: commits are reserved before they
	// are appended and published by the outbox, so none is lost.
	Outbox   Outbox
	Registry *events.Registry
	Clock    func() time.Time
	Log      *slog.Logger
	// Retries is how often a command without an expected version is decided
	// again after losing a race with another writer; with one (ExecuteAt)
	// it is never retried.
	Retries int
	// Observe, when set, is told the outcome of every command (metrics).
	Observe func(streamType string, outcome string, d time.Duration)
	// Appended, when set, is told of every stored commit (metrics).
	Appended func(c events.Commit)
	// SnapshotEvery is how many versions a stream may grow past its last
	// snapshot before the next one is saved. Snapshots only speed up loading
	// long streams in a process that has not cached them.
	SnapshotEvery int64

	// Sole says this executor is the only writer of its store: the
	// all-in-one service on the embedded store it runs, whose data
	// directory no other process may open, and through which every append
	// of the process goes. A cached state is then the stream's current
	// one, and Load does not ask the store for commits after it. A stream
	// whose append lost a race or has an unknown outcome is forgotten, and
	// a load during which the stream's entry may have left the cache does
	// not cache what it read (it might be older than the state that left;
	// see rememberLoaded).
	Sole bool

	// states caches folded states. An entry is only a starting point: Load
	// still asks the store for commits after it (unless Sole), and a command
	// decided on it is stored only if no commit follows it (see execute), so
	// a state another process moved on is never trusted blindly. Commits are
	// immutable, so a cached state at version v is the true state at v forever.
	states *lru.Cache[string, cachedState]
	// left records when entries left states, evicted or forgotten.
	left *leftLog
	// dryRun marks an executor that stores nothing (see DryRun): its
	// "appends" are not recorded in a request's Writes.
	dryRun bool
	// turns makes the commands of one stream take turns (nil: they race).
	turns *turns
}

type cachedState struct {
	schema  string
	state   any
	version int64
	// snapshotted is the version of the last snapshot known to be stored.
	snapshotted int64
}

// NewExecutor returns an Executor with defaults filled in.
func NewExecutor(store EventStore, snaps SnapshotStore, pub Publisher, reg *events.Registry, log *slog.Logger) *Executor {
	if log == nil {
		log = slog.Default()
	}
	states, left := newStates()
	return &Executor{Store: store, Snapshots: snaps, Publisher: pub, Registry: reg,
		Clock: func() time.Time { return time.Now() }, Log: log, Retries: 3, SnapshotEvery: 16, states: states, left: left, turns: newTurns()}
}

// newStates returns a cache of stream states and the record of the
// entries that left it.
func newStates() (*lru.Cache[string, cachedState], *leftLog) {
	left := new(leftLog)
	states, _ := lru.NewWithEvict(stateCacheSize, func(stream string, _ cachedState) { left.left(stream) })
	return states, left
}

// stateCacheSize bounds the cache. A cohort's file names each of its
// people's streams in turn (an address, a user and a record each): with
// room for fewer than all of them, a file imported again, read in the order
// it was written, finds none cached. 65,536 holds a cohort of 12,000
// students and its supervisors with room to spare, where 20,000 held
// 6,000: an unchanged 12,000-row students file then answered after 17 to
// 18 s instead of 0.26 s. The cache grows only as streams are loaded; that
// cohort's run peaked 8 MiB higher with it (172 MiB against 164).
const stateCacheSize = 65536

// Load folds a stream into its current state and version, starting from the
// cached state or the latest snapshot when there is one. In the common case
// (a cached, current state) that is one lookup: the commit after it is absent.
func Load[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string) (S, int64, error) {
	state, version, _, err := load(ctx, x, d, streamID)
	return state, version, err
}

func load[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string) (S, int64, int64, error) {
	left := x.leftSoFar()
	state, version, snapshotted, ok := cached[S](x, d.Schema, streamID)
	if ok && x.Sole {
		return state, version, snapshotted, nil
	}
	if !ok {
		var exists, whole bool
		var err error
		if state, version, snapshotted, exists, whole, err = begin(ctx, x, d, streamID); err != nil {
			return state, 0, 0, err
		}
		if !exists || whole {
			x.rememberLoaded(streamID, d.Schema, state, version, snapshotted, left)
			return state, version, snapshotted, nil
		}
	}
	commits, err := x.Store.ReadStream(ctx, streamID, events.ReadOptions{From: version + 1})
	if err != nil {
		return state, 0, 0, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	state, version = fold(d, state, version, commits)
	x.rememberLoaded(streamID, d.Schema, state, version, snapshotted, left)
	return state, version, snapshotted, nil
}

// begin is where the load of a stream that is not cached starts: from its
// latest snapshot, or else from its first commit. Most such streams are
// new ones (a create's, an import's new row's) or short ones (an address's
// claim, a user's few changes), so its first beginCommits commits are read
// before the snapshot is looked up: a stream without one does not exist,
// and one with fewer was read whole (no snapshot can be ahead of it), and
// needs no snapshot lookup nor another read. exists is false for a stream
// without commits; whole is true when its every commit was read.
func begin[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string) (state S, version, snapshotted int64, exists, whole bool, err error) {
	state = d.Initial(streamID)
	if x.Snapshots == nil {
		return state, 0, 0, true, false, nil
	}
	first, err := x.Store.ReadStream(ctx, streamID, events.ReadOptions{From: 1, Commits: beginCommits})
	if err != nil || len(first) == 0 {
		if err != nil {
			err = fmt.Errorf("read stream %s: %w", streamID, err)
		}
		return state, 0, 0, false, false, err
	}
	state, version = fold(d, state, 0, first)
	if len(first) < beginCommits {
		return state, version, 0, true, true, nil
	}
	snap, err := x.Snapshots.LoadSnapshot(ctx, streamID)
	switch {
	case errors.Is(err, ErrNoSnapshot):
	case err != nil:
		return state, 0, 0, false, false, fmt.Errorf("load snapshot %s: %w", streamID, err)
	case snap.Schema == d.Schema && snap.StreamType == d.StreamType && snap.Version > version:
		fresh := d.Initial(streamID)
		if err := json.Unmarshal(snap.State, &fresh); err != nil {
			x.Log.WarnContext(ctx, "ignoring unreadable snapshot", "stream", streamID, "err", err)
			break
		}
		return fresh, snap.Version, snap.Version, true, false, nil
	}
	return state, version, 0, true, false, nil
}

// beginCommits is how many commits begin reads before it looks for a
// snapshot. The event store reads a stream a commit a lookup, so a long
// stream, loaded once by a process, pays for beginCommits-1 commits its
// snapshot would have skipped, while each short one, the most of a
// cohort's (an address has a commit or two, a user or a student's record
// a few), saves the snapshot's lookup.
const beginCommits = 8

// fold applies commits to a state at version.
func fold[S, C any](d Decider[S, C], state S, version int64, commits []events.Commit) (S, int64) {
	for _, c := range commits {
		if len(c.Events) > 0 {
			state, version = d.evolveAll(state, c.Events), c.Events[len(c.Events)-1].Version
		}
	}
	return state, version
}

// evolveAll folds events into a state: EvolveAll, or Evolve one by one.
func (d Decider[S, C]) evolveAll(state S, es []events.Envelope) S {
	if d.EvolveAll != nil {
		return d.EvolveAll(state, es)
	}
	for _, e := range es {
		state = d.Evolve(state, e)
	}
	return state
}

// Cached returns the state of a stream as this process last saw it, without
// reading the store: a state another process may have moved on since, for
// a decision that an append made on it checks (a stale one collides).
// ok is false when the stream is not cached.
func Cached[S, C any](x *Executor, d Decider[S, C], streamID string) (state S, version int64, ok bool) {
	state, version, _, ok = cached[S](x, d.Schema, streamID)
	return state, version, ok
}

func cached[S any](x *Executor, schema, streamID string) (S, int64, int64, bool) {
	var zero S
	if x.states == nil {
		return zero, 0, 0, false
	}
	e, ok := x.states.Get(streamID)
	if !ok || e.schema != schema {
		return zero, 0, 0, false
	}
	s, ok := e.state.(S)
	return s, e.version, e.snapshotted, ok
}

// leftSoFar is where the cache's departures stand as a load begins (see
// rememberLoaded).
func (x *Executor) leftSoFar() int64 {
	if x.left == nil {
		return 0
	}
	return x.left.now()
}

// rememberLoaded caches a state read from the store by a load that began
// at left (leftSoFar). For a sole writer, whose cache is trusted, not if
// the stream's entry may have left the cache since: its own newer state may
// have been it (an append's, evicted; one of unknown outcome, forgotten),
// and what the load read may predate it. The check follows the caching, so
// that a departure between the two is seen too, and the entry taken back.
func (x *Executor) rememberLoaded(streamID, schema string, state any, version, snapshotted, left int64) {
	if x.Sole && x.left != nil && x.left.since(streamID, left) {
		return
	}
	x.remember(streamID, schema, state, version, snapshotted)
	if x.Sole && x.left != nil && x.left.since(streamID, left) {
		x.forget(streamID)
	}
}

// forget drops a stream's cached state.
func (x *Executor) forget(streamID string) {
	if x.states != nil {
		x.states.Remove(streamID)
	}
}

// remember caches a state unless the cache already holds a later one.
func (x *Executor) remember(streamID, schema string, state any, version, snapshotted int64) {
	if x.states == nil {
		return
	}
	if e, ok := x.states.Peek(streamID); ok && e.schema == schema && e.version > version {
		return
	}
	x.states.Add(streamID, cachedState{schema: schema, state: state, version: version, snapshotted: snapshotted})
}

// Execute is the one command path: load, decide, append with the version that
// was read, snapshot and publish. A command that loses a race is decided again
// on the new state, so a rule is always checked against the state it is
// stored on top of.
//
// It is a method of the decider, not a function, so that the command's type
// is the aggregate's own command type: the compiler refuses a command of
// another aggregate, and a command needs no conversion to be passed.
func (d Decider[S, C]) Execute(ctx context.Context, x *Executor, streamID string, cmd C, meta Meta) (Result[S], error) {
	return run(ctx, x, d, streamID, cmd, meta, AnyVersion, false)
}

// ExecuteAt is Execute on the version the client expects the stream at
// (If-Match): a stream that has moved on refuses the command with
// ErrPreconditionFailed, and a lost race is refused the same way rather
// than decided again, since the client decided on what it saw.
func (d Decider[S, C]) ExecuteAt(ctx context.Context, x *Executor, streamID string, expect Expected, cmd C, meta Meta) (Result[S], error) {
	return run(ctx, x, d, streamID, cmd, meta, expect, false)
}

// ExecuteNew is Execute on a stream the caller has just named (a fresh
// random id): the command is decided on the initial state without reading
// the store. Should the stream exist after all, the append collides with
// its first commit and the command is decided again on what is stored, as
// Execute does with a stale cached state.
func (d Decider[S, C]) ExecuteNew(ctx context.Context, x *Executor, streamID string, cmd C, meta Meta) (Result[S], error) {
	return run(ctx, x, d, streamID, cmd, meta, AnyVersion, true)
}

func run[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string, cmd C, meta Meta, expect Expected, fresh bool) (Result[S], error) {
	start := x.Clock()
	if x.turns != nil {
		release, err := x.turns.take(ctx, streamID)
		if err != nil {
			return Result[S]{}, err
		}
		defer release()
	}
	res, err := execute(ctx, x, d, streamID, cmd, meta, expect, fresh)
	if x.Observe != nil {
		x.Observe(d.StreamType, outcome(err), x.Clock().Sub(start))
	}
	return res, err
}

func execute[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string, cmd C, meta Meta, expect Expected, fresh bool) (Result[S], error) {
	// The first decision is taken on the cached state, if any, without asking
	// the store whether the stream moved on: if it did, the append collides
	// with the commit id it would take (the next version is taken), and the
	// command is decided again on the current state. An outcome that stores
	// nothing (a refusal, a no-op, a version other than the one expected) has
	// no append to catch a stale state, so it is confirmed on the current
	// state first.
	state, version, snapshotted, known := cached[S](x, d.Schema, streamID)
	if fresh && !known {
		state, version, snapshotted, known = d.Initial(streamID), 0, 0, true
	}
	current := !known
	for attempt := 0; ; {
		if current {
			var err error
			if state, version, snapshotted, err = load(ctx, x, d, streamID); err != nil {
				return Result[S]{}, err
			}
		}
		if !expect.Allows(version) {
			if !current {
				current = true
				continue
			}
			return Result[S]{}, ErrPreconditionFailed
		}
		data, err := d.Decide(state, cmd)
		if err != nil || len(data) == 0 {
			if !current {
				current = true
				continue
			}
			if err != nil {
				return Result[S]{}, err
			}
			if !x.dryRun {
				recordSeen(ctx, Seen{StreamType: d.StreamType, StreamID: streamID, Version: version})
			}
			return Result[S]{State: state, Version: version}, nil
		}
		commit, err := x.newCommit(d.StreamType, streamID, version, data, meta)
		if err != nil {
			return Result[S]{}, err
		}
		err = x.append(ctx, commit)
		if err != nil && x.Sole {
			// The cache must not be trusted for this stream: another
			// writer got there (a sole writer's own concurrent command),
			// or the commit may be stored after all.
			x.forget(streamID)
		}
		if errors.Is(err, ErrConcurrentAppend) {
			// With an expected version this is a refusal even from a stale
			// cache: the stream is past the version the caller expected.
			if expect != AnyVersion {
				return Result[S]{}, ErrPreconditionFailed
			}
			if !current { // a stale cache, not a lost race
				current = true
				continue
			}
			if attempt < max(x.Retries, d.Retries) {
				backoff(ctx, attempt)
				attempt++
				continue
			}
			return Result[S]{}, ErrVersionConflict
		}
		if err != nil {
			return Result[S]{}, fmt.Errorf("append %s: %w", commit.ID(), err)
		}
		if !x.dryRun {
			recordWrite(ctx, commit)
		}
		state = d.evolveAll(state, commit.Events)
		x.afterAppend(ctx, d.StreamType, d.Schema, commit, state, snapshotted)
		return Result[S]{State: state, Version: commit.LastVersion(), Commit: &commit}, nil
	}
}

// Created returns the outcome of the create that made a stream: the state
// after its first commit, with that commit, Replayed. A create retried under
// the same NewID finds its stream taken (ErrAlreadyExists) and answers this
// instead, so the request that stored the commit and every later attempt of
// it answer the same. The commit counts among the request's writes, so
// that the answer names it and waits for it as the first attempt's did.
// found is false while the stream does not exist.
func Created[S, C any](ctx context.Context, x *Executor, d Decider[S, C], streamID string) (Result[S], bool, error) {
	commits, err := x.Store.ReadStream(ctx, streamID, events.ReadOptions{From: 1})
	if err != nil || len(commits) == 0 {
		return Result[S]{}, false, err
	}
	first := commits[0]
	state := d.evolveAll(d.Initial(streamID), first.Events)
	recordWrite(ctx, first)
	return Result[S]{State: state, Version: first.LastVersion(), Commit: &first, Replayed: true}, true, nil
}

// append stores a commit, through the outbox when there is one.
func (x *Executor) append(ctx context.Context, c events.Commit) error {
	if x.Outbox == nil {
		err := x.Store.Append(ctx, c)
		if err == nil && x.Publisher != nil {
			if perr := x.Publisher.Publish(ctx, c); perr != nil {
				x.Log.WarnContext(ctx, "publish commit", "commit", c.ID(), "err", perr)
			}
		}
		return err
	}
	r, err := x.Outbox.Reserve(ctx, c.ID())
	if err != nil {
		return fmt.Errorf("reserve %s in the outbox: %w", c.ID(), err)
	}
	if err := x.Store.Append(ctx, c); err != nil {
		if errors.Is(err, ErrConcurrentAppend) {
			r.Abandoned()
		} else {
			r.Uncertain() // the relay publishes it if it was stored after all
		}
		return err
	}
	r.Stored(c)
	return nil
}

func (x *Executor) newCommit(streamType, streamID string, version int64, data []events.Data, meta Meta) (events.Commit, error) {
	now := x.Clock().UTC().Truncate(time.Millisecond)
	c := events.Commit{StreamID: streamID, StreamType: streamType, FirstVersion: version + 1, RecordedAt: now}
	c.Events = make([]events.Envelope, len(data))
	for i, dt := range data {
		schema, err := x.Registry.SchemaVersion(dt.EventType())
		if err != nil {
			return events.Commit{}, err
		}
		c.Events[i] = events.Envelope{
			ID: uuid.Must(uuid.NewV7()).String(), StreamID: streamID, StreamType: streamType,
			Version: version + 1 + int64(i), Type: dt.EventType(), SchemaVersion: schema, Data: dt,
			Actor: meta.Actor, CorrelationID: meta.CorrelationID, RecordedAt: now,
		}
	}
	return c, nil
}

// afterAppend does the work that must not fail a command whose events are
// already durable: the snapshot is a cache and the relay covers publishing.
func (x *Executor) afterAppend(ctx context.Context, streamType, schema string, c events.Commit, state any, snapshotted int64) {
	if x.Appended != nil {
		x.Appended(c)
	}
	if x.Snapshots != nil && c.LastVersion()-snapshotted >= max(x.SnapshotEvery, 1) && !deferSnapshot(ctx, x, c.StreamID, streamType, schema) {
		if raw, err := json.Marshal(state); err != nil {
			x.Log.ErrorContext(ctx, "encode snapshot", "stream", c.StreamID, "err", err)
		} else if err := x.Snapshots.SaveSnapshot(ctx, Snapshot{StreamID: c.StreamID, StreamType: streamType,
			Schema: schema, Version: c.LastVersion(), State: raw}); err != nil {
			x.Log.WarnContext(ctx, "save snapshot", "stream", c.StreamID, "err", err)
		} else {
			snapshotted = c.LastVersion()
		}
	}
	x.remember(c.StreamID, schema, state, c.LastVersion(), snapshotted)
}

// backoff waits a little, growing and jittered, so writers that lost a race
// do not all retry in lockstep: up to 1 ms more with each attempt, at most
// 10 ms.
func backoff(ctx context.Context, attempt int) {
	retry.Backoff(ctx, attempt, time.Millisecond, 10)
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return "error"
}
