package commands_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// memStore is an in-memory EventStore. It counts the commits it hands out so
// that tests can see what the loader read.
type memStore struct {
	mu      sync.Mutex
	streams map[string][]events.Commit
	appends int     // Append calls, successful or not
	froms   []int64 // ReadOptions.From of every read
	served  int     // commits returned by reads
	readsOf map[string]int
}

var _ commands.EventStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{streams: map[string][]events.Commit{}} }

func (m *memStore) Append(_ context.Context, c events.Commit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appends++
	cur := int64(0)
	if s := m.streams[c.StreamID]; len(s) > 0 {
		cur = s[len(s)-1].LastVersion()
	}
	if c.FirstVersion != cur+1 {
		return fmt.Errorf("append %s at %d: %w", c.StreamID, cur, commands.ErrConcurrentAppend)
	}
	c.Events = slices.Clone(c.Events)
	m.streams[c.StreamID] = append(m.streams[c.StreamID], c)
	return nil
}

func (m *memStore) ReadStream(_ context.Context, id string, opts events.ReadOptions) ([]events.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.froms = append(m.froms, opts.From)
	if m.readsOf == nil {
		m.readsOf = map[string]int{}
	}
	m.readsOf[id]++
	var out []events.Commit
	for _, c := range m.streams[id] {
		if c.FirstVersion >= opts.From && (opts.Commits == 0 || len(out) < opts.Commits) {
			out = append(out, c)
		}
	}
	m.served += len(out)
	return out, nil
}

// commits returns a copy of a stream's commits.
func (m *memStore) commits(id string) []events.Commit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.streams[id])
}

// memSnapshots is an in-memory SnapshotStore.
type memSnapshots struct {
	mu    sync.Mutex
	snaps map[string]commands.Snapshot
	saves int
	loads int
}

var _ commands.SnapshotStore = (*memSnapshots)(nil)

func newMemSnapshots() *memSnapshots { return &memSnapshots{snaps: map[string]commands.Snapshot{}} }

func (m *memSnapshots) LoadSnapshot(_ context.Context, id string) (commands.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	s, ok := m.snaps[id]
	if !ok {
		return commands.Snapshot{}, commands.ErrNoSnapshot
	}
	return s, nil
}

func (m *memSnapshots) SaveSnapshot(_ context.Context, s commands.Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	m.snaps[s.StreamID] = s
	return nil
}

// racingStore loses races on purpose: before an Append it lets "another
// writer" append a conflicting commit at the same version, once or always.
type racingStore struct {
	*memStore
	always   bool
	injected int
	attempts int
}

func (r *racingStore) Append(ctx context.Context, c events.Commit) error {
	r.attempts++
	if r.always || r.injected == 0 {
		r.injected++
		rival := newCounterCommit(c.StreamID, c.FirstVersion, 100)
		if err := r.memStore.Append(ctx, rival); err != nil {
			return fmt.Errorf("inject rival: %w", err)
		}
	}
	return r.memStore.Append(ctx, c)
}

// recordingPublisher keeps what it was given and checks that each commit is
// already stored when it is published.
type recordingPublisher struct {
	mu        sync.Mutex
	store     *memStore
	got       []events.Commit
	notStored []string
	err       error
}

func (p *recordingPublisher) Publish(_ context.Context, c events.Commit) error {
	stored := slices.ContainsFunc(p.store.commits(c.StreamID), func(s events.Commit) bool { return s.ID() == c.ID() })
	p.mu.Lock()
	defer p.mu.Unlock()
	if !stored {
		p.notStored = append(p.notStored, c.ID())
	}
	p.got = append(p.got, c)
	return p.err
}

// The test decider: a counter. add{By} adds each amount as one event.
type counter struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
	Adds  int    `json:"adds"`
}

type add struct{ By []int }

type added struct {
	By int `json:"by"`
}

func (added) EventType() string { return "TestAdded" }

var (
	errNegative  = errors.New("the total would be negative")
	errOverLimit = errors.New("the total would pass the limit")
)

// counterLimit is a rule on the state: the total may not pass it.
const counterLimit = 1000

const counterSchemaVersion = 3 // not 1, so that tests see it comes from the registry

var counterDecider = commands.Decider[counter, add]{
	StreamType: "counter",
	Schema:     "counter/1",
	Initial:    func(id string) counter { return counter{ID: id} },
	Evolve: func(s counter, e events.Envelope) counter {
		if d, ok := e.Data.(*added); ok {
			s.Total += d.By
			s.Adds++
		}
		return s
	},
	Decide: func(s counter, c add) ([]events.Data, error) {
		var out []events.Data
		for _, n := range c.By {
			switch s.Total += n; {
			case s.Total < 0:
				return nil, errNegative
			case s.Total > counterLimit:
				return nil, errOverLimit
			}
			out = append(out, &added{By: n})
		}
		return out, nil
	},
}

func newCounterCommit(id string, first int64, by ...int) events.Commit {
	c := events.Commit{StreamID: id, StreamType: "counter", FirstVersion: first}
	for i, n := range by {
		c.Events = append(c.Events, events.Envelope{ID: fmt.Sprintf("seed-%d", first+int64(i)), StreamID: id, StreamType: "counter",
			Version: first + int64(i), Type: "TestAdded", SchemaVersion: counterSchemaVersion, Data: &added{By: n}})
	}
	return c
}

// now is the executor's clock: not UTC and with sub-millisecond digits.
var now = time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.FixedZone("CET", 3600))

