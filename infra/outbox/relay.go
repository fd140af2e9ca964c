package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// CommitLoader reads a commit by id from the event store.
type CommitLoader interface {
	LoadCommit(ctx context.Context, commitID string) (events.Commit, bool, error)
}

// Relay publishes the commits that their writer did not: after a crash, a
// failed publish or a timeout. Only the holder of the lease sweeps, so
// several relays can run for availability and one publishes at a time.
type Relay struct {
	Coll      *mongo.Collection // the outbox collection
	Commits   CommitLoader
	Publisher commands.Publisher
	Lease     *Lease
	Log       *slog.Logger
	// Interval between sweeps; MinAge leaves a young group to its writer;
	// GiveUp drops an id whose commit never appeared (its append failed or
	// never happened).
	Interval, MinAge, GiveUp time.Duration
	// Settled, when set, is a time before which no group is in flight: its
	// writers are gone (a process that took the store alone sets its own
	// start), so older groups are neither left to them (MinAge) nor waited
	// on for commits that never appeared (GiveUp). After a crash and a
	// restart, the crashed process's commits are published at once.
	Settled time.Time
	Workers int
	// SweepFor bounds a sweep's time (zero: half the lease's TTL), so that
	// it ends while its lease holds: past it, a sweep starts no publish and
	// leaves the groups it did not finish for the next, which Run starts at
	// once after renewing the lease. A sweep of the thousand groups an
	// outage of the bus leaves, each publish waiting seconds on the
	// unreachable bus, could outlast its lease, and another relay then
	// publish the same commits beside it.
	SweepFor time.Duration
	// Backlog, when set, is told the number of commit ids waiting (metrics).
	Backlog func(n int)
	// Published, when set, is told how many commits a sweep published.
	Published func(n int)
	// Skip, when set, is asked about each group old enough: true leaves it
	// to its writer (Outbox.Holds of a writer in the same process).
	Skip func(groupID string) bool
}

// Run sweeps until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	sweepEvery(ctx, r.Interval, r.Lease, r.Log, "relay", r.sweep)
}

// Sweep publishes every stored commit of every group old enough, then
// deletes the group. The outbox holds only commits in flight, so this reads
// a handful of documents, never the events collection.
func (r *Relay) Sweep(ctx context.Context) error {
	_, err := r.sweep(ctx)
	return err
}

// sweep is Sweep, and reports too whether its time ran out before it had
// published every group it found ready (more: sweep again at once).
func (r *Relay) sweep(ctx context.Context) (more bool, err error) {
	until := time.Now().Add(sweepFor(r.SweepFor, r.Lease))
	groups, backlog, err := loadGroups(ctx, r.Coll)
	if err != nil {
		return false, err
	}
	if r.Backlog != nil {
		r.Backlog(backlog)
	}
	now := time.Now()
	var ready []groupDoc
	for _, g := range groups {
		if (now.Sub(g.CreatedAt) >= r.MinAge || g.CreatedAt.Before(r.Settled)) && (r.Skip == nil || !r.Skip(g.ID)) {
			ready = append(ready, g)
		}
	}
	published, done, left, late, err := r.settle(ctx, ready, now, until)
	if r.Published != nil && published > 0 {
		r.Published(published)
	}
	return late && published > 0, errors.Join(err, deleteGroups(ctx, r.Coll, done), narrowGroups(ctx, r.Coll, left))
}

// settle publishes the stored commits of the groups, all through one pool of
// workers, and returns the groups that are done: every commit published, or
// dropped because it never appeared within GiveUp. It starts no publish
// after until but the first: the groups it did not reach wait (late). Of a
// group it settled some commits of but not all, left holds the commits
// still waiting, which the group is narrowed to: the next sweep goes on
// from them. A group of 255 commits once took a slow store longer than a
// sweep, and each sweep published its first commits again, and never its
// last: a relay kept the store busy with duplicates long after the writes
// had stopped.
func (r *Relay) settle(ctx context.Context, groups []groupDoc, now, until time.Time) (published int, done []string, left map[string][]string, late bool, err error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		pending = map[string]map[string]bool{} // of a group that waits, its commits not settled
	)
	wait := func(groupID, commitID string) { // under mu
		if pending[groupID] == nil {
			pending[groupID] = map[string]bool{}
		}
		pending[groupID][commitID] = true
	}
	sem := make(chan struct{}, max(r.Workers, 1))
	started := 0
	for _, g := range groups {
		for _, id := range g.CommitIDs {
			sem <- struct{}{}
			if started > 0 && time.Now().After(until) { // the first whatever the time: each sweep gets on
				<-sem
				mu.Lock()
				wait(g.ID, id)
				late = true
				mu.Unlock()
				continue
			}
			started++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, found, lerr := r.Commits.LoadCommit(ctx, id)
				if lerr == nil && found {
					lerr = r.Publisher.Publish(ctx, c)
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case lerr != nil:
					err = errors.Join(err, lerr)
					wait(g.ID, id)
				case found:
					published++
				case now.Sub(g.CreatedAt) < r.GiveUp && !g.CreatedAt.Before(r.Settled):
					wait(g.ID, id)
				}
			}()
		}
	}
	wg.Wait()
	left = map[string][]string{}
	for _, g := range groups {
		if len(pending[g.ID]) == 0 {
			done = append(done, g.ID)
			continue
		}
		var rest []string
		for _, id := range g.CommitIDs {
			if pending[g.ID][id] {
				rest = append(rest, id)
			}
		}
		if len(rest) < len(g.CommitIDs) {
			left[g.ID] = rest
		}
	}
	return published, done, left, late, err
}

// narrowGroups leaves in each group of left only the commit ids given, the
// ones a sweep did not settle. A group is written once by its writer and
// otherwise only deleted, so the narrowing overwrites nobody's change; a
// group deleted meanwhile (its writer published it) is left deleted.
func narrowGroups(ctx context.Context, coll *mongo.Collection, left map[string][]string) error {
	var errs []error
	for id, rest := range left {
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "commit_ids", Value: rest}}}})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Groups is db's outbox collection, which a Relay sweeps and Backlog counts.
func Groups(db *mongo.Database) *mongo.Collection { return db.Collection(Collection) }

// Backlog counts the commit ids waiting in the outbox.
func Backlog(ctx context.Context, coll *mongo.Collection) (int, error) {
	_, n, err := loadGroups(ctx, coll)
	return n, err
}

// loadGroups reads the groups in flight (the outbox holds only those, so
// this is a handful of documents) and counts their commit ids.
func loadGroups(ctx context.Context, coll *mongo.Collection) ([]groupDoc, int, error) {
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetLimit(1000))
	if err != nil {
		return nil, 0, err
	}
	var groups []groupDoc
	if err := cur.All(ctx, &groups); err != nil {
		return nil, 0, err
	}
	n := 0
	for _, g := range groups {
		n += len(g.CommitIDs)
	}
	return groups, n, nil
}
