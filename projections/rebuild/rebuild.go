package rebuild

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// Recent, if set, lists what was appended while a rebuild ran, so that
	// its catch-up reads those commits rather than scan the event store for
	// every commit recorded since it began (a scan the embedded store
	// answers by reading every commit).
	Recent Recent
	// Alone, if set, says whether no process but this one projects: then
	// every writer of read models saw the switch at once, and the catch-up
	// need not wait SwitchSettles for the others to.
	Alone func(ctx context.Context) (bool, error)
}

// Progress is reported while a rebuild runs: the commits applied in the
// phase, of the total it goes over (for "done", of the whole rebuild).
type Progress struct {
	Phase   string `json:"phase"` // "rebuild", "rebuild-done", "switched", "catch-up", "catch-up-done", "done"
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
	u := &run{r: r, names: names, progress: progress, start: time.Now(), folded: map[string]int64{},
		res: Result{Projections: names, Collections: map[string]string{}}}
	// Every commit appended from here on is listed after the mark, so the
	// catch-up finds in the log what the scan may have missed.
	var mark, floor int64
	marked := false
	if r.Recent != nil {
		if m, f, err := r.Recent.Mark(ctx); err == nil {
			mark, floor, marked = m, f, true
		}
	}
	old := map[string]string{}
	for _, n := range names {
		old[n] = r.Store.Physical(ctx, n)
		fresh, err := r.Store.Fresh(ctx, n, u.start)
		if err != nil {
			return u.res, err
		}
		u.res.Collections[n] = fresh
	}
	// The rebuild folds into memory and writes in bulk; the catch-up, after
	// the switch, writes through to the (now live) collections.
	buffer := r.Store.Buffer()
	u.writeTo(buffer, nil)
	if err := u.scan(ctx, "rebuild", time.Time{}, false); err != nil {
		return u.res, err
	}
	// Each read model's documents go to its collection at once, side by side.
	flush, fctx := errgroup.WithContext(ctx)
	for _, n := range names {
		flush.Go(func() error { return buffer.Flush(fctx, n, u.res.Collections[n]) })
	}
	if err := flush.Wait(); err != nil {
		return u.res, err
	}
	u.writeTo(r.Store.Writing(u.res.Collections), r.Locks)
	if verify {
		return u.verify(ctx, old)
	}
	// The catch-up is on record before the switch: should this process
	// die before it is done, another one finishes it (Resume).
	u.pending = &Pending{ID: strconv.FormatInt(u.start.UnixNano(), 36), Collections: u.res.Collections, Old: old,
		Mark: mark, Floor: floor, Marked: marked, NotBefore: u.start.Add(-catchUpOverlap), Beat: time.Now()}
	if err := r.Store.SavePending(ctx, *u.pending); err != nil {
		return u.res, err
	}
	for _, n := range names {
		if err := r.Store.SwitchTo(ctx, n, u.res.Collections[n]); err != nil {
			return u.res, err
		}
	}
	u.res.Switched = true
	progress(Progress{Phase: "switched", Commits: u.res.Commits, Total: int64(u.res.Commits)})
	// Every process now writes to the new collections, or will within the
	// store's settling time; then apply what the old ones got meanwhile.
	if !r.alone(ctx) {
		select {
		case <-ctx.Done():
			return u.res, ctx.Err()
		case <-time.After(r.Store.SwitchSettles()):
		}
	}
	if err := u.catchUp(ctx); err != nil {
		return u.res, err
	}
	u.finished()
	return u.res, nil
}

// alone reports whether no other process projects (false when that is not
// known).
func (r *Rebuilder) alone(ctx context.Context) bool {
	if r.Alone == nil {
		return false
	}
	alone, err := r.Alone(ctx)
	return err == nil && alone
}

// run is one rebuild under way.
type run struct {
	r        *Rebuilder
	names    []string
	progress func(Progress)
	start    time.Time
	res      Result
	// selected are the projections rebuilt, writing where writeTo said.
	selected []projections.Projection
	// folded is how far each stream has been applied: the catch-up skips
	// what it lists of that without reading it.
	folded map[string]int64
	// pending is the catch-up on record, once the rebuild switches.
	pending *Pending
}

