package mongo_test

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestEveryEventStoresItsWholeRange: every value an event's fields can hold
// is stored and read back unchanged, through the store and through the bus's
// encoding alike. A field whose Go type holds values one of them cannot (an
// unsigned 64-bit integer above the store's signed range, a float's NaN,
// which JSON cannot carry, a map whose keys the store may refuse) fails here
// by its type, before any request finds the value that fails: whatever the
// API accepts must be storable, so the types must not promise more.
func TestEveryEventStoresItsWholeRange(t *testing.T) {
	s := imongo.NewEventStore(newDB(t), registry)
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, reg := range events.All() {
		for extreme := range extremes {
			data := reg.New()
			v := reflect.ValueOf(data).Elem()
			if problems := fillExtreme(v, reg.Name, extreme); len(problems) > 0 {
				for _, p := range problems {
					t.Error(p)
				}
				break
			}
			stream := fmt.Sprintf("storable-%s-%d", reg.Name, extreme)
			c := newCommit(stream, 1, at, data)
			if err := s.Append(testCtx(t), c); err != nil {
				t.Errorf("%s with %s values: the store refuses it: %v", reg.Name, extremeNames[extreme], err)
				continue
			}
			got, err := s.ReadStream(testCtx(t), stream, events.ReadOptions{})
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: read back %d commits: %v", reg.Name, len(got), err)
			}
			if diff := cmp.Diff(data, got[0].Events[0].Data); diff != "" {
				t.Errorf("%s with %s values: the store changed it (-stored +read):\n%s", reg.Name, extremeNames[extreme], diff)
			}
			raw, err := events.MarshalCommit(c)
			if err != nil {
				t.Errorf("%s with %s values: the bus cannot encode it: %v", reg.Name, extremeNames[extreme], err)
				continue
			}
			back, err := events.UnmarshalCommit(raw, registry)
			if err != nil {
				t.Fatalf("%s: %v", reg.Name, err)
			}
			if diff := cmp.Diff(data, back.Events[0].Data); diff != "" {
				t.Errorf("%s with %s values: the bus changed it (-sent +received):\n%s", reg.Name, extremeNames[extreme], diff)
			}
		}
	}
}

// The sets of values every field is filled with in turn.
const (
	lowest = iota
	highest
	awkward
	extremes
)

var extremeNames = [extremes]string{"lowest", "highest", "awkward"}

// fillExtreme fills every field of v with the extreme values of its type,
// and reports the fields whose type holds values that cannot be stored.
func fillExtreme(v reflect.Value, at string, extreme int) []string {
	switch v.Kind() {
	case reflect.String:
		v.SetString([extremes]string{"", strings.Repeat("ß", 1<<16),
			"NUL\x00 inside, tab\t, line\n, 🎓 and \u202e, and a $key.with.dots"}[extreme])
	case reflect.Bool:
		v.SetBool(extreme == highest)
	case reflect.Int, reflect.Int64:
		v.SetInt([extremes]int64{math.MinInt64, math.MaxInt64, -1}[extreme])
	case reflect.Int8, reflect.Int16, reflect.Int32:
		bits := v.Type().Bits()
		v.SetInt([extremes]int64{-1 << (bits - 1), 1<<(bits-1) - 1, 0}[extreme])
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		v.SetUint([extremes]uint64{0, 1<<v.Type().Bits() - 1, 1}[extreme])
	case reflect.Slice:
		if extreme == lowest {
			return nil // nil and empty read back alike (EquateEmpty is not used: nil stays nil)
		}
		v.Set(reflect.MakeSlice(v.Type(), 3, 3))
		var out []string
		for i := range 3 {
			out = append(out, fillExtreme(v.Index(i), fmt.Sprintf("%s[%d]", at, i), extreme)...)
		}
		return dedupe(out)
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				out = append(out, fillExtreme(v.Field(i), at+"."+f.Name, extreme)...)
			}
		}
		return out
	default:
		return []string{fmt.Sprintf("%s is a %s: the store or the bus cannot hold every value of it; use a signed integer, a string or a struct",
			at, v.Type())}
	}
	return nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		key := x[strings.IndexByte(x, ' '):]
		if !seen[key] {
			seen[key] = true
			out = append(out, x)
		}
	}
	return out
}
