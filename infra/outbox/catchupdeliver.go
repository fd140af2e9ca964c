package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/capstone-pms/capstone/events"
)

// sweepChunk bounds the commit ids a sweep loads and delivers at once: the
// commits in hand are those of one chunk, not of every entry the sweep read
// (up to Batch entries, each a group of commits).
const sweepChunk = 1024

// hurryFrom is how many commits a chunk must lack, once the projections
// are current, for the catch-up to load and deliver them Workers at once:
// fewer are what the bus lost now and then, or what the applied log forgot,
// and go one at a time behind the live traffic; this many, or more, mean the
// bus is not delivering (Pub/Sub out of reach, its subscriptions lost), and
// the catch-up is all that keeps the read models current. One at a time it
// applied about 30 commits a second, far below a busy API's writes.
const hurryFrom = 64

// wanted is a commit that a projection may lack, as apply hands it over.
type wanted struct {
	entry int // its entry's index in the chunk
	id    string
	from  *loaded
	err   error // delivering it failed
}

// loaded is a commit as apply read it from the store: nil when it is not
// stored (or could not be read, err); late when this sweep's time was up
// before it was read.
type loaded struct {
	commit *events.Commit
	err    error
	late   bool
}

// apply loads and delivers what each projection lacks of a chunk of
// entries: the commits of each stream to each projection one after the
// other in the log's order (as the bus hands a stream's commits to one
// worker), and those of different streams, and different projections, up
// to Workers at once: one at a time unless the chunk is the backlog after
// a crash, or lacks hurryFrom commits or more. After a crash the chunk is
// the dead process's last second or so of commits, most of which the read
// models already hold: one at a time, each a store round trip or two, they
// kept a restarted process unready many times as long as they had taken
// to store.
//
// It starts no load after until (the sweep's time is up), so that the
// sweep ends while its lease holds: what it did not load is lacking, for
// the next sweep. What it loaded it delivers, so every sweep gets on.
//
// lacking[i][e] is true when projection i lacks some commit of entry e
// still: one not stored yet (its append may be in flight), one that
// failed to load or to apply, or one not reached by until. It also returns
// how many commits it applied.
func (c *CatchUp) apply(ctx context.Context, chunk []LogEntry, cps []int64, now, until time.Time, backlog bool) (lacking [][]bool, applied int, err error) {
	lacking = make([][]bool, len(c.Targets))
	need := make([][]*wanted, len(c.Targets))
	loads := map[string]*loaded{}
	var ids []string // loads' keys in the log's order
	for i, t := range c.Targets {
		lacking[i] = make([]bool, len(chunk))
		for e, entry := range chunk {
			if cps[i] >= entry.Position {
				continue
			}
			for _, id := range entry.CommitIDs {
				if stream, first, ok := events.ParseCommitID(id); ok && c.Applied != nil && c.Applied(t.Name, stream, first) {
					continue // applied here: a stream's head is a commit's last version, so ≥ first means all of it
				}
				l, seen := loads[id]
				if !seen {
					l = &loaded{}
					loads[id], ids = l, append(ids, id)
				}
				need[i] = append(need[i], &wanted{entry: e, id: id, from: l})
			}
		}
	}
	workers := 1
	if backlog || len(ids) >= hurryFrom {
		workers = c.Workers
	}
	var g errgroup.Group
	g.SetLimit(max(workers, 1))
	for k, id := range ids {
		// In the log's order, so that a stream's commits after a late one
		// are late too; the first is loaded whatever the time, so that
		// each sweep gets on.
		if k > 0 && time.Now().After(until) {
			for _, id := range ids[k:] {
				loads[id].late = true
			}
			break
		}
		l := loads[id]
		g.Go(func() error {
			cm, found, err := c.Commits.LoadCommit(ctx, id)
			if l.err = err; err == nil && found {
				l.commit = &cm
			}
			return nil // each want carries its own error
		})
	}
	_ = g.Wait()
	for i, t := range c.Targets {
		var order []string
		streams := map[string][]*wanted{}
		for _, w := range need[i] {
			if w.from.commit == nil {
				continue
			}
			s := w.from.commit.StreamID
			if _, seen := streams[s]; !seen {
				order = append(order, s)
			}
			streams[s] = append(streams[s], w)
		}
		for _, s := range order {
			g.Go(func() error {
				ws := streams[s]
				commits := make([]events.Commit, len(ws))
				for k, w := range ws {
					commits[k] = *w.from.commit
				}
				for k, err := range t.deliver(ctx, commits) {
					if w := ws[k]; err != nil {
						w.err = fmt.Errorf("%s: %s: %w", t.Name, w.id, err)
					} else if c.Caught != nil {
						c.Caught(t.Name, *w.from.commit)
					}
				}
				return nil
			})
		}
	}
	_ = g.Wait()
	var errs []error
	for _, id := range ids {
		if l := loads[id]; l.err != nil {
			errs = append(errs, l.err)
		}
	}
	for i := range c.Targets {
		for _, w := range need[i] {
			entry := chunk[w.entry]
			inFlight := now.Sub(entry.CreatedAt) < c.GiveUp && !entry.CreatedAt.Before(c.Settled)
			switch {
			case w.from.err != nil, w.from.late:
				lacking[i][w.entry] = true
			case w.from.commit == nil:
				lacking[i][w.entry] = lacking[i][w.entry] || inFlight // its append may still land, or it never was stored
			case w.err != nil:
				errs = append(errs, w.err)
				lacking[i][w.entry] = true
			default:
				applied++
			}
		}
	}
	return lacking, applied, errors.Join(errs...)
}
