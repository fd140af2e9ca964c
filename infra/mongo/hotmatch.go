package mongo

import (
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/queries"
)

// memFilter is a list's filter (queries.Filter) evaluated on documents
// held in memory exactly as the embedded store evaluates the filter Find
// sends it: the store pushes nothing but an _id lookup down to SQLite and
// matches every other filter in Go, field by field, with the rules
// mirrored here (a string field, or an array holding the string; a
// missing field is "not equal" to anything; the search term as a
// case-insensitive Go regular expression). A document of a shape these
// rules do not cover (a dotted path through anything but a document, an
// _id that is not a string, a BSON regex) is not judged here: the list
// is then the store's.
type memFilter struct {
	f  queries.Filter
	re *regexp.Regexp // the search term, as the store compiles it; nil without one
}

// newMemFilter prepares f; ok is false when f cannot be evaluated here.
func newMemFilter(f queries.Filter) (m memFilter, ok bool) {
	m.f = f
	if f.Term != "" && len(f.Search) > 0 {
		re, err := regexp.Compile("(?i)" + literalPattern(f.Term))
		if err != nil {
			return m, false
		}
		m.re = re
	}
	return m, true
}

// match reports whether doc matches the filter; judged is false when doc
// has a shape whose matching is left to the store.
func (m memFilter) match(doc bson.Raw) (matches, judged bool) {
	f := m.f
	if f.After != "" {
		id, ok := doc.Lookup("_id").StringValueOK()
		if !ok {
			return false, false
		}
		if id <= f.After {
			return false, true
		}
	}
	if holds, judged := holdsEach(doc, f.Equal, anyEquals); !holds {
		return false, judged
	}
	if holds, judged := holdsEach(doc, f.NotEqual, notEqual); !holds {
		return false, judged
	}
	if len(f.AnyOf) > 0 {
		held := false
		for _, alt := range f.AnyOf {
			holds, ok := alternativeHolds(doc, alt)
			if !ok {
				return false, false
			}
			if holds {
				held = true
				break
			}
		}
		if !held {
			return false, true
		}
	}
	if m.re != nil {
		found := false
		for _, field := range f.Search {
			vals, ok := fieldValues(doc, field)
			if !ok {
				return false, false
			}
			hit, ok := anyMatches(vals, m.re)
			if !ok {
				return false, false
			}
			if hit {
				found = true
				break
			}
		}
		if !found {
			return false, true
		}
	}
	if f.ActiveOnly {
		vals, _ := fieldValues(doc, "active")
		if !anyTrue(vals) {
			return false, true
		}
	}
	return true, true
}

// alternativeHolds is one alternative of AnyOf: each field of Equal has
// its value, and no field of NotIn one of its values ($nin).
func alternativeHolds(doc bson.Raw, alt queries.Match) (holds, judged bool) {
	if holds, judged := holdsEach(doc, alt.Equal, anyEquals); !holds {
		return false, judged
	}
	return holdsEach(doc, alt.NotIn, func(vals []bson.RawValue, unwanted []string) bool {
		for _, u := range unwanted {
			if anyEquals(vals, u) {
				return false
			}
		}
		return true
	})
}

// holdsEach reports whether test holds of each field's values and its
// condition; judged is false when a field's path is one left to the store.
func holdsEach[C any](doc bson.Raw, conds map[string]C, test func([]bson.RawValue, C) bool) (holds, judged bool) {
	for field, c := range conds {
		vals, ok := fieldValues(doc, field)
		if !ok {
			return false, false
		}
		if !test(vals, c) {
			return false, true
		}
	}
	return true, true
}

func notEqual(vals []bson.RawValue, unwanted string) bool { return !anyEquals(vals, unwanted) }

// fieldValues is the value a filter's field (a dotted path into embedded
// documents) names in doc: none when it is missing; ok is false when the
// path goes through anything but an embedded document, which the store
// follows in ways not mirrored here (into arrays).
func fieldValues(doc bson.Raw, path string) (vals []bson.RawValue, ok bool) {
	parts := strings.Split(path, ".")
	cur := doc
	for i, part := range parts {
		v, err := cur.LookupErr(part)
		if err != nil {
			return nil, true
		}
		if i == len(parts)-1 {
			return []bson.RawValue{v}, true
		}
		sub, isDoc := v.DocumentOK()
		if !isDoc {
			return nil, false
		}
		cur = sub
	}
	return nil, true
}

// anyEquals reports whether a value is the string want, or an array
// holding it: the store's equality of a field with a string.
func anyEquals(vals []bson.RawValue, want string) bool {
	for _, v := range vals {
		if s, ok := v.StringValueOK(); ok && s == want {
			return true
		}
		if arr, ok := v.ArrayOK(); ok {
			elems, _ := arr.Values()
			for _, e := range elems {
				if s, ok := e.StringValueOK(); ok && s == want {
					return true
				}
			}
		}
	}
	return false
}

// anyTrue reports whether a value is true, or an array holding true.
func anyTrue(vals []bson.RawValue) bool {
	for _, v := range vals {
		if b, ok := v.BooleanOK(); ok && b {
			return true
		}
		if arr, ok := v.ArrayOK(); ok {
			elems, _ := arr.Values()
			for _, e := range elems {
				if b, ok := e.BooleanOK(); ok && b {
					return true
				}
			}
		}
	}
	return false
}

// anyMatches reports whether a value is a string re matches, or an array
// holding one; judged is false for a BSON regex value, which the store
// compares as a regex.
func anyMatches(vals []bson.RawValue, re *regexp.Regexp) (hit, judged bool) {
	for _, v := range vals {
		switch v.Type {
		case bson.TypeString:
			if re.MatchString(v.StringValue()) {
				return true, true
			}
		case bson.TypeArray:
			elems, _ := v.Array().Values()
			for _, e := range elems {
				if s, ok := e.StringValueOK(); ok && re.MatchString(s) {
					return true, true
				}
			}
		case bson.TypeRegex:
			return false, false
		}
	}
	return false, true
}
