package api

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
)

// errURLNotText refuses a path or query that is not UTF-8 text.
var errURLNotText = problem(http.StatusBadRequest, "invalid-url",
	"the path and the query must be UTF-8 text, percent-encoded, with no malformed escapes")

// textURL refuses a request whose path or query, once decoded, is not UTF-8
// text: every id, filter and search term the API takes is text, and a store
// refuses to search with a string that is not (a regular expression above
// all), which would otherwise end in a 500. A malformed escape in the query
// is refused too, rather than the parameter being silently dropped.
func textURL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		ok := err == nil && utf8.ValidString(r.URL.Path)
		for k, vs := range q {
			ok = ok && utf8.ValidString(k)
			for _, v := range vs {
				ok = ok && utf8.ValidString(v)
			}
		}
		if !ok {
			writeError(w, r, errURLNotText)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// repeatable are the query parameters that may be given more than once:
// ?after= names one bookmark each time (docs/api.md, Reading your own
// writes).
var repeatable = map[string]bool{"after": true}

// singleValued refuses a parameter that takes one value but is given more
// than once (?limit=1&limit=2): taking the first would silently drop the
// other, and a proxy that reads the last would see another request.
func singleValued(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var v commands.Validation
		for _, name := range slices.Sorted(maps.Keys(q)) {
			if len(q[name]) > 1 && !repeatable[name] {
				v.Add(name, "is given more than once")
			}
		}
		if err := v.Err(); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
