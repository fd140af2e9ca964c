package api

import (
	"net/http"
	"net/url"
	"unicode/utf8"
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
