// Package status tells how far each projection has got, across every
// process that runs it: a [Tracker] in each process counts what its
// projectors apply and writes it down every couple of seconds, never on a
// commit's path; [Report] sums what every process wrote. Where the figures
// are kept is the [Store]'s, implemented on MongoDB in infra/mongo.
package status

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/capstone-pms/capstone/events"
)

// Record is one process's figures for one projection.
type Record struct {
	ID         string // projection@instance
	Projection string
	Applied    int64
	Failed     int64
	Position   time.Time // the recording time of the newest commit applied
	LagSeconds float64   // from that commit's append to its application
	UpdatedAt  time.Time
	// Stopped is set by a process that shut down: it no longer counts as
	// an instance, at once rather than a minute later.
	Stopped bool
}

// Store keeps every process's records.
type Store interface {
	// Save writes a record, replacing the one with its id.
	Save(ctx context.Context, r Record) error
	// All returns every record.
	All(ctx context.Context) ([]Record, error)
}

// flushEvery is how often a Tracker writes its figures down.
const flushEvery = 2 * time.Second

// Tracker counts what this process's projectors apply.
type Tracker struct {
	mu       sync.Mutex
	records  map[string]*Record
	instance string
}

// NewTracker counts this process (instance) as one of each projection's
// from its start, not from the first commit it happens to apply: with
// replicas sharing a subscription, one may apply nothing of a projection
// for a while, and the instances would differ from one projection to the
// next.
func NewTracker(instance string, projections []string) *Tracker {
	t := &Tracker{records: map[string]*Record{}, instance: instance}
	for _, p := range projections {
		t.record(p)
	}
	return t
}

// record is the projection's record; t.mu is held.
func (t *Tracker) record(projection string) *Record {
	r, ok := t.records[projection]
	if !ok {
		r = &Record{ID: projection + "@" + t.instance, Projection: projection}
		t.records[projection] = r
	}
	return r
}

// Observe counts one commit a projection applied, or failed to (it fits
// bus.Consumer.Observe).
func (t *Tracker) Observe(projection string, c events.Commit, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.record(projection)
	if err != nil {
		r.Failed++
		return
	}
	r.Applied++
	if c.RecordedAt.After(r.Position) { // a redelivered old commit moves nothing
		r.Position = c.RecordedAt
		r.LagSeconds = max(0, time.Since(c.RecordedAt).Seconds())
	}
}

// Run writes the figures to store every couple of seconds until ctx ends,
// and last as stopped. The first write is Announce's, before Run.
func (t *Tracker) Run(ctx context.Context, store Store) {
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = t.flush(context.WithoutCancel(ctx), store, true)
			return
		case <-tick.C:
			_ = t.flush(ctx, store, false)
		}
	}
}

// flush writes every record; Run's are best effort, the next one comes soon.
func (t *Tracker) flush(ctx context.Context, store Store, stopped bool) error {
	t.mu.Lock()
	var records []Record
	for _, r := range t.records {
		c := *r
		c.UpdatedAt, c.Stopped = time.Now().UTC(), stopped
		records = append(records, c)
	}
	t.mu.Unlock()
	var errs []error
	for _, r := range records {
		if err := store.Save(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Announce writes the figures down a first time, before Run: a process
// does it before its projectors start, so that every process that projects
// is on record before it writes a read model (a rebuild counts on that;
// see Others).
func (t *Tracker) Announce(ctx context.Context, store Store) error {
	return t.flush(ctx, store, false)
}

// Others reports whether a process other than instance runs projectors (or
// did until it went silent less than silentFor ago without saying it
// stopped).
func Others(ctx context.Context, store Store, instance string) (bool, error) {
	records, err := store.All(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range records {
		if running(r) && !strings.HasSuffix(r.ID, "@"+instance) {
			return true, nil
		}
	}
	return false, nil
}

// running reports whether a record's process counts as running.
func running(r Record) bool { return !r.Stopped && time.Since(r.UpdatedAt) < silentFor }

// Projection is how far one projection has got, over every process.
type Projection struct {
	Name string
	// Collection currently serving the read model.
	Collection string
	// Position is the recording time of the newest commit applied.
	Position *time.Time
	// LagSeconds is the largest lag of a running instance.
	LagSeconds float64
	Applied    int64
	Failed     int64
	// Instances are the processes running this projection: each counts
	// from its start until it stops (or a minute after it last wrote).
	Instances int
}

// silentFor is how long after its last write a process that did not say
// it stopped still counts as an instance.
const silentFor = time.Minute

// Report sums every process's records for each of the named projections,
// sorted by name; collection says which collection serves each.
func Report(ctx context.Context, store Store, names []string, collection func(ctx context.Context, name string) string) ([]Projection, error) {
	records, err := store.All(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Projection{}
	for _, n := range names {
		byName[n] = &Projection{Name: n, Collection: collection(ctx, n)}
	}
	for _, r := range records {
		st, ok := byName[r.Projection]
		if !ok {
			continue
		}
		st.Applied += r.Applied
		st.Failed += r.Failed
		if !r.Position.IsZero() && (st.Position == nil || r.Position.After(*st.Position)) {
			p := r.Position.UTC()
			st.Position = &p
		}
		if running(r) {
			st.Instances++
			st.LagSeconds = max(st.LagSeconds, r.LagSeconds)
		}
	}
	out := []Projection{}
	for _, n := range names {
		out = append(out, *byName[n])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
