package rebuild

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
)

// Rebuilder rebuilds read models from the event store into a Store.
type Rebuilder struct {
	Store  Store
	Events Events
	// Locks are the document locks of the process's live projectors: the
	// catch-up, which writes the live collections beside them, shares them.
	Locks *projections.Locks
}

// Progress is reported while a rebuild runs: the commits applied in the
// phase, of the total it goes over (for "done", of the whole rebuild).
type Progress struct {
	Phase   string `json:"phase"` // "rebuild", "rebuild-done", "catch-up", "catch-up-done", "done"
	Commits int    `json:"commits"`
	Total   int64  `json:"total"`
}

// Result says what a rebuild did.
type Result struct {
	Projections []string          `json:"projections"`
	Collections map[string]string `json:"collections"` // logical -> the rebuilt collection
	Commits     int               `json:"commits"`
	Switched    bool              `json:"switched"`
	// Differences, in verify mode: documents that differ between the live
	// read model and the rebuild (ids), per projection.
	Differences map[string][]string `json:"differences,omitempty"`
	// Sample shows the first differing document of each projection, live
	// and rebuilt, as JSON (to see what differs without a database shell).
	Sample map[string][2]string `json:"-"`
}

// catchUpOverlap is how far before the rebuild began the catch-up starts
// applying again: a commit is stamped by the clock of the process that
// appended it, and one stamped just before the rebuild began may not have
// been stored yet when its scan went by.
const catchUpOverlap = 5 * time.Second

// Run rebuilds read models (all when names is empty) from the event store
// into fresh collections while the live ones keep serving. With verify, it
// then compares them with the live ones and drops them; without, it
// switches every process over to them, applies what was appended meanwhile
// (projections are idempotent), and drops the old collections.
func (r *Rebuilder) Run(ctx context.Context, names []string, verify bool, progress func(Progress)) (Result, error) {
	if len(names) == 0 {
		names = projections.Names()
	}
	if err := CheckNames(names); err != nil {
		return Result{}, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	res := Result{Projections: names, Collections: map[string]string{}}
	old := map[string]string{}
	for _, n := range names {
		old[n] = r.Store.Physical(ctx, n)
		fresh, err := r.Store.Fresh(ctx, n, start)
		if err != nil {
			return res, err
		}
		res.Collections[n] = fresh
	}
	buffer := r.Store.Buffer()
	pick := func(docs projections.Documents, locks *projections.Locks) []projections.Projection {
		var out []projections.Projection
		for _, p := range projections.AllSharing(docs, r.Events, locks) {
			if slices.Contains(names, p.Name()) {
				out = append(out, p)
			}
		}
		return out
	}
	// The rebuild folds into memory and writes in bulk; the catch-up, after
	// the switch, writes through to the (now live) collections.
	selected := pick(buffer, nil)
	// Each phase reports its own progress: the commits it has applied, of
	// those it goes over (counted as it starts, and more if commits are
	// appended while it runs), so a progress never passes its total. (The
	// catch-up goes over the last seconds before the rebuild again: counted
	// against the rebuild's total, it read "777 / 773".)
	apply := func(phase string, since time.Time) error {
		// The total is counted beside the scan rather than before it: on the
		// embedded store a count reads every commit as the scan does, and
		// done in turn the two took twice as long. Until it is known, a
		// progress counts what was applied as the total.
		var counted atomic.Int64
		count, cctx := errgroup.WithContext(ctx)
		count.Go(func() error {
			n, err := r.Events.Count(cctx, since)
			counted.Store(n)
			return err
		})
		done := 0
		report := func(phase string) {
			progress(Progress{Phase: phase, Commits: done, Total: max(counted.Load(), int64(done))})
		}
		_, err := r.Events.Scan(ctx, since, func(c events.Commit) error {
			for _, p := range selected {
				if err := p.Handle(ctx, c); err != nil {
					return fmt.Errorf("%s: %w", p.Name(), err)
				}
			}
			done++
			if done%500 == 0 {
				report(phase)
			}
			return nil
		})
		if cerr := count.Wait(); err == nil {
			err = cerr
		}
		res.Commits += done
		if err == nil {
			report(phase + "-done")
		}
		return err
	}
	finished := func() {
		progress(Progress{Phase: "done", Commits: res.Commits, Total: int64(res.Commits)})
	}
	if err := apply("rebuild", time.Time{}); err != nil {
		return res, err
	}
	// Each read model's documents go to its collection at once, side by side.
	flush, fctx := errgroup.WithContext(ctx)
	for _, n := range names {
		flush.Go(func() error { return buffer.Flush(fctx, n, res.Collections[n]) })
	}
	if err := flush.Wait(); err != nil {
		return res, err
	}
	selected = pick(r.Store.Writing(res.Collections), r.Locks)
	if verify {
		res.Differences, res.Sample = map[string][]string{}, map[string][2]string{}
		for _, n := range names {
			diff, sample, err := r.compare(ctx, old[n], res.Collections[n])
			if err != nil {
				return res, err
			}
			if len(diff) > 0 {
				res.Differences[n], res.Sample[n] = diff, sample
			}
			if len(diff) == 0 {
				_ = r.Store.Drop(ctx, res.Collections[n])
			}
		}
		finished()
		return res, nil
	}
	for _, n := range names {
		if err := r.Store.SwitchTo(ctx, n, res.Collections[n]); err != nil {
			return res, err
		}
	}
	res.Switched = true
	// Every process now writes to the new collections, or will within the
	// store's settling time; then apply what the old ones got meanwhile.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(r.Store.SwitchSettles()):
	}
	if err := apply("catch-up", start.Add(-catchUpOverlap)); err != nil {
		return res, err
	}
	for _, n := range names {
		if old[n] != res.Collections[n] {
			_ = r.Store.Drop(ctx, old[n])
		}
	}
	finished()
	return res, nil
}
