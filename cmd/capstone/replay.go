package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/config"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
)

// projectionSet builds every projection over the given stores. A
// projection's name is also the logical name of the one collection it owns.
func projectionSet(docs projections.Documents, streams projections.Streams) []projections.Projection {
	return []projections.Projection{projections.NewUsers(docs, streams), projections.NewProjects(docs, streams),
		projections.NewSupervisors(docs, streams), projections.NewStudents(docs, streams), projections.NewCohort(docs, streams),
		projections.NewEmails(docs, streams)}
}

// ProjectionNames lists the projections, in a stable order.
func ProjectionNames() []string {
	var out []string
	for _, p := range projectionSet(nil, nil) {
		out = append(out, p.Name())
	}
	return out
}

// checkProjectionNames refuses a rebuild's list before anything starts: a
// name that is no projection, or one named twice (each would be rebuilt
// into the same fresh collection, and the second write of a document fail
// after the request was accepted).
func checkProjectionNames(names []string) error {
	for i, n := range names {
		msg := ""
		switch {
		case !slices.Contains(ProjectionNames(), n):
			msg = fmt.Sprintf("unknown projection %q", n)
		case slices.Contains(names[:i], n):
			msg = fmt.Sprintf("projection %q is named twice", n)
		default:
			continue
		}
		return &commands.Error{Kind: commands.KindInvalid, Code: "invalid", Message: msg,
			Fields: []commands.FieldError{{Field: "projections", Message: "each at most once, of " + strings.Join(ProjectionNames(), ", ")}}}
	}
	return nil
}

// RebuildProgress is reported while a rebuild runs: the commits applied in
// the phase, of the total it goes over (for "done", of the whole rebuild).
type RebuildProgress struct {
	Phase   string `json:"phase"` // "rebuild", "rebuild-done", "catch-up", "catch-up-done", "done"
	Commits int    `json:"commits"`
	Total   int64  `json:"total"`
}

