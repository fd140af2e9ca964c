package mongo

import (
	"maps"
	"reflect"
	"slices"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// decoded is a hot document as last decoded into a Go type: a copy of it
// is what the next read of that type gets, rather than decoding the BSON
// again (a list of 40 supervisors cost 40 decodes per request).
type decoded struct {
	typ reflect.Type
	val reflect.Value
}

// decodeHot decodes a hot document into into as bson.Unmarshal would. Into
// a zero value of the type last decoded (every query's fresh variable),
// it copies that decoding deeply, so nothing the caller holds is shared
// with memory or with another caller.
func decodeHot(raw bson.Raw, cache *atomic.Pointer[decoded], into any) error {
	dst := reflect.ValueOf(into)
	if dst.Kind() != reflect.Pointer || dst.IsNil() {
		return bson.Unmarshal(raw, into)
	}
	dst = dst.Elem()
	if c := cache.Load(); c != nil && c.typ == dst.Type() && dst.IsZero() {
		deepCopy(dst, c.val)
		return nil
	}
	fresh := dst.IsZero()
	if err := bson.Unmarshal(raw, into); err != nil {
		return err
	}
	if fresh {
		v := reflect.New(dst.Type()).Elem()
		deepCopy(v, dst)
		cache.Store(&decoded{typ: dst.Type(), val: v})
	}
	return nil
}

// deepCopy sets dst to a copy of src sharing no slice, map or pointer with
// it (strings are immutable and shared). Unexported fields are copied as
// they are: those of the read models' documents are time.Time's, whose
// location is never changed.
func deepCopy(dst, src reflect.Value) {
	// The read models' usual fields, copied without reflection per element.
	if src.CanInterface() {
		switch x := src.Interface().(type) {
		case []string:
			dst.Set(reflect.ValueOf(slices.Clone(x)))
			return
		case map[string]int64:
			dst.Set(reflect.ValueOf(maps.Clone(x)))
			return
		}
	}
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			v := reflect.New(src.Type().Elem()).Elem()
			deepCopy(v, it.Value())
			m.SetMapIndex(it.Key(), v)
		}
		dst.Set(m)
	case reflect.Struct:
		dst.Set(src)
		for i := range src.NumField() {
			switch src.Field(i).Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Struct, reflect.Interface:
				if dst.Field(i).CanSet() {
					deepCopy(dst.Field(i), src.Field(i))
				}
			}
		}
	case reflect.Interface:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		v := reflect.New(src.Elem().Type()).Elem()
		deepCopy(v, src.Elem())
		dst.Set(v)
	default:
		dst.Set(src)
	}
}
