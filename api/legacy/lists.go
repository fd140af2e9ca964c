package legacy

import (
	"context"

	"github.com/capstone-pms/capstone/queries"
)

// maxPages bounds a list the original answers whole (a bare array): pages
// of the largest size, far more than a cohort.
const maxPages = 100

// whole reads every page of a list, as the original answered it.
func whole[T any](ctx context.Context, page func(cursor string) (queries.Page[T], error)) ([]T, error) {
	out := []T{}
	cursor := ""
	for range maxPages {
		p, err := page(cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" || ctx.Err() != nil {
			break
		}
		cursor = p.NextCursor
	}
	return out, ctx.Err()
}