// RebuildResult says what a rebuild did.
type RebuildResult struct {
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

// Rebuild rebuilds read models (all when names is empty) from the event
// store into fresh collections while the live ones keep serving. With
// verify, it then compares them with the live ones and drops them; without,
// it switches every process over to them, applies what was appended
// meanwhile (projections are idempotent), and drops the old collections.
func (a *App) Rebuild(ctx context.Context, names []string, verify bool, progress func(RebuildProgress)) (RebuildResult, error) {
	if len(names) == 0 {
		names = ProjectionNames()
	}
	if err := checkProjectionNames(names); err != nil {
		return RebuildResult{}, err
	}
	if progress == nil {
		progress = func(RebuildProgress) {}
	}
	es := imongo.NewEventStore(a.store.DB, a.Registry)
	live := imongo.NewReadModels(a.store.DB)
	start := time.Now()
	res := RebuildResult{Projections: names, Collections: map[string]string{}}
	old := map[string]string{}
	for _, n := range names {
		res.Collections[n] = imongo.FreshName(n, start)
		old[n] = live.Physical(ctx, n)
		if a.store.Embedded != nil {
			if err := a.store.Embedded.PrepareCollections(ctx, a.cfg.Database, res.Collections[n]); err != nil {
				return res, err
			}
		}
	}
	target := live.Rebuilding(res.Collections)
	buffer := newBufferedDocs()
	pick := func(docs projections.Documents) []projections.Projection {
		var out []projections.Projection
		for _, p := range projectionSet(docs, es) {
			if slices.Contains(names, p.Name()) {
				out = append(out, p)
			}
		}
		return out
	}
	// The rebuild folds into memory and writes in bulk; the catch-up, after
	// the switch, writes through to the (now live) collections.
	selected := pick(buffer)
	// Each phase reports its own progress: the commits it has applied, of
	// those it goes over (counted as it starts, and more if commits are
	// appended while it runs), so a progress never passes its total. (The
	// catch-up goes over the last seconds before the rebuild again: counted
	// against the rebuild's total, it read "777 / 773".)
	apply := func(phase string, since time.Time) error {
		total, err := es.Count(ctx, since)
		if err != nil {
			return err
		}
		done := 0
		report := func(phase string) {
			total = max(total, int64(done))
			progress(RebuildProgress{Phase: phase, Commits: done, Total: total})
		}
		report(phase)
		_, err = es.Scan(ctx, since, func(c events.Commit) error {
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
		res.Commits += done
		if err == nil {
			report(phase + "-done")
		}
		return err
	}
	finished := func() {
		progress(RebuildProgress{Phase: "done", Commits: res.Commits, Total: int64(res.Commits)})
	}
	if err := apply("rebuild", time.Time{}); err != nil {
		return res, err
	}
	for _, n := range names {
		if err := buffer.flush(ctx, n, a.store.DB.Collection(res.Collections[n])); err != nil {
			return res, err
		}
	}
	selected = pick(target)
	if verify {
		res.Differences, res.Sample = map[string][]string{}, map[string][2]string{}
		for _, n := range names {
			diff, sample, err := a.compare(ctx, old[n], res.Collections[n])
			if err != nil {
				return res, err
			}
			if len(diff) > 0 {
				res.Differences[n], res.Sample[n] = diff, sample
			}
			if len(diff) == 0 {
				_ = live.Drop(ctx, res.Collections[n])
			}
		}
		finished()
		return res, nil
	}
	for _, n := range names {
		if err := live.SwitchTo(ctx, n, res.Collections[n]); err != nil {
			return res, err
		}
	}
	res.Switched = true
	// Every process now writes to the new collections (within their name
	// cache's second); apply what the old ones got meanwhile.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(2500 * time.Millisecond):
	}
	if err := apply("catch-up", start.Add(-5*time.Second)); err != nil {
		return res, err
	}
	for _, n := range names {
		if old[n] != res.Collections[n] {
			_ = live.Drop(ctx, old[n])
		}
	}
	finished()
	return res, nil
}

// compare lists the ids whose documents differ between two collections in
// what they say. Bookkeeping is left out: the revision (which counts
// writes), the per-stream positions and the checkpoints (which record how a
// document was built, and may differ between two builds of the same
// meaning). Documents are compared as JSON with sorted keys: the embedded
// store does not keep field order.
func (a *App) compare(ctx context.Context, x, y string) ([]string, [2]string, error) {
	load := func(coll string) (map[string][]byte, error) {
		cur, err := a.store.DB.Collection(coll).Find(ctx, bson.D{})
		if err != nil {
			return nil, err
		}
		out := map[string][]byte{}
		for cur.Next(ctx) {
			ext, err := bson.MarshalExtJSON(cur.Current, false, false)
			if err != nil {
				return nil, err
			}
			var d map[string]any // plain maps all the way down: keys sort when marshalled
			if err := json.Unmarshal(ext, &d); err != nil {
				return nil, err
			}
			id := fmt.Sprint(d["_id"])
			if projections.IsCheckpoint(id) {
				continue
			}
			delete(d, "_rev")
			delete(d, projections.PositionsField)
			raw, err := json.Marshal(d)
			if err != nil {
				return nil, err
			}
			out[id] = raw
		}
		return out, cur.Err()
	}
	xs, err := load(x)
	if err != nil {
		return nil, [2]string{}, err
	}
	ys, err := load(y)
	if err != nil {
		return nil, [2]string{}, err
	}
	var diff []string
	for id, raw := range xs {
		if !bytes.Equal(raw, ys[id]) {
			diff = append(diff, id)
		}
	}
	for id := range ys {
		if _, ok := xs[id]; !ok {
			diff = append(diff, id)
		}
	}
	slices.Sort(diff)
	var sample [2]string
	if len(diff) > 0 {
		sample = [2]string{string(xs[diff[0]]), string(ys[diff[0]])}
	}
	return diff, sample, nil
}

// replay is `capstone replay [--projection NAME]... [--verify]`.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var only multiFlag
	fs.Var(&only, "projection", "a projection to rebuild (repeatable; default all: "+fmt.Sprint(ProjectionNames())+")")
	verify := config.Bool(fs, "verify", false, "rebuild into scratch collections and compare with the live ones, switching nothing")
	cfg, err := parseStoreFlags(ctx, fs, args, env, stdout, stderr)
	if err != nil {
		return err
	}
	app, err := startOneOff(ctx, cfg, stderr)
	if err != nil {
		return dataDirInUse(err, func(base string) string {
			return curlJSON(base+"/v1/admin/projections/rebuild", map[string]any{"projections": append([]string{}, only...), "verify": *verify}) +
				"\n  (then GET " + base + "/v1/admin/projections shows its progress and result)"
		})
	}
	defer app.Close(context.Background())
	res, err := app.Rebuild(ctx, only, *verify, func(p RebuildProgress) {
		fmt.Fprintf(stderr, "%s: %d/%d commits\n", p.Phase, p.Commits, p.Total)
	})
	if err != nil {
		return err
	}
	for _, n := range res.Projections {
		fmt.Fprintf(stdout, "%-12s rebuilt into %s", n, res.Collections[n])
		switch {
		case *verify && len(res.Differences[n]) == 0:
			fmt.Fprint(stdout, ": equal to the live read model")
		case *verify:
			fmt.Fprintf(stdout, ": %d documents differ, e.g. %s\n  live:    %s\n  rebuilt: %s", len(res.Differences[n]),
				res.Differences[n][0], res.Sample[n][0], res.Sample[n][1])
		default:
			fmt.Fprint(stdout, ", now live")
		}
		fmt.Fprintln(stdout)
	}
	if *verify && len(res.Differences) > 0 {
		return errors.New("the live read models differ from a rebuild")
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
