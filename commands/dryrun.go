package commands

import (
	"context"
	"sync"

	"github.com/capstone-pms/capstone/events"
)

// DryRun returns an executor that decides every command exactly as x would,
// reading the same store, but stores, snapshots and publishes nothing. Its
// own cache remembers what a dry run "appended", so later commands of the
// same run see earlier ones, while x's cache is never touched.
func DryRun(x *Executor) *Executor {
	d := *x
	d.Store, d.Snapshots, d.Publisher, d.Outbox = &dryStore{EventStore: x.Store, appended: map[string][]events.Commit{}}, nil, nil, nil
	d.Observe, d.Appended, d.dryRun = nil, nil, true
	d.states, d.left = newStates()
	d.Sole = false // its cache holds what it pretended to store
	d.turns = nil  // what it decides is stored nowhere: nothing to race for
	return &d
}

// dryStore accepts appends without storing them in the database, and reads
// them back so a dry run is consistent with itself.
type dryStore struct {
	EventStore
	mu       sync.Mutex
	appended map[string][]events.Commit
}

// Append refuses a commit that does not follow the stream's last one, as
// the store would: the last one the dry run appended or, before any, the
// store's own. A stream's first commit is appended without a read of it
// when it is decided on a stream taken to be new (ExecuteNew), so the
// store is asked whether the version is taken.
func (s *dryStore) Append(ctx context.Context, c events.Commit) error {
	s.mu.Lock()
	n := len(s.appended[c.StreamID])
	s.mu.Unlock()
	if n == 0 && c.FirstVersion == 1 {
		stored, err := s.EventStore.ReadStream(ctx, c.StreamID, events.ReadOptions{From: 1, Commits: 1})
		if err != nil {
			return err
		}
		if len(stored) > 0 {
			return ErrConcurrentAppend
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.appended[c.StreamID]
	if n := len(list); n > 0 && list[n-1].LastVersion()+1 != c.FirstVersion {
		return ErrConcurrentAppend
	}
	s.appended[c.StreamID] = append(list, c)
	return nil
}

func (s *dryStore) ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error) {
	stored, err := s.EventStore.ReadStream(ctx, streamID, opts)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.appended[streamID] {
		if c.FirstVersion >= max(opts.From, 1) {
			stored = append(stored, c)
		}
	}
	return stored, nil
}
