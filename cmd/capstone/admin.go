package main

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
)

// collProjectionStatus holds, per projection and process, how far it got.
const collProjectionStatus = "projection_status"

// statusDoc is one process's figures for one projection.
type statusDoc struct {
	ID         string    `bson:"_id"` // projection@instance
	Projection string    `bson:"projection"`
	Applied    int64     `bson:"applied"`
	Failed     int64     `bson:"failed"`
	Position   time.Time `bson:"position"`
	LagSeconds float64   `bson:"lag_seconds"`
	UpdatedAt  time.Time `bson:"updated_at"`
	// Stopped is set by a process that shut down: it no longer counts as
	// an instance, at once rather than a minute later.
	Stopped bool `bson:"stopped"`
}

// statusTracker counts what this process's projectors apply and writes it
// down every couple of seconds (batched: never on a commit's path).
type statusTracker struct {
	mu       sync.Mutex
	docs     map[string]*statusDoc
	instance string
}

func newStatusTracker(instance string) *statusTracker {
	return &statusTracker{docs: map[string]*statusDoc{}, instance: instance}
}

// register counts this process as an instance of a projection from its
// start, not from the first commit it happens to apply: with replicas
// sharing a subscription, one may apply nothing of a projection for a
// while, and the instances would differ from one projection to the next.
func (t *statusTracker) register(projection string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doc(projection)
}

func (t *statusTracker) doc(projection string) *statusDoc {
	d, ok := t.docs[projection]
	if !ok {
		d = &statusDoc{ID: projection + "@" + t.instance, Projection: projection}
		t.docs[projection] = d
	}
	return d
}

// observe fits bus.Consumer.Observe.
func (t *statusTracker) observe(projection string, c events.Commit, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.doc(projection)
	if err != nil {
		d.Failed++
		return
	}
	d.Applied++
	if c.RecordedAt.After(d.Position) { // a redelivered old commit moves nothing
		d.Position = c.RecordedAt
		d.LagSeconds = max(0, time.Since(c.RecordedAt).Seconds())
	}
}

// run flushes the figures until ctx ends, at once and then every couple of
// seconds, and last as stopped.
func (t *statusTracker) run(ctx context.Context, coll *mongo.Collection) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	t.flush(ctx, coll, false)
	for {
		select {
		case <-ctx.Done():
			t.flush(context.WithoutCancel(ctx), coll, true)
			return
		case <-tick.C:
			t.flush(ctx, coll, false)
		}
	}
}

func (t *statusTracker) flush(ctx context.Context, coll *mongo.Collection, stopped bool) {
	t.mu.Lock()
	var docs []statusDoc
	for _, d := range t.docs {
		c := *d
		c.UpdatedAt, c.Stopped = time.Now().UTC(), stopped
		docs = append(docs, c)
	}
	t.mu.Unlock()
	for _, d := range docs {
		_, _ = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, d, options.Replace().SetUpsert(true))
	}
}

// Projections reports each projection's progress, from every process.
func (a *App) Projections(ctx context.Context) (api.ProjectionsReport, error) {
	cur, err := a.store.DB.Collection(collProjectionStatus).Find(ctx, bson.D{})
	if err != nil {
		return api.ProjectionsReport{}, err
	}
	var docs []statusDoc
	if err := cur.All(ctx, &docs); err != nil {
		return api.ProjectionsReport{}, err
	}
	rm := imongo.NewReadModels(a.store.DB)
	byName := map[string]*api.ProjectionStatus{}
	for _, n := range ProjectionNames() {
		byName[n] = &api.ProjectionStatus{Name: n, Collection: rm.Physical(ctx, n)}
	}
	for _, d := range docs {
		st, ok := byName[d.Projection]
		if !ok {
			continue
		}
		st.Applied += d.Applied
		st.Failed += d.Failed
		if !d.Position.IsZero() && (st.Position == nil || d.Position.After(*st.Position)) {
			p := d.Position.UTC()
			st.Position = &p
		}
		if !d.Stopped && time.Since(d.UpdatedAt) < time.Minute {
			st.Instances++
			st.LagSeconds = max(st.LagSeconds, d.LagSeconds)
		}
	}
	rep := api.ProjectionsReport{Items: []api.ProjectionStatus{}}
	for _, n := range ProjectionNames() {
		rep.Items = append(rep.Items, *byName[n])
	}
	sort.Slice(rep.Items, func(i, j int) bool { return rep.Items[i].Name < rep.Items[j].Name })
	if rep.OutboxBacklog, err = outbox.Backlog(ctx, a.store.DB.Collection(outbox.Collection)); err != nil {
		return rep, err
	}
	a.rebuildMu.Lock()
	if a.rebuild != nil {
		st := *a.rebuild
		rep.Rebuild = &st
	}
	a.rebuildMu.Unlock()
	return rep, nil
}

// StartRebuild runs a rebuild in the background; its progress shows in Projections.
func (a *App) StartRebuild(names []string, verify bool) (api.RebuildState, error) {
	if err := checkProjectionNames(names); err != nil {
		return api.RebuildState{}, err
	}
	a.rebuildMu.Lock()
	defer a.rebuildMu.Unlock()
	if a.rebuild != nil && a.rebuild.Running {
		return *a.rebuild, api.ErrRebuildRunning
	}
	st := &api.RebuildState{Running: true, Projections: names, Verify: verify, Phase: "starting", StartedAt: time.Now().UTC()}
	if len(st.Projections) == 0 {
		st.Projections = ProjectionNames()
	}
	a.rebuild = st
	go func() {
		res, err := a.Rebuild(context.Background(), names, verify, func(p RebuildProgress) {
			a.rebuildMu.Lock()
			st.Phase, st.Commits, st.Total = p.Phase, p.Commits, p.Total
			a.rebuildMu.Unlock()
		})
		a.rebuildMu.Lock()
		defer a.rebuildMu.Unlock()
		now := time.Now().UTC()
		st.Running, st.FinishedAt, st.Differences = false, &now, res.Differences
		if err != nil {
			st.Error = err.Error()
			a.log.Error("rebuild failed", "err", err)
		}
	}()
	return *st, nil
}
