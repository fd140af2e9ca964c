package rebuild

import (
	"slices"
	"strings"

	"github.com/capstone-pms/capstone/internal/quote"
	"github.com/capstone-pms/capstone/projections"
)

// NamesError refuses a rebuild's list of projections before anything
// starts: Message says which name, Hint what is allowed.
type NamesError struct {
	Message, Hint string
}

func (e *NamesError) Error() string { return e.Message + " (" + e.Hint + ")" }

// CheckNames refuses a name that is no projection, or one named twice (each
// would be rebuilt into the same fresh collection, and the second write of
// a document fail after the request was accepted).
func CheckNames(names []string) error {
	all := projections.Names()
	for i, n := range names {
		msg := ""
		switch {
		case !slices.Contains(all, n):
			msg = "unknown projection " + quote.Bounded(n)
		case slices.Contains(names[:i], n):
			msg = "projection " + quote.Bounded(n) + " is named twice"
		default:
			continue
		}
		return &NamesError{Message: msg, Hint: "each at most once, of " + strings.Join(all, ", ")}
	}
	return nil
}
