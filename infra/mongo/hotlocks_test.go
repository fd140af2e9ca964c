package mongo

import (
	"fmt"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/projections"
)

// TestHotLocksHoldOnlyTheirDocuments: while a batch of documents is
// written (a commit of capacities, an allocation), writes of other
// documents, of its collection or another, go on; a write of one of its
// documents waits for it. The locks were 64 by a hash of the id, shared by
// every hot read model: a batch of hundreds held them all, and every write
// of a hot read model in the process waited behind it.
func TestHotLocksHoldOnlyTheirDocuments(t *testing.T) {
	h := newHotDocs()
	h.use()
	sups, users := h.coll(projections.CollSupervisors, "supervisors"), h.coll(projections.CollUsers, "users")
	var batch []projections.StoredDoc
	for i := range 640 {
		batch = append(batch, projections.StoredDoc{ID: fmt.Sprint("sup", i)})
	}
	unlock := h.lockAll(sups, batch)

	others := make(chan struct{})
	go func() {
		h.lock(sups, "other").Unlock()
		h.lock(users, "sup7").Unlock() // the same id in another read model
		close(others)
	}()
	select {
	case <-others:
	case <-time.After(5 * time.Second):
		t.Fatal("a write of another document waited for the batch")
	}

	own := make(chan struct{})
	go func() { h.lock(sups, "sup7").Unlock(); close(own) }()
	select {
	case <-own:
		t.Fatal("a write of a document of the batch went while the batch held it")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	select {
	case <-own:
	case <-time.After(5 * time.Second):
		t.Fatal("the batch's document stayed locked after the batch")
	}
	if n := sups.locks.Len() + users.locks.Len(); n != 0 {
		t.Errorf("%d locks left behind", n)
	}
}
