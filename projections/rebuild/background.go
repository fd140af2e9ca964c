package rebuild

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/capstone-pms/capstone/projections"
)

// State is the last or running rebuild of a [Background].
type State struct {
	Running     bool
	Projections []string
	Verify      bool
	Phase       string
	Commits     int
	Total       int64
	StartedAt   time.Time
	FinishedAt  *time.Time
	Error       string
	// Differences, for a verify run: ids whose live document differs.
	Differences map[string][]string
}

// ErrRunning refuses a second rebuild while one runs.
var ErrRunning = errors.New("a rebuild is already running")

// Background runs one rebuild at a time in the background, within the
// lifetime of a context (the service's): when it ends, a running rebuild
// stops, and Wait returns once it has.
type Background struct {
	rebuilder *Rebuilder
	ctx       context.Context
	log       *slog.Logger

	mu   sync.Mutex
	last *State
	wg   sync.WaitGroup
}

// NewBackground runs rebuilds with r until ctx ends.
func NewBackground(ctx context.Context, r *Rebuilder, log *slog.Logger) *Background {
	return &Background{rebuilder: r, ctx: ctx, log: log}
}

// Start starts a rebuild (of every projection when names is empty) and
// returns its state; its progress shows in Last. A second one is refused
// with ErrRunning and the state of the one that runs.
func (b *Background) Start(names []string, verify bool) (State, error) {
	if err := CheckNames(names); err != nil {
		return State{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != nil && b.last.Running {
		return b.copy(), ErrRunning
	}
	st := &State{Running: true, Projections: names, Verify: verify, Phase: "starting", StartedAt: time.Now().UTC()}
	if len(st.Projections) == 0 {
		st.Projections = projections.Names()
	}
	b.last = st
	b.wg.Go(func() {
		res, err := b.rebuilder.Run(b.ctx, names, verify, func(p Progress) {
			b.mu.Lock()
			st.Phase, st.Commits, st.Total = p.Phase, p.Commits, p.Total
			b.mu.Unlock()
		})
		b.mu.Lock()
		defer b.mu.Unlock()
		now := time.Now().UTC()
		st.Running, st.FinishedAt, st.Differences = false, &now, res.Differences
		if err != nil {
			st.Error = err.Error()
			b.log.Error("rebuild failed", "err", err)
		}
	})
	return b.copy(), nil
}

// Last returns the state of the last or running rebuild; ok is false if
// none was started.
func (b *Background) Last() (st State, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		return State{}, false
	}
	return b.copy(), true
}

// copy is the last state, apart from what the rebuild goes on changing.
// b.mu is held.
func (b *Background) copy() State {
	st := *b.last
	st.Projections = slices.Clone(st.Projections)
	return st
}

// Wait returns when no rebuild runs any more: after the context ended, once
// the running one has stopped.
func (b *Background) Wait() { b.wg.Wait() }