// beatEvery is how often a catch-up under way says so (Pending.Beat).
const beatEvery = 5 * time.Second

// beat tells the record of the catch-up that it is still under way, now
// and then.
func (u *run) beat(ctx context.Context) {
	if u.pending == nil || time.Since(u.pending.Beat) < beatEvery {
		return
	}
	u.pending.Beat = time.Now()
	_ = u.r.Store.SavePending(ctx, *u.pending)
}

// writeTo makes the rebuilt projections write to docs.
func (u *run) writeTo(docs projections.Documents, locks *projections.Locks) {
	u.selected = nil
	for _, p := range projections.AllSharing(docs, u.r.Events, locks) {
		if slices.Contains(u.names, p.Name()) {
			u.selected = append(u.selected, p)
		}
	}
}

// apply hands a commit to every rebuilt projection.
func (u *run) apply(ctx context.Context, c events.Commit) error {
	for _, p := range u.selected {
		if err := p.Handle(ctx, c); err != nil {
			return fmt.Errorf("%s: %w", p.Name(), err)
		}
	}
	u.folded[c.StreamID] = max(u.folded[c.StreamID], c.LastVersion())
	u.res.Commits++
	return nil
}

// handed reports whether the rebuild's scan handed the stream's commit from
// version first on to the projections: it went past that commit, or one
// after it. A catch-up passes such a commit rather than hand it over again
// (each a read of its document).
func (u *run) handed(stream string, first int64) bool { return u.folded[stream] >= first }

// scan applies every commit recorded since a time (all of them for the
// zero time), but with passHanded those the rebuild's scan handed over
// (handed). Each phase reports its own progress: the commits it has
// applied, of those it goes over (and more if commits are appended while it
// runs), so a progress never passes its total. (The catch-up goes over the
// last seconds before the rebuild again: counted against the rebuild's
// total, it read "777 / 773".)
func (u *run) scan(ctx context.Context, phase string, since time.Time, passHanded bool) error {
	// The total of the whole store is the store's estimate: on the
	// embedded store a count reads every commit as the scan does (run
	// beside the scan, it took a sixth of the rebuild's time). A catch-up
	// by time counts beside its scan rather than before it. Until the
	// total is known, a progress counts what was applied as the total; at
	// the end, it is what the scan went over.
	var counted atomic.Int64
	count, cctx := errgroup.WithContext(ctx)
	count.Go(func() error {
		if since.IsZero() {
			n, _ := u.r.Events.Estimate(cctx)
			counted.Store(n)
			return nil
		}
		n, err := u.r.Events.Count(cctx, since)
		counted.Store(n)
		return err
	})
	done := 0
	_, err := u.r.Events.Scan(ctx, since, func(c events.Commit) error {
		// A catch-up by time goes over the seconds before the rebuild
		// began again, and passes what the rebuild's scan handed over (a
		// rebuild just after 2,000 writes, whose log was trimmed meanwhile,
		// caught up for 5 s instead of 0.6). The rebuild's own scan hands
		// every commit over: a projection that fills no gaps needs a
		// stream's earlier commit even after a later one.
		if !passHanded || !u.handed(c.StreamID, c.FirstVersion) {
			if err := u.apply(ctx, c); err != nil {
				return err
			}
		}
		if done++; done%500 == 0 {
			u.progress(Progress{Phase: phase, Commits: done, Total: max(counted.Load(), int64(done))})
			u.beat(ctx)
		}
		return nil
	})
	if cerr := count.Wait(); err == nil {
		err = cerr
	}
	if err == nil {
		u.progress(Progress{Phase: phase + "-done", Commits: done, Total: int64(done)})
	}
	return err
}

// catchUp applies what was appended while the rebuild ran (u.pending): the
// commits the log lists after the mark (and in the seconds before the
// rebuild began), or, when there is no mark or the log no longer reaches
// back to it, every commit recorded since those seconds. Then it drops the
// old collections and the record.
func (u *run) catchUp(ctx context.Context) error {
	if err := u.catchUpCommits(ctx); err != nil {
		return err
	}
	for n, coll := range u.res.Collections {
		if old := u.pending.Old[n]; old != "" && old != coll {
			_ = u.r.Store.Drop(ctx, old)
		}
	}
	return u.r.Store.DonePending(ctx, u.pending.ID)
}

