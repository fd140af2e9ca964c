package queries

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"

	"github.com/capstone-pms/capstone/events"
)

// ErrNotFound is returned for what does not exist or what the caller may not see.
var ErrNotFound = errors.New("not found")

// ErrForbidden is returned for a whole list or export the caller may not see.
var ErrForbidden = errors.New("forbidden")

// Reader reads read-model documents.
type Reader interface {
	Get(ctx context.Context, collection, id string, into any) (bool, error)
	// Find decodes one page of matching documents, in id order, into into (a *[]Doc).
	Find(ctx context.Context, collection string, f Filter, into any) error
}

// ListVersions is a Reader that can tell when a read model's lists stay
// as they are: while the version it gives for a collection is the same,
// so is every page of every list of it. ok is false when it cannot tell
// (the read model is not held whole in memory).
type ListVersions interface {
	ListVersion(ctx context.Context, collection string) (version string, ok bool)
}

// Streams folds history for the history and as-of queries.
type Streams interface {
	ReadStream(ctx context.Context, streamID string, opts events.ReadOptions) ([]events.Commit, error)
}

// Filter selects documents of a list. Fields are read-model field names.
type Filter struct {
	Equal    map[string]string // field equals value (for an array field: contains it)
	NotEqual map[string]string
	AnyOf    []Match  // at least one holds
	Search   []string // fields Term is looked for in, case-insensitively
	Term     string
	After    string // only ids greater than this (the cursor)
	Limit    int
	// ActiveOnly keeps documents whose boolean field "active" is true.
	ActiveOnly bool
}

// Match is one alternative of Filter.AnyOf: every field of Equal has its
// value, and no field of NotIn has one of its values.
type Match struct {
	Equal map[string]string
	NotIn map[string][]string
}

// Page is one page of a list and the cursor of the next (empty at the end).
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// Viewer is the caller a query answers for.
type Viewer = events.Actor

// IsCoordinator reports whether the viewer administers the cohort.
func IsCoordinator(v Viewer) bool { return slices.Contains(v.Roles, events.RoleCoordinator) }

// Page limits (docs/api.md, Lists).
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// PageHistory returns one page of a stream's events: those after the
// version in cursor ("" from the first), at most limit (clamped as every
// list's). The next cursor is the last version of the page.
func PageHistory(evs []events.Envelope, cursor string, limit int) (Page[events.Envelope], error) {
	var after int64
	if cursor != "" {
		v, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || v < 0 {
			return Page[events.Envelope]{}, ErrBadCursor
		}
		after = v
	}
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Version > after })
	rest := evs[i:]
	p := Page[events.Envelope]{Items: rest}
	if n := clampLimit(limit); len(rest) > n {
		p.Items = rest[:n]
		p.NextCursor = strconv.FormatInt(rest[n-1].Version, 10)
	}
	return p, nil
}

// ErrBadCursor refuses a cursor that no page of this list gave out.
var ErrBadCursor = errors.New("not a cursor of this list")

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// page fetches limit+1 documents to know whether there is a next page.
func page[T any](ctx context.Context, r Reader, coll string, f Filter, id func(T) string) (Page[T], error) {
	limit := clampLimit(f.Limit)
	f.Limit = limit + 1
	var items []T
	if err := r.Find(ctx, coll, f, &items); err != nil {
		return Page[T]{}, err
	}
	p := Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = id(items[limit-1])
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p, nil
}