type fixture struct {
	store *memStore
	snaps *memSnapshots
	pub   *recordingPublisher
	x     *commands.Executor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: newMemStore(), snaps: newMemSnapshots()}
	f.pub = &recordingPublisher{store: f.store}
	reg := events.NewRegistry(events.Registration{Name: "TestAdded", SchemaVersion: counterSchemaVersion,
		New: func() events.Data { return &added{} },
		Upcasters: map[int]events.Upcaster{
			1: func(m map[string]any) (map[string]any, error) { return m, nil },
			2: func(m map[string]any) (map[string]any, error) { return m, nil },
		}})
	f.x = commands.NewExecutor(f.store, f.snaps, f.pub, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.x.Clock = func() time.Time { return now }
	return f
}

// coldExecutor is another process on the same store: nothing cached.
func (f *fixture) coldExecutor() *commands.Executor {
	x := commands.NewExecutor(f.store, f.snaps, f.pub, f.x.Registry, f.x.Log)
	x.Clock, x.SnapshotEvery = f.x.Clock, f.x.SnapshotEvery
	return x
}

var meta = commands.Meta{
	Actor:         events.Actor{UserID: "coord-1", Roles: []string{events.RoleCoordinator}},
	CorrelationID: "req-42",
}

// ifMatch is the version a client expects the stream at.
func ifMatch(v int64) commands.Expected { return commands.ExpectVersion(v) }

// seed appends commits of one event each, directly to the store.
func (f *fixture) seed(t *testing.T, id string, by ...int) {
	t.Helper()
	for i, n := range by {
		if err := f.store.Append(context.Background(), newCounterCommit(id, int64(i+1), n)); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) execute(id string, by []int, expect commands.Expected) (commands.Result[counter], error) {
	return counterDecider.ExecuteAt(context.Background(), f.x, id, expect, add{By: by}, meta)
}

func TestExecuteAppendsOnEmptyStream(t *testing.T) {
	f := newFixture(t)
	res, err := f.execute("c1", []int{5}, commands.AnyVersion)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if diff := cmp.Diff(counter{ID: "c1", Total: 5, Adds: 1}, res.State); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if res.Version != 1 || res.Commit == nil || res.Commit.FirstVersion != 1 || res.Commit.LastVersion() != 1 {
		t.Fatalf("result = %+v, want version 1 with its commit", res)
	}
	stored := f.store.commits("c1")
	if diff := cmp.Diff([]events.Commit{*res.Commit}, stored); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	at := time.Date(2025, 3, 4, 4, 6, 7, 891000000, time.UTC)
	if !res.Commit.RecordedAt.Equal(at) || res.Commit.RecordedAt.Location() != time.UTC {
		t.Errorf("commit recorded at %v, want %v", res.Commit.RecordedAt, at)
	}
	if res.Commit.StreamID != "c1" || res.Commit.StreamType != "counter" {
		t.Errorf("commit stream = %s/%s", res.Commit.StreamType, res.Commit.StreamID)
	}
}

func TestExecuteFillsEnvelopesWithConsecutiveVersions(t *testing.T) {
	f := newFixture(t)
	if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	res, err := f.execute("c1", []int{2, 3, 4}, commands.AnyVersion)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Version != 4 || res.Commit.FirstVersion != 2 || res.State.Total != 10 || res.State.Adds != 4 {
		t.Fatalf("result = %+v / %+v, want version 4, first version 2, total 10", res, res.Commit)
	}
	at := now.UTC().Truncate(time.Millisecond)
	ids := map[string]bool{}
	for i, e := range res.Commit.Events {
		if e.ID == "" || ids[e.ID] {
			t.Errorf("event %d: id %q empty or repeated", i, e.ID)
		}
		ids[e.ID] = true
		want := events.Envelope{ID: e.ID, StreamID: "c1", StreamType: "counter", Version: int64(2 + i), Type: "TestAdded",
			SchemaVersion: counterSchemaVersion, Data: &added{By: 2 + i}, Actor: meta.Actor, CorrelationID: "req-42", RecordedAt: at}
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("event %d (-want +got):\n%s", i, diff)
		}
		if e.RecordedAt.Location() != time.UTC {
			t.Errorf("event %d recorded in %v, want UTC", i, e.RecordedAt.Location())
		}
	}
	state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1")
	if err != nil || version != 4 || state.Total != 10 {
		t.Errorf("Load = %+v, %d, %v; want total 10 at version 4", state, version, err)
	}
	if got := len(f.store.commits("c1")); got != 2 {
		t.Errorf("%d commits stored, want 2", got)
	}
}

func TestExecuteNoOpAppendsNothing(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", 7)
	appends, saves := f.store.appends, f.snaps.saves
	res, err := f.execute("c1", nil, commands.AnyVersion)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Commit != nil || res.Version != 1 || res.State.Total != 7 {
		t.Errorf("result = %+v, want the current state at version 1 and no commit", res)
	}
	if f.store.appends != appends || f.snaps.saves != saves || len(f.pub.got) != 0 {
		t.Errorf("a no-op appended %d, snapshotted %d, published %d", f.store.appends-appends, f.snaps.saves-saves, len(f.pub.got))
	}
}

func TestExecuteDecideErrorStoresNothing(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", 7)
	_, err := f.execute("c1", []int{1, -9}, commands.AnyVersion)
	if !errors.Is(err, errNegative) {
		t.Fatalf("err = %v, want errNegative", err)
	}
	if got := len(f.store.commits("c1")); got != 1 || f.snaps.saves != 0 || len(f.pub.got) != 0 {
		t.Errorf("after a refusal: %d commits, %d snapshots, %d published; want 1, 0, 0", got, f.snaps.saves, len(f.pub.got))
	}
}

