package commands

import "context"

// bulkKey is the context key that marks a batch's commands (Bulk).
type bulkKey struct{}

// Bulk returns a context under which commands are a batch's (an import's
// rows, hundreds at once): where the commands of a process share something
// scarce, such as the room to publish their commits, a batch leaves some of
// it to the single requests, so that a student's or a coordinator's request
// does not queue behind a cohort's file.
func Bulk(ctx context.Context) context.Context { return context.WithValue(ctx, bulkKey{}, true) }

// IsBulk reports whether ctx is a batch's (Bulk).
func IsBulk(ctx context.Context) bool {
	bulk, _ := ctx.Value(bulkKey{}).(bool)
	return bulk
}
