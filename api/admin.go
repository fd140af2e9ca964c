package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// ProjectionStatus is how far one projection has got.
type ProjectionStatus struct {
	Name string `json:"name"`
	// Collection currently serving the read model.
	Collection string `json:"collection"`
	// Position is the recording time of the newest commit applied.
	Position *time.Time `json:"position,omitempty"`
	// LagSeconds is how long the newest applied commit took from its append
	// to its application; with commits waiting in the outbox it grows.
	LagSeconds float64 `json:"lag_seconds"`
	Applied    int64   `json:"applied"`
	Failed     int64   `json:"failed"`
	// Instances are the processes running this projection: each counts
	// from its start until it stops (or a minute after it last reported).
	Instances int `json:"instances"`
}

// RebuildState is the last or running rebuild.
type RebuildState struct {
	Running     bool       `json:"running"`
	Projections []string   `json:"projections"`
	Verify      bool       `json:"verify"`
	Phase       string     `json:"phase"`
	Commits     int        `json:"commits"`
	Total       int64      `json:"total"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Error       string     `json:"error,omitempty"`
	// Differences, for a verify run: ids whose live document differs.
	Differences map[string][]string `json:"differences,omitempty"`
}

// ProjectionsReport answers GET /v1/admin/projections.
type ProjectionsReport struct {
	Items []ProjectionStatus `json:"items"`
	// OutboxBacklog is the number of commits not yet known to be published
	// (where the commit log alone keeps them: that the catch-up holds).
	OutboxBacklog int           `json:"outbox_backlog"`
	Rebuild       *RebuildState `json:"rebuild,omitempty"`
}

// Admin is what the admin routes need of the running service.
type Admin interface {
	Projections(ctx context.Context) (ProjectionsReport, error)
	// StartRebuild starts a rebuild in the background (all projections when
	// names is empty); it refuses while another one runs.
	StartRebuild(names []string, verify bool) (RebuildState, error)
}

// ErrRebuildRunning refuses a second rebuild.
var ErrRebuildRunning = &commands.Error{Kind: commands.KindConflict, Code: "rebuild-running", Message: "a rebuild is already running"}

func (s *Server) adminRoutes(r *mux.Router) {
	coord := events.RoleCoordinator
	r.HandleFunc("/v1/admin/projections", s.authed(s.projectionStatus, coord)).Methods(http.MethodGet)
	r.HandleFunc("/v1/admin/projections/rebuild", s.authed(s.rebuild, coord)).Methods(http.MethodPost)
}

func (s *Server) projectionStatus(w http.ResponseWriter, r *http.Request, a actor) error {
	if err := notPaged(r, "the status of every projection"); err != nil {
		return err
	}
	rep, err := s.Admin.Projections(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

type rebuildRequest struct {
	Projections []string `json:"projections"`
	Verify      bool     `json:"verify"`
}

// rebuild starts rebuilding read models from the event store; progress is
// in GET /v1/admin/projections.
func (s *Server) rebuild(w http.ResponseWriter, r *http.Request, a actor) error {
	var req rebuildRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	st, err := s.Admin.StartRebuild(req.Projections, req.Verify)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/admin/projections")
	writeJSON(w, http.StatusAccepted, st)
	return nil
}
