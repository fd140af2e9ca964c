package main

import (
	"context"
	"errors"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
	"github.com/capstone-pms/capstone/projections/status"
)

// adminAdapter fits the projections' status and background rebuilds to the
// API's port. The figures have the same fields on both sides, so each
// crossing is a conversion the compiler checks; the rebuild's refusals
// become the API's errors.
type adminAdapter struct {
	status   status.Store
	physical func(ctx context.Context, logical string) string
	rebuilds *rebuild.Background
	backlog  func(ctx context.Context) (int, error)
}

var _ api.Admin = adminAdapter{}

// admin wires the admin API's port.
func (a *App) admin() adminAdapter {
	return adminAdapter{status: imongo.NewProjectionStatus(a.store.DB), physical: a.rebuilder.Store.Physical, rebuilds: a.rebuilds,
		backlog: func(ctx context.Context) (int, error) {
			if a.logOnly {
				return a.catchUp.Held(), nil
			}
			return outbox.Backlog(ctx, outbox.Groups(a.store.DB))
		}}
}

// Projections reports each projection's progress, from every process.
func (a adminAdapter) Projections(ctx context.Context) (api.ProjectionsReport, error) {
	items, err := status.Report(ctx, a.status, projections.Names(), a.physical)
	if err != nil {
		return api.ProjectionsReport{}, err
	}
	rep := api.ProjectionsReport{Items: make([]api.ProjectionStatus, len(items))}
	for i, it := range items {
		rep.Items[i] = api.ProjectionStatus(it)
	}
	if rep.OutboxBacklog, err = a.backlog(ctx); err != nil {
		return rep, err
	}
	if st, ok := a.rebuilds.Last(); ok {
		s := api.RebuildState(st)
		rep.Rebuild = &s
	}
	return rep, nil
}

// StartRebuild runs a rebuild in the background; its progress shows in Projections.
func (a adminAdapter) StartRebuild(names []string, verify bool) (api.RebuildState, error) {
	st, err := a.rebuilds.Start(names, verify)
	var bad *rebuild.NamesError
	switch {
	case errors.As(err, &bad):
		return api.RebuildState{}, &commands.Error{Kind: commands.KindInvalid, Code: "invalid", Message: bad.Message,
			Fields: []commands.FieldError{{Field: "projections", Message: bad.Hint}}}
	case errors.Is(err, rebuild.ErrRunning):
		return api.RebuildState(st), api.ErrRebuildRunning
	}
	return api.RebuildState(st), err
}