func TestExecuteIfMatch(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", 1, 2)
	for _, stale := range []int64{0, 1, 3} {
		_, err := f.execute("c1", []int{5}, ifMatch(stale))
		if !errors.Is(err, commands.ErrPreconditionFailed) {
			t.Errorf("IfMatch %d: err = %v, want ErrPreconditionFailed", stale, err)
		}
	}
	if got := len(f.store.commits("c1")); got != 2 || f.store.appends != 2 {
		t.Fatalf("stale If-Match stored something: %d commits, %d appends", got, f.store.appends)
	}
	res, err := f.execute("c1", []int{5}, ifMatch(2))
	if err != nil || res.Version != 3 || res.State.Total != 8 {
		t.Errorf("current If-Match: %+v, %v; want version 3, total 8", res, err)
	}
}

func TestExecuteRetriesALostRace(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", 1)
	racing := &racingStore{memStore: f.store}
	f.x.Store = racing
	res, err := f.execute("c1", []int{5}, commands.AnyVersion)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if racing.injected != 1 || racing.attempts != 2 {
		t.Errorf("%d rivals, %d attempts; want 1, 2", racing.injected, racing.attempts)
	}
	// Both writers' events are stored; ours was decided again on top of the rival's.
	var totals []int
	for _, c := range f.store.commits("c1") {
		for _, e := range c.Events {
			totals = append(totals, e.Data.(*added).By)
		}
	}
	if diff := cmp.Diff([]int{1, 100, 5}, totals); diff != "" {
		t.Errorf("stored amounts (-want +got):\n%s", diff)
	}
	if res.Version != 3 || res.Commit.FirstVersion != 3 || res.State.Total != 106 {
		t.Errorf("result = %+v, want version 3, total 106", res)
	}
}

func TestExecuteConcurrentWritersAllSucceed(t *testing.T) {
	f := newFixture(t)
	f.x.Retries = 1000
	const writers = 16
	for _, err := range atOnce(writers, func() error {
		_, err := f.execute("c1", []int{1}, commands.AnyVersion)
		return err
	})() {
		if err != nil {
			t.Errorf("Execute: %v", err)
		}
	}
	state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1")
	if err != nil || version != writers || state.Total != writers {
		t.Errorf("Load = %+v, %d, %v; want total and version %d", state, version, err, writers)
	}
	if len(f.pub.got) != writers {
		t.Errorf("%d commits published, want %d", len(f.pub.got), writers)
	}
}

func TestExecuteIfMatchLostRace(t *testing.T) {
	f := newFixture(t)
	racing := &racingStore{memStore: f.store}
	f.x.Store = racing
	_, err := f.execute("c1", []int{5}, ifMatch(0))
	if !errors.Is(err, commands.ErrPreconditionFailed) {
		t.Fatalf("err = %v, want ErrPreconditionFailed", err)
	}
	if racing.attempts != 1 || len(f.store.froms) != 1 {
		t.Errorf("%d attempts after %d reads, want 1 and 1: a command with If-Match is never retried", racing.attempts, len(f.store.froms))
	}
	if c := f.store.commits("c1"); len(c) != 1 || c[0].Events[0].Data.(*added).By != 100 {
		t.Errorf("stored %+v, want only the rival's commit", c)
	}
}

func TestExecuteRetriesExhausted(t *testing.T) {
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprint(retries), func(t *testing.T) {
			f := newFixture(t)
			racing := &racingStore{memStore: f.store, always: true}
			f.x.Store, f.x.Retries = racing, retries
			_, err := f.execute("c1", []int{5}, commands.AnyVersion)
			if !errors.Is(err, commands.ErrVersionConflict) {
				t.Fatalf("err = %v, want ErrVersionConflict", err)
			}
			if racing.attempts != retries+1 {
				t.Errorf("%d attempts, want %d", racing.attempts, retries+1)
			}
			for _, c := range f.store.commits("c1") {
				if c.Events[0].Data.(*added).By != 100 {
					t.Errorf("our commit %s was stored", c.ID())
				}
			}
			if len(f.pub.got) != 0 {
				t.Errorf("published %d commits", len(f.pub.got))
			}
		})
	}
}

func snapshotOf(t *testing.T, id, schema string, version int64, s counter) commands.Snapshot {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return commands.Snapshot{StreamID: id, StreamType: "counter", Schema: schema, Version: version, State: raw}
}

// longStream is the commits of a stream long enough to have a snapshot
// worth loading: more than a load reads before it looks for one.
func longStream() []int {
	by := make([]int, 20)
	for i := range by {
		by[i] = 1
	}
	return by
}

func TestLoadStartsFromSnapshot(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", longStream()...)
	// The snapshot disagrees with the events on purpose: only then can the
	// result tell that it was used.
	f.snaps.snaps["c1"] = snapshotOf(t, "c1", "counter/1", 18, counter{ID: "c1", Total: 400, Adds: 200})
	state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counter{ID: "c1", Total: 402, Adds: 202}, state); diff != "" || version != 20 {
		t.Errorf("Load at version %d (-want +got):\n%s", version, diff)
	}
	// The first 8 commits say that the stream is longer; the snapshot
	// skips the 9th to the 18th.
	if diff := cmp.Diff([]int64{1, 19}, f.store.froms); diff != "" || f.store.served != 10 {
		t.Errorf("read from %v and got %d commits, want from [1 19] and 10 commits", f.store.froms, f.store.served)
	}
}

