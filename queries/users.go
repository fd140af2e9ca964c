package queries

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
)

// Users answers questions about users.
type Users struct {
	Reader  Reader
	Streams Streams
}

// UserFilter selects users for the coordinator's list.
type UserFilter struct {
	Role  string
	Query string
	// Email (normalised) selects the one user holding the address, found
	// by _id; Code those whose profile has the university code.
	Email  string
	Code   string
	Cursor string
	Limit  int
}

// Get returns a user the viewer may see: coordinators see everyone, others
// only themselves. With minVersion > 0 it shows at least that version (the
// caller's own write), folding from the event store what the read model lacks.
func (q Users) Get(ctx context.Context, v Viewer, id string, minVersion int64) (projections.UserDoc, error) {
	if !visibility.SeesUser(v, id) {
		return projections.UserDoc{}, ErrNotFound
	}
	var doc projections.UserDoc
	found, err := q.Reader.Get(ctx, projections.CollUsers, id, &doc)
	if err != nil {
		return projections.UserDoc{}, err
	}
	doc, found, err = upTo(ctx, q.Streams, id, doc, found, doc.Version, minVersion, projections.FoldUser)
	if ahead := (*VersionNotFoundError)(nil); err != nil && !errors.As(err, &ahead) {
		return projections.UserDoc{}, err
	}
	if !found || doc.Status != projections.UserActive {
		return projections.UserDoc{}, ErrNotFound
	}
	return doc, err
}

// Lookup returns a user's document whatever its status, for authentication.
func (q Users) Lookup(ctx context.Context, id string) (projections.UserDoc, bool, error) {
	var doc projections.UserDoc
	found, err := q.Reader.Get(ctx, projections.CollUsers, id, &doc)
	return doc, found, err
}

// List returns a page of active users to a viewer who may see every account.
func (q Users) List(ctx context.Context, v Viewer, f UserFilter) (Page[projections.UserDoc], error) {
	if !visibility.SeesAll(v) {
		return Page[projections.UserDoc]{}, ErrForbidden
	}
	filter := Filter{Equal: map[string]string{"status": projections.UserActive}, After: f.Cursor, Limit: f.Limit,
		Search: []string{"name", "email"}, Term: f.Query}
	if f.Role != "" {
		filter.Equal["roles"] = f.Role
	}
	if f.Code != "" {
		filter.Equal["profile.code"] = f.Code
	}
	if f.Email != "" {
		return q.listByEmail(ctx, f)
	}
	return page(ctx, q.Reader, projections.CollUsers, filter, func(d projections.UserDoc) string { return d.ID })
}

// listByEmail is the list of the one user holding f.Email, if the other
// filters keep them: two lookups by _id, the filters checked here rather
// than by the store (any filter beyond _id alone is a scan on some stores).
func (q Users) listByEmail(ctx context.Context, f UserFilter) (Page[projections.UserDoc], error) {
	none := Page[projections.UserDoc]{Items: []projections.UserDoc{}}
	id, err := holder(ctx, q.Reader, f.Email)
	if err != nil || id == "" || id <= f.Cursor {
		return none, err
	}
	var d projections.UserDoc
	found, err := q.Reader.Get(ctx, projections.CollUsers, id, &d)
	term := strings.ToLower(f.Query)
	switch {
	case err != nil || !found || d.Status != projections.UserActive:
		return none, err
	case f.Role != "" && !slices.Contains(d.Roles, f.Role), f.Code != "" && d.Profile.Code != f.Code,
		term != "" && !strings.Contains(strings.ToLower(d.Name), term) && !strings.Contains(strings.ToLower(d.Email), term):
		return none, nil
	}
	return Page[projections.UserDoc]{Items: []projections.UserDoc{d}}, nil
}

// History returns the events of a user's stream to a viewer who may see
// the account.
func (q Users) History(ctx context.Context, v Viewer, id string) ([]events.Envelope, error) {
	if !visibility.SeesUser(v, id) {
		return nil, ErrNotFound
	}
	return history(ctx, q.Streams, events.StreamUser, id)
}

func history(ctx context.Context, s Streams, streamType, id string) ([]events.Envelope, error) {
	commits, err := s.ReadStream(ctx, id, events.ReadOptions{})
	if err != nil {
		return nil, err
	}
	var out []events.Envelope
	for _, c := range commits {
		if c.StreamType != streamType {
			return nil, ErrNotFound
		}
		out = append(out, c.Events...)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}
