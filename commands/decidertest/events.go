package decidertest

import (
	"context"
	"sync"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// Events is an event store in memory: what an executor needs to run a
// service's commands without a database.
type Events struct {
	mu      sync.Mutex
	streams map[string][]events.Commit
}

// NewEvents returns an empty store.
func NewEvents() *Events { return &Events{streams: map[string][]events.Commit{}} }

var _ commands.EventStore = (*Events)(nil)

// Append stores c, or fails with ErrConcurrentAppend unless it follows
// its stream's last commit.
func (m *Events) Append(_ context.Context, c events.Commit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[c.StreamID]
	if n := len(s); (n == 0 && c.FirstVersion != 1) || (n > 0 && s[n-1].LastVersion()+1 != c.FirstVersion) {
		return commands.ErrConcurrentAppend
	}
	m.streams[c.StreamID] = append(s, c)
	return nil
}

// ReadStream returns the stream's commits from opts.From, at most
// opts.Commits of them when it is set (the other bounds are not served).
func (m *Events) ReadStream(_ context.Context, id string, opts events.ReadOptions) ([]events.Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []events.Commit
	for _, c := range m.streams[id] {
		if c.FirstVersion >= opts.From && (opts.Commits == 0 || len(out) < opts.Commits) {
			out = append(out, c)
		}
	}
	return out, nil
}