// TestLoadOfAShortStreamIsOneRead: a stream shorter than a load's first
// read is read whole at once, and no snapshot is looked up: none can be
// ahead of all its commits (one here is, and disagrees, and is not used).
func TestLoadOfAShortStreamIsOneRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for range 20 {
		f := newFixture(t)
		n := 1 + rng.IntN(7)
		by := make([]int, n)
		total := 0
		for i := range by {
			by[i] = rng.IntN(100)
			total += by[i]
		}
		f.seed(t, "c1", by...)
		f.snaps.snaps["c1"] = snapshotOf(t, "c1", "counter/1", int64(n), counter{ID: "c1", Total: -1, Adds: -1})
		state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(counter{ID: "c1", Total: total, Adds: n}, state); diff != "" || version != int64(n) {
			t.Errorf("%d commits: Load at version %d (-want +got):\n%s", n, version, diff)
		}
		if diff := cmp.Diff([]int64{1}, f.store.froms); diff != "" || f.store.served != n || f.snaps.loads != 0 {
			t.Errorf("%d commits: read from %v, got %d commits and looked up %d snapshots, want from [1], all and none",
				n, f.store.froms, f.store.served, f.snaps.loads)
		}
		// A command on it decides on what the load cached, reading nothing
		// more, and its append at the next version is taken.
		f.store.froms = nil
		if res, err := f.execute("c1", []int{5}, commands.AnyVersion); err != nil || res.State.Total != total+5 || res.Version != int64(n)+1 {
			t.Fatalf("%d commits: a command after the load: %+v at %d, %v", n, res.State, res.Version, err)
		}
		if len(f.store.froms) != 0 {
			t.Errorf("%d commits: the command read from %v, want nothing", n, f.store.froms)
		}
	}
	// Eight commits may be the first of more: the snapshot is looked up,
	// and the rest read.
	f := newFixture(t)
	f.seed(t, "c1", 1, 1, 1, 1, 1, 1, 1, 1)
	if state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1"); err != nil || state.Total != 8 || version != 8 {
		t.Fatalf("8 commits: %+v at %d, %v", state, version, err)
	}
	if diff := cmp.Diff([]int64{1, 9}, f.store.froms); diff != "" || f.snaps.loads != 1 {
		t.Errorf("8 commits: read from %v and looked up %d snapshots, want from [1 9] and one", f.store.froms, f.snaps.loads)
	}
}

// TestLoadOfANewStreamIsOneRead: a stream that does not exist yet has no
// snapshot to look for; its absent first commit is all a load reads.
func TestLoadOfANewStreamIsOneRead(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "c1", 1, 2)
	state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counter{ID: "c2"}, state); diff != "" || version != 0 {
		t.Errorf("Load at version %d (-want +got):\n%s", version, diff)
	}
	if diff := cmp.Diff([]int64{1}, f.store.froms); diff != "" || f.snaps.loads != 0 {
		t.Errorf("read from %v and looked up %d snapshots, want from [1] and none", f.store.froms, f.snaps.loads)
	}
	// A command on it starts from what the load cached.
	if _, err := f.execute("c2", []int{5}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if got, _, err := commands.Load(context.Background(), f.x, counterDecider, "c2"); err != nil || got.Total != 5 {
		t.Errorf("after a command: %+v, %v", got, err)
	}
}

func TestLoadIgnoresOtherSnapshots(t *testing.T) {
	other := snapshotOf(t, "c1", "counter/1", 18, counter{ID: "c1", Total: 40, Adds: 20})
	other.StreamType = "user"
	for name, snap := range map[string]commands.Snapshot{
		"another schema":      snapshotOf(t, "c1", "counter/0", 18, counter{ID: "c1", Total: 40, Adds: 20}),
		"another stream type": other,
		"unreadable state":    {StreamID: "c1", StreamType: "counter", Schema: "counter/1", Version: 18, State: []byte(`{"total":"many"`)},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.seed(t, "c1", longStream()...)
			f.snaps.snaps["c1"] = snap
			state, version, err := commands.Load(context.Background(), f.x, counterDecider, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(counter{ID: "c1", Total: 20, Adds: 20}, state); diff != "" || version != 20 {
				t.Errorf("Load at version %d (-want +got):\n%s", version, diff)
			}
			if diff := cmp.Diff([]int64{1, 9}, f.store.froms); diff != "" || f.store.served != 20 || f.snaps.loads != 1 {
				t.Errorf("read from %v, got %d commits and looked up %d snapshots, want the whole stream, from [1 9], and one",
					f.store.froms, f.store.served, f.snaps.loads)
			}
		})
	}
}

