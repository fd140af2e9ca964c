package projections

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/capstone-pms/capstone/events"
)

// BatchDocuments is Documents that also stores many documents in few
// writes: what a commit concerning thousands of documents (an allocation
// run places a cohort) needs, where one write per document would keep the
// read models seconds behind the command's answer.
type BatchDocuments interface {
	Documents
	// StoreMany is Store for each document, in as few writes as the store
	// allows. The ids it returns are those it cannot say were stored (a
	// revision that had moved on, or a write of uncertain outcome): the
	// caller applies them again one by one, which their positions make
	// idempotent. Every other document is stored.
	StoreMany(ctx context.Context, collection string, docs []StoredDoc) (unsure []string, err error)
}

// StoredDoc is one document of a StoreMany: Store's arguments.
type StoredDoc struct {
	ID  string
	Doc any
	Rev int64
}

// batchAtLeast is how many documents a commit must concern for them to be
// stored together; fewer are applied one by one, as always.
const batchAtLeast = 16

// loadersAtOnce bounds the documents of a batch loaded at once: the store
// serves reads concurrently, so a cohort's documents load in a fraction of
// the time one after the other would take.
const loadersAtOnce = 8

// applyBatch is apply for every document a broadcast commit concerns: each
// is loaded (concurrently), folded, and all are stored with StoreMany. It
// holds the locks of all of them (and of no other document), taken in one
// order, so it serialises with the one-document applies as they do among
// themselves.
func (m *Multi[D, PD]) applyBatch(ctx context.Context, docs BatchDocuments, c events.Commit, order []string, byDoc map[string][]events.Envelope, upTo map[string]int64) error {
	release := m.locks.LockAll(order)
	locked := true
	unlock := func() {
		if locked {
			release()
			locked = false
		}
	}
	defer unlock()

	loaded := make([]PD, len(order))
	revs := make([]int64, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(loadersAtOnce)
	for i, id := range order {
		g.Go(func() error {
			doc := PD(new(D))
			_, rev, err := m.Docs.Load(gctx, m.Collection, id, doc)
			loaded[i], revs[i] = doc, rev
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	key := versionKey(c.StreamID)
	var out []StoredDoc
	for i, id := range order {
		doc := loaded[i]
		have := doc.StreamVersions()[key]
		if upTo[id] <= have {
			continue
		}
		for _, e := range byDoc[id] {
			if e.Version > have {
				m.Fold((*D)(doc), id, e)
			}
		}
		doc.SetStreamVersion(key, upTo[id])
		out = append(out, StoredDoc{ID: id, Doc: doc, Rev: revs[i]})
	}
	unsure, err := docs.StoreMany(ctx, m.Collection, out)
	unlock()
	if err != nil {
		return err
	}
	for _, id := range unsure {
		if err := m.applyRetrying(ctx, c, id, byDoc[id], upTo[id], true); err != nil {
			return err
		}
	}
	return nil
}
