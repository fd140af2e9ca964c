package queries

import (
	"context"

	"github.com/capstone-pms/capstone/projections"
)

// holder returns the id of the user an address (normalised: trimmed, lower
// case) is claimed by, "" when nobody: one lookup by _id in the e-mails
// read model, never a search of the users.
func holder(ctx context.Context, r Reader, email string) (string, error) {
	var doc projections.EmailDoc
	found, err := r.Get(ctx, projections.CollEmails, projections.EmailID(email), &doc)
	if err != nil || !found {
		return "", err
	}
	return doc.UserID, nil
}

// ByEmail returns the active user holding an address (normalised), to a
// viewer who may see the account.
func (q Users) ByEmail(ctx context.Context, v Viewer, email string) (projections.UserDoc, error) {
	id, err := holder(ctx, q.Reader, email)
	if err != nil {
		return projections.UserDoc{}, err
	}
	if id == "" {
		return projections.UserDoc{}, ErrNotFound
	}
	return q.Get(ctx, v, id, 0)
}

// ByEmail returns the active supervisor holding an address (normalised).
func (q Supervisors) ByEmail(ctx context.Context, email string) (projections.SupervisorDoc, error) {
	id, err := holder(ctx, q.Reader, email)
	if err != nil {
		return projections.SupervisorDoc{}, err
	}
	if id == "" {
		return projections.SupervisorDoc{}, ErrNotFound
	}
	return q.Get(ctx, id)
}