func TestExecuteSavesSnapshot(t *testing.T) {
	f := newFixture(t)
	f.x.SnapshotEvery = 1
	f.seed(t, "c1", longStream()...)
	res, err := f.execute("c1", []int{2, 3}, commands.AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.snaps.LoadSnapshot(context.Background(), "c1")
	if err != nil {
		t.Fatalf("no snapshot after a command: %v", err)
	}
	var state counter
	if err := json.Unmarshal(snap.State, &state); err != nil {
		t.Fatal(err)
	}
	if snap.Version != 22 || snap.Schema != "counter/1" || snap.StreamType != "counter" || snap.StreamID != "c1" {
		t.Errorf("snapshot = %+v, want counter/1 of c1 at version 22", snap)
	}
	if diff := cmp.Diff(res.State, state); diff != "" {
		t.Errorf("snapshot state (-result +snapshot):\n%s", diff)
	}
	// A process that has not cached the stream starts from the snapshot and
	// reads nothing older than it past its first read.
	f.x = f.coldExecutor()
	f.store.froms = nil
	if _, err := f.execute("c1", []int{4}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{1, 23}, f.store.froms); diff != "" {
		t.Errorf("read from (-want +got):\n%s", diff)
	}
}

// TestExecuteSnapshotsEveryN: by default a snapshot is written only after
// SnapshotEvery versions, so a command costs one write, not two.
func TestExecuteSnapshotsEveryN(t *testing.T) {
	f := newFixture(t)
	f.x.SnapshotEvery = 4
	for i := range 3 {
		if _, err := f.execute("c1", []int{i}, commands.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.snaps.LoadSnapshot(context.Background(), "c1"); !errors.Is(err, commands.ErrNoSnapshot) {
		t.Fatalf("snapshot before 4 versions: %v", err)
	}
	if _, err := f.execute("c1", []int{9}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	snap, err := f.snaps.LoadSnapshot(context.Background(), "c1")
	if err != nil || snap.Version != 4 {
		t.Fatalf("snapshot after 4 versions: %+v %v", snap, err)
	}
}

// TestExecuteCachedStateCatchesUp: a state cached by one process is only a
// starting point; commits another process appended are folded before deciding.
func TestExecuteCachedStateCatchesUp(t *testing.T) {
	f := newFixture(t)
	if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	other := f.coldExecutor() // another API process on the same store
	if _, err := counterDecider.Execute(context.Background(), other, "c1", add{By: []int{10}}, meta); err != nil {
		t.Fatal(err)
	}
	f.store.froms = nil
	res, err := f.execute("c1", []int{100}, commands.AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || res.State.Total != 111 {
		t.Fatalf("after another process's commit: version %d total %d, want 3 and 111", res.Version, res.State.Total)
	}
	if diff := cmp.Diff([]int64{2}, f.store.froms); diff != "" {
		t.Errorf("the warm process read from (-want +got):\n%s", diff)
	}
}

// TestExecuteWarmStreamReadsNothing: on a stream this process wrote last,
// a command is decided on the cached state and costs one append, no read.
func TestExecuteWarmStreamReadsNothing(t *testing.T) {
	f := newFixture(t)
	if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	f.store.froms, f.store.appends = nil, 0
	res, err := f.execute("c1", []int{2}, ifMatch(1))
	if err != nil || res.Version != 2 || res.State.Total != 3 {
		t.Fatalf("Execute = %+v, %v; want total 3 at version 2", res, err)
	}
	if len(f.store.froms) != 0 || f.store.appends != 1 {
		t.Errorf("%d reads (from %v) and %d appends, want 0 and 1", len(f.store.froms), f.store.froms, f.store.appends)
	}
}

// TestExecuteStaleCacheIsNeverTrusted: when another process moved the
// stream on, every outcome is the one the current state gives: the cached
// state's append collides and is decided again (without using up a retry),
// and outcomes that store nothing are confirmed on the current state.
func TestExecuteStaleCacheIsNeverTrusted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		by      []int
		expect  commands.Expected
		wantErr error
		version int64 // of the result
		total   int
	}{
		// The cache says total 1 at version 1; the store has 1 + 990 at version 2.
		{"accepted on the current state", []int{5}, commands.AnyVersion, nil, 3, 996},
		{"refused by a rule only the current state breaks", []int{20}, commands.AnyVersion, errOverLimit, 0, 0},
		{"accepted although the cached state breaks a rule", []int{-500}, commands.AnyVersion, nil, 3, 491},
		{"no-op answers the current version", nil, commands.AnyVersion, nil, 2, 991},
		{"If-Match of the current version", []int{5}, ifMatch(2), nil, 3, 996},
		{"If-Match of the cached version", []int{5}, ifMatch(1), commands.ErrPreconditionFailed, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.x.Retries = 0
			if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := counterDecider.Execute(context.Background(), f.coldExecutor(), "c1", add{By: []int{990}}, meta); err != nil {
				t.Fatal(err)
			}
			res, err := f.execute("c1", tc.by, tc.expect)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (res.Version != tc.version || res.State.Total != tc.total) {
				t.Errorf("result: version %d total %d, want %d and %d", res.Version, res.State.Total, tc.version, tc.total)
			}
			stored := 0
			for _, c := range f.store.commits("c1") {
				stored += len(c.Events)
			}
			if want := max(tc.version, 2); int64(stored) != want {
				t.Errorf("%d events stored, want %d", stored, want)
			}
		})
	}
}

func TestExecuteWithoutSnapshotStore(t *testing.T) {
	f := newFixture(t)
	f.x.Snapshots = nil
	f.seed(t, "c1", 1)
	res, err := f.execute("c1", []int{2}, commands.AnyVersion)
	if err != nil || res.Version != 2 || res.State.Total != 3 {
		t.Errorf("Execute = %+v, %v; want total 3 at version 2", res, err)
	}
}

func TestExecutePublishesAfterAppend(t *testing.T) {
	f := newFixture(t)
	res, err := f.execute("c1", []int{5, 6}, commands.AnyVersion)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]events.Commit{*res.Commit}, f.pub.got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if len(f.pub.notStored) != 0 {
		t.Errorf("published before it was stored: %v", f.pub.notStored)
	}
}

func TestExecutePublisherErrorDoesNotFailTheCommand(t *testing.T) {
	f := newFixture(t)
	f.pub.err = errors.New("bus down")
	var logged bytes.Buffer
	f.x.Log = slog.New(slog.NewTextHandler(&logged, nil))
	res, err := f.execute("c1", []int{5}, commands.AnyVersion)
	if err != nil {
		t.Fatalf("Execute: %v, want success: the commit is durable", err)
	}
	if !strings.Contains(logged.String(), "bus down") || !strings.Contains(logged.String(), res.Commit.ID()) {
		t.Errorf("the publish failure was not logged with the commit id: %q", logged.String())
	}
	if len(f.pub.got) != 1 || len(f.store.commits("c1")) != 1 || res.Version != 1 {
		t.Errorf("published %d, stored %d, version %d; want 1, 1, 1", len(f.pub.got), len(f.store.commits("c1")), res.Version)
	}
	f.x.Publisher = nil
	if res, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil || res.Version != 2 {
		t.Errorf("without a publisher: %+v, %v", res, err)
	}
}

func TestExecuteObservesOutcomes(t *testing.T) {
	f := newFixture(t)
	var got []string
	f.x.Observe = func(streamType, outcome string, _ time.Duration) { got = append(got, streamType+":"+outcome) }
	_, _ = f.execute("c1", []int{1}, commands.AnyVersion)
	_, _ = f.execute("c1", []int{1}, ifMatch(0))
	_, _ = f.execute("c1", []int{-5}, commands.AnyVersion)
	if diff := cmp.Diff([]string{"counter:ok", "counter:precondition-failed", "counter:error"}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func TestExecuteUnregisteredEventFails(t *testing.T) {
	f := newFixture(t)
	f.x.Registry = events.NewRegistry()
	_, err := f.execute("c1", []int{1}, commands.AnyVersion)
	if !errors.Is(err, events.ErrUnknownType) {
		t.Errorf("err = %v, want ErrUnknownType", err)
	}
	if len(f.store.commits("c1")) != 0 || f.store.appends != 0 {
		t.Error("an event of an unregistered type was stored")
	}
}

func TestErrorIsMatchesByCode(t *testing.T) {
	withFields := commands.Invalid(commands.FieldError{Field: "title", Message: "is required"})
	if !errors.Is(fmt.Errorf("wrapped: %w", withFields), commands.Invalid()) {
		t.Error("a validation with fields does not match the bare one")
	}
	if errors.Is(commands.ErrNotFound, commands.ErrForbidden) {
		t.Error("different codes match")
	}
	if errors.Is(commands.ErrNotFound, errors.New("not-found: not found")) {
		t.Error("an error that is not a *commands.Error matches")
	}
	var v commands.Validation
	if v.Err() != nil {
		t.Error("an empty validation is an error")
	}
	v.Add("a", "x")
	v.Add("b", "y")
	e, ok := commands.AsError(v.Err())
	if !ok || e.Kind != commands.KindInvalid || len(e.Fields) != 2 {
		t.Errorf("validation error = %#v", v.Err())
	}
}

// TestExecuteNewReadsNothing: a command on a stream the caller just named
// is decided on the initial state and appended without a read; if the
// stream exists after all, it is decided again on what is stored.
func TestExecuteNewReadsNothing(t *testing.T) {
	f := newFixture(t)
	res, err := counterDecider.ExecuteNew(context.Background(), f.x, "fresh", add{By: []int{4}}, meta)
	if err != nil || res.Version != 1 || res.State.Total != 4 {
		t.Fatalf("ExecuteNew = %+v, %v; want total 4 at version 1", res, err)
	}
	if len(f.store.froms) != 0 || f.store.appends != 1 {
		t.Errorf("%d reads and %d appends, want 0 and 1", len(f.store.froms), f.store.appends)
	}

	f.seed(t, "taken", 990)
	res, err = counterDecider.ExecuteNew(context.Background(), f.x, "taken", add{By: []int{5}}, meta)
	if err != nil || res.Version != 2 || res.State.Total != 995 {
		t.Fatalf("on an existing stream: %+v, %v; want total 995 at version 2", res, err)
	}
	if _, err := counterDecider.ExecuteNew(context.Background(), f.coldExecutor(), "taken", add{By: []int{20}}, meta); !errors.Is(err, errOverLimit) {
		t.Errorf("a rule the stored state breaks: %v, want errOverLimit", err)
	}
}

// uncertainStore stores a commit, then reports an error, as an append whose
// answer was lost (a timeout after the store took it).
type uncertainStore struct{ *memStore }

func (u uncertainStore) Append(ctx context.Context, c events.Commit) error {
	if err := u.memStore.Append(ctx, c); err != nil {
		return err
	}
	return errors.New("connection reset after the write")
}

// TestCacheHoldsALargeCohort: the states a sole writer caches hold a
// cohort of 12,000 students and more (an address, a user and a record
// each, some 36,000 streams): a file of them imported again decides every
// row on what it cached and reads nothing from the store. With room for
// 20,000 states such a file, read in the order it was written, found
// none of them cached, each time it was posted.
func TestCacheHoldsALargeCohort(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	streams := 25000 + rng.IntN(35000)
	f := newFixture(t)
	f.x.Sole = true
	for i := range streams {
		if _, err := f.execute(fmt.Sprint("s", i), []int{i % 100}, commands.AnyVersion); err != nil {
			t.Fatal(err)
		}
	}
	f.store.froms = nil
	for i := range streams {
		state, version, err := commands.Load(context.Background(), f.x, counterDecider, fmt.Sprint("s", i))
		if err != nil || state.Total != i%100 || version != 1 {
			t.Fatalf("stream %d: %+v at %d, %v", i, state, version, err)
		}
	}
	if len(f.store.froms) != 0 {
		t.Errorf("%d streams loaded again read the store %d times, want none", streams, len(f.store.froms))
	}
}

// TestSoleWriterTrustsItsCache: an executor that is its store's only
// writer loads a stream it cached without reading the store, and what it
// loads is always the store's state: after its own appends, after an
// append whose outcome it could not know (stored after all), and after a
// race it lost, each of which makes it read the store again.
func TestSoleWriterTrustsItsCache(t *testing.T) {
	ctx := context.Background()
	load := func(t *testing.T, x *commands.Executor, id string) (counter, int64) {
		t.Helper()
		s, v, err := commands.Load(ctx, x, counterDecider, id)
		if err != nil {
			t.Fatal(err)
		}
		return s, v
	}
	t.Run("own appends", func(t *testing.T) {
		f := newFixture(t)
		f.x.Sole = true
		for _, n := range []int{1, 2, 3} {
			if _, err := f.execute("c1", []int{n}, commands.AnyVersion); err != nil {
				t.Fatal(err)
			}
		}
		f.store.froms = nil
		if s, v := load(t, f.x, "c1"); s.Total != 6 || v != 3 || len(f.store.froms) != 0 {
			t.Fatalf("Load = total %d at %d after %d reads, want 6 at 3 after none", s.Total, v, len(f.store.froms))
		}
	})
	t.Run("unknown outcome", func(t *testing.T) {
		f := newFixture(t)
		f.x.Sole = true
		if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
			t.Fatal(err)
		}
		f.x.Store = uncertainStore{f.store}
		if _, err := f.execute("c1", []int{10}, commands.AnyVersion); err == nil {
			t.Fatal("the append's error was not reported")
		}
		f.x.Store = f.store
		if s, v := load(t, f.x, "c1"); s.Total != 11 || v != 2 {
			t.Fatalf("Load = total %d at %d, want 11 at 2 (the commit was stored)", s.Total, v)
		}
	})
	t.Run("lost race", func(t *testing.T) {
		f := newFixture(t)
		f.x.Sole = true
		if _, err := f.execute("c1", []int{1}, commands.AnyVersion); err != nil {
			t.Fatal(err)
		}
		f.x.Store = &racingStore{memStore: f.store}
		// With a version expected, the lost race is a refusal, not retried.
		if _, err := f.execute("c1", []int{5}, ifMatch(1)); !errors.Is(err, commands.ErrPreconditionFailed) {
			t.Fatalf("err = %v, want ErrPreconditionFailed", err)
		}
		f.x.Store = f.store
		if s, v := load(t, f.x, "c1"); s.Total != 101 || v != 2 {
			t.Fatalf("Load = total %d at %d, want 101 at 2 (the rival's commit)", s.Total, v)
		}
		f.x.Store = &racingStore{memStore: f.store}
		if res, err := f.execute("c1", []int{5}, commands.AnyVersion); err != nil || res.State.Total != 206 {
			t.Fatalf("Execute = %+v, %v; want total 206 after a retry", res.State, err)
		}
		f.x.Store = f.store
		if s, v := load(t, f.x, "c1"); s.Total != 206 || v != 4 {
			t.Fatalf("Load = total %d at %d, want 206 at 4", s.Total, v)
		}
	})
}

// slowStore takes a moment over each append, as a real store does, so that
// concurrent commands of one stream overlap.
type slowStore struct {
	*memStore
	delay time.Duration
}

func (s slowStore) Append(ctx context.Context, c events.Commit) error {
	time.Sleep(s.delay)
	return s.memStore.Append(ctx, c)
}

// TestExecuteBurstOnOneStreamTakesTurns: a burst of commands without an
// expected version on one stream, with the executor's default retries,
// all succeed in one process, each on the state the one before it left,
// while a command of another stream does not wait behind them; and one
// still waiting for its turn gives up when its context ends.
func TestExecuteBurstOnOneStreamTakesTurns(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	f := newFixture(t)
	const delay = 2 * time.Millisecond
	f.x.Store = slowStore{memStore: f.store, delay: delay}
	writers := 12 + rng.IntN(20)
	wait := atOnce(writers, func() error {
		_, err := f.execute("burst", []int{1}, commands.AnyVersion)
		return err
	})
	time.Sleep(delay)
	began := time.Now()
	if _, err := f.execute("other", []int{1}, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Duration(writers)*delay {
		t.Errorf("a command of another stream took %s during a burst of %d on one stream: it waited for them", took, writers)
	}
	for _, err := range wait() {
		if err != nil {
			t.Errorf("Execute: %v", err)
		}
	}
	state, version, err := commands.Load(context.Background(), f.x, counterDecider, "burst")
	if err != nil || version != int64(writers) || state.Total != writers {
		t.Errorf("after a burst of %d: Load = %+v, %d, %v; want total and version %d", writers, state, version, err, writers)
	}

	ctx, cancel := context.WithCancel(context.Background())
	hold := make(chan struct{})
	f.x.Store = blockingStore{memStore: f.store, hold: hold}
	held := make(chan error, 1)
	go func() { // holds the turn, blocked in its append
		_, err := counterDecider.ExecuteAt(context.Background(), f.x, "burst", commands.AnyVersion, add{By: []int{1}}, meta)
		held <- err
	}()
	time.Sleep(10 * time.Millisecond)
	waited := make(chan error, 1)
	go func() {
		_, err := counterDecider.ExecuteAt(ctx, f.x, "burst", commands.AnyVersion, add{By: []int{1}}, meta)
		waited <- err
	}()
	cancel()
	select {
	case err := <-waited:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a command waiting for its turn after its context ended: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a command waiting for its turn did not give up when its context ended")
	}
	close(hold)
	if err := <-held; err != nil {
		t.Errorf("the command that held the turn: %v", err)
	}
}

// blockingStore holds each append until hold is closed.
type blockingStore struct {
	*memStore
	hold chan struct{}
}

func (s blockingStore) Append(ctx context.Context, c events.Commit) error {
	<-s.hold
	return s.memStore.Append(ctx, c)
}

// TestSoleWriterCachesPastAFullCache: once the cache of stream states is
// full, every state added evicts another; a sole writer's load of a stream
// it had not cached must still cache what it read (unless that stream's own
// entry left meanwhile), so the next load of it reads nothing. With loads
// watching every departure from the cache, a full cache under load made
// nearly every load read the store again.
func TestSoleWriterCachesPastAFullCache(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the cache: tens of thousands of commands")
	}
	f := newFixture(t)
	f.x.Sole = true
	cold := f.coldExecutor()
	const targets = 300
	for i := range targets {
		if _, err := counterDecider.ExecuteAt(context.Background(), cold, fmt.Sprint("t", i), commands.AnyVersion, add{By: []int{1}}, meta); err != nil {
			t.Fatal(err)
		}
	}
	// A read of a target takes a moment, as a real store's does, while the
	// writers go on evicting.
	f.x.Store = slowReads{memStore: f.store, prefix: "t", delay: time.Millisecond}
	var created atomic.Int64
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.execute(fmt.Sprintf("w%d-%d", w, i), []int{1}, commands.AnyVersion); err != nil {
					t.Error(err)
					return
				}
				created.Add(1)
			}
		})
	}
	for created.Load() < commands.StateCacheSize+1000 { // past the cache's room: each new one evicts another
		time.Sleep(10 * time.Millisecond)
	}
	hits := 0
	for i := range targets {
		id := fmt.Sprint("t", i)
		reads := func() int {
			f.store.mu.Lock()
			defer f.store.mu.Unlock()
			return f.store.readsOf[id]
		}
		var before int
		for load := range 2 {
			before = reads()
			if s, v, err := commands.Load(context.Background(), f.x, counterDecider, id); err != nil || v != 1 || s.Total != 1 {
				t.Fatalf("Load(%s) = %+v at %d, %v", id, s, v, err)
			}
			if load == 0 && reads() == before {
				t.Fatalf("the first load of %s, never cached here, read nothing", id)
			}
		}
		if reads() == before {
			hits++
		}
	}
	close(stop)
	writers.Wait()
	t.Logf("%d of %d second loads read nothing, with %d streams created meanwhile", hits, targets, created.Load())
	if hits < targets/2 {
		t.Fatalf("of %d streams loaded twice while the full cache evicted, %d were read once (the second load cached): want most", targets, hits)
	}
}