func (u *run) catchUpCommits(ctx context.Context) error {
	p := u.pending
	if !p.Marked || u.r.Recent == nil {
		return u.scan(ctx, "catch-up", p.NotBefore, true)
	}
	ids, listed, err := u.r.Recent.Since(ctx, p.Mark, p.Floor, p.NotBefore)
	if err != nil {
		return err
	}
	if !listed {
		return u.scan(ctx, "catch-up", p.NotBefore, true)
	}
	// Its progress counts every listed commit it goes over, as a scan's
	// does, though it reads only those not applied yet.
	for gone, id := range ids {
		if gone > 0 && gone%500 == 0 {
			u.progress(Progress{Phase: "catch-up", Commits: gone, Total: int64(len(ids))})
			u.beat(ctx)
		}
		if stream, first, ok := events.ParseCommitID(id); ok && u.handed(stream, first) {
			continue // folded by the rebuild, or listed twice
		}
		c, found, err := u.r.Events.LoadCommit(ctx, id)
		if err != nil {
			return err
		}
		if !found {
			// Not stored yet: it is appended after the switch, and the
			// projectors apply it to the new collections; or never.
			continue
		}
		if err := u.apply(ctx, c); err != nil {
			return err
		}
	}
	u.progress(Progress{Phase: "catch-up-done", Commits: len(ids), Total: int64(len(ids))})
	return nil
}

// verify compares the rebuilt read models with the live ones, and drops
// those that are the same.
func (u *run) verify(ctx context.Context, old map[string]string) (Result, error) {
	u.res.Differences, u.res.Sample = map[string][]string{}, map[string][2]string{}
	for _, n := range u.names {
		diff, sample, err := u.r.compare(ctx, old[n], u.res.Collections[n])
		if err != nil {
			return u.res, err
		}
		if len(diff) > 0 {
			u.res.Differences[n], u.res.Sample[n] = diff, sample
		} else {
			_ = u.r.Store.Drop(ctx, u.res.Collections[n])
		}
	}
	u.finished()
	return u.res, nil
}

// finished reports the whole rebuild done.
func (u *run) finished() {
	u.progress(Progress{Phase: "done", Commits: u.res.Commits, Total: int64(u.res.Commits)})
}

// Resume finishes the catch-ups of switching rebuilds whose process died
// after recording them (their record not beaten for staleAfter), and
// returns how many it finished. Of each, the read models that were switched
// get what was appended while that rebuild ran, and their old collections
// are dropped. The switch is long past, so no process writes the old
// collections any more. A rebuilt collection not switched to is left as it
// is: its rebuild may only be stalled, and switch to it yet.
func (r *Rebuilder) Resume(ctx context.Context, staleAfter time.Duration) (int, error) {
	now := time.Now()
	claimed, err := r.Store.ClaimPending(ctx, now.Add(-staleAfter), now)
	if err != nil {
		return 0, err
	}
	var errs []error
	done := 0
	for _, p := range claimed {
		u := &run{r: r, progress: func(Progress) {}, folded: map[string]int64{},
			res: Result{Collections: map[string]string{}}, pending: &p}
		for n, coll := range p.Collections {
			if r.Store.Physical(ctx, n) == coll {
				u.names = append(u.names, n)
				u.res.Collections[n] = coll
			}
		}
		slices.Sort(u.names)
		if len(u.names) == 0 { // it died before its first switch: nothing changed
			if err := r.Store.DonePending(ctx, p.ID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		u.writeTo(r.Store.Writing(u.res.Collections), r.Locks)
		if err := u.catchUp(ctx); err != nil {
			errs = append(errs, fmt.Errorf("finish the catch-up of the rebuild of %v: %w", u.names, err))
			continue
		}
		done++
	}
	return done, errors.Join(errs...)
}
