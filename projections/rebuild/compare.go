package rebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"

	"github.com/capstone-pms/capstone/projections"
)

// compare lists the ids whose documents differ between two collections in
// what they say. Bookkeeping is left out: the revision (which counts
// writes; the Store's Snapshot leaves it out), the per-stream positions and
// the checkpoints (which record how a document was built, and may differ
// between two builds of the same meaning). Documents are compared as JSON
// with sorted keys: a store need not keep field order.
func (r *Rebuilder) compare(ctx context.Context, x, y string) ([]string, [2]string, error) {
	load := func(coll string) (map[string][]byte, error) {
		docs, err := r.Store.Snapshot(ctx, coll)
		if err != nil {
			return nil, err
		}
		out := map[string][]byte{}
		for id, d := range docs {
			if projections.IsCheckpoint(id) {
				continue
			}
			delete(d, projections.PositionsField)
			raw, err := json.Marshal(d) // plain maps all the way down: keys sort
			if err != nil {
				return nil, err
			}
			out[id] = raw
		}
		return out, nil
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