// slowReads takes a moment over each read of a stream whose id starts with
// prefix.
type slowReads struct {
	*memStore
	prefix string
	delay  time.Duration
}

func (s slowReads) ReadStream(ctx context.Context, id string, opts events.ReadOptions) ([]events.Commit, error) {
	if strings.HasPrefix(id, s.prefix) {
		time.Sleep(s.delay)
	}
	return s.memStore.ReadStream(ctx, id, opts)
}

// atOnce starts n calls of fn, released together, and returns a function
// that waits for them all and returns their errors.
func atOnce(n int, fn func() error) (wait func() []error) {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	return func() []error {
		wg.Wait()
		return errs
	}
}

// TestDeferredSnapshotsSaveOncePerStream: under DeferSnapshots (an
// import), commands that each bring a stream past SnapshotEvery versions
// save nothing as they append; the batch's end saves each stream once, at
// its last version, and a process that has not cached it starts there.
// Without it, every such command saves one.
func TestDeferredSnapshotsSaveOncePerStream(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		f := newFixture(t)
		f.x.SnapshotEvery = 4
		ctx, save := context.Background(), func(context.Context) {}
		if deferred {
			ctx, save = commands.DeferSnapshots(ctx)
		}
		for range 20 {
			for _, id := range []string{"c1", "c2"} {
				if _, err := counterDecider.Execute(ctx, f.x, id, add{By: []int{1, 1, 1, 1, 1}}, meta); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := 40
		if deferred {
			if f.snaps.saves != 0 {
				t.Fatalf("deferred: %d snapshots saved before the batch's end, want none", f.snaps.saves)
			}
			save(ctx)
			save(ctx) // nothing more is due
			want = 2
		}
		if f.snaps.saves != want {
			t.Fatalf("deferred %v: %d snapshots saved for 2 streams of 20 commands, want %d", deferred, f.snaps.saves, want)
		}
		for _, id := range []string{"c1", "c2"} {
			if snap, err := f.snaps.LoadSnapshot(ctx, id); err != nil || snap.Version != 100 {
				t.Fatalf("deferred %v: the snapshot of %s: %+v %v, want version 100", deferred, id, snap, err)
			}
		}
		f.x = f.coldExecutor()
		f.store.froms = nil
		res, err := f.execute("c1", []int{1}, commands.AnyVersion)
		if err != nil || res.State.Total != 101 {
			t.Fatalf("deferred %v: a cold process's command: total %d, %v; want 101", deferred, res.State.Total, err)
		}
		if diff := cmp.Diff([]int64{1, 101}, f.store.froms); diff != "" {
			t.Errorf("deferred %v: the cold process read from (-want +got):\n%s", deferred, diff)
		}
	}
}
