package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/events"
)

// decodeJSON is the unmarshal function Decode is given for JSON payloads.
func decodeJSON(raw string) func(v any) error {
	return func(v any) error { return json.Unmarshal([]byte(raw), v) }
}

func TestRegistryRoundTrip(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	in := &events.UserCreated{Email: "ada@example.com", Name: "Ada", Roles: []string{"coordinator", "student"},
		Profile: events.Profile{Code: "S1", Department: "Computing"}}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := reg.SchemaVersion(in.EventType())
	if err != nil || schema != 1 {
		t.Fatalf("SchemaVersion(%q) = %d, %v; want 1, nil", in.EventType(), schema, err)
	}
	out, err := reg.Decode(in.EventType(), schema, decodeJSON(string(raw)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(events.Data(in), out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Each Decode builds a fresh value: decoding twice must not share one.
	again, _ := reg.Decode(in.EventType(), schema, decodeJSON(`{"email":"b@example.com"}`))
	if out.(*events.UserCreated).Email != "ada@example.com" || again.(*events.UserCreated).Email != "b@example.com" {
		t.Errorf("decoded values share state: %+v, %+v", out, again)
	}
}

func TestRegistryNames(t *testing.T) {
	var want []string
	for _, r := range events.All() {
		want = append(want, r.Name)
	}
	slices.Sort(want)
	got := events.NewRegistry(events.All()...).Names()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	if len(events.NewRegistry().Names()) != 0 {
		t.Error("an empty registry has names")
	}
}

func TestRegistryUnknownTypeNamesIt(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	called := false
	_, err := reg.Decode("ProjectTeleported", 1, func(any) error { called = true; return nil })
	if !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Decode err = %v, want ErrUnknownType", err)
	}
	if !strings.Contains(err.Error(), "ProjectTeleported") {
		t.Errorf("error %q does not name the type", err)
	}
	if called {
		t.Error("the payload of an unknown type was decoded")
	}
	_, err = reg.SchemaVersion("ProjectTeleported")
	if !errors.Is(err, events.ErrUnknownType) || !strings.Contains(err.Error(), "ProjectTeleported") {
		t.Errorf("SchemaVersion err = %v, want ErrUnknownType naming the type", err)
	}
}

func TestRegistryNewerSchemaNamesIt(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	_, err := reg.Decode("UserCreated", 2, decodeJSON(`{"email":"a@example.com","nickname":"A"}`))
	if !errors.Is(err, events.ErrNewerSchema) {
		t.Fatalf("Decode err = %v, want ErrNewerSchema", err)
	}
	if errors.Is(err, events.ErrUnknownType) {
		t.Errorf("a known type is reported unknown: %v", err)
	}
	for _, part := range []string{"UserCreated", "2", "1"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

// renamed is a test-only event whose schema 2 renamed "name" to "full_name"
// and added "source".
type renamed struct {
	FullName string `json:"full_name"`
	Source   string `json:"source"`
}

func (renamed) EventType() string { return "TestRenamed" }

func renamedRegistration() events.Registration {
	return events.Registration{
		Name:          "TestRenamed",
		SchemaVersion: 2,
		New:           func() events.Data { return &renamed{} },
		Upcasters: map[int]events.Upcaster{
			1: func(f map[string]any) (map[string]any, error) {
				name, ok := f["name"].(string)
				if !ok {
					return nil, fmt.Errorf("name is %T, want a string", f["name"])
				}
				delete(f, "name")
				f["full_name"], f["source"] = name, "v1"
				return f, nil
			},
		},
	}
}

func TestRegistryUpcasts(t *testing.T) {
	reg := events.NewRegistry(renamedRegistration())
	if v, err := reg.SchemaVersion("TestRenamed"); err != nil || v != 2 {
		t.Fatalf("SchemaVersion = %d, %v; want 2", v, err)
	}
	tests := []struct {
		name    string
		schema  int
		payload string
		want    events.Data
		wantErr string
	}{
		{name: "v1 is upcast", schema: 1, payload: `{"name":"Ada Lovelace"}`, want: &renamed{FullName: "Ada Lovelace", Source: "v1"}},
		{name: "v2 is read as is", schema: 2, payload: `{"full_name":"Ada","source":"import"}`, want: &renamed{FullName: "Ada", Source: "import"}},
		{name: "upcaster error names the type", schema: 1, payload: `{"name":42}`, wantErr: "TestRenamed"},
		{name: "no upcaster from v0", schema: 0, payload: `{"name":"Ada"}`, wantErr: "TestRenamed"},
		{name: "undecodable v1 payload", schema: 1, payload: `[1,2]`, wantErr: "TestRenamed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reg.Decode("TestRenamed", tc.schema, decodeJSON(tc.payload))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegistryUpcastsThroughEveryVersion(t *testing.T) {
	reg := renamedRegistration()
	reg.SchemaVersion = 3
	reg.Upcasters[2] = func(f map[string]any) (map[string]any, error) {
		f["source"] = f["source"].(string) + "+v2"
		return f, nil
	}
	got, err := events.NewRegistry(reg).Decode("TestRenamed", 1, decodeJSON(`{"name":"Ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events.Data(&renamed{FullName: "Ada", Source: "v1+v2"}), got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	// A gap in the chain is an error, not a partly upcast value.
	delete(reg.Upcasters, 2)
	if _, err := events.NewRegistry(reg).Decode("TestRenamed", 1, decodeJSON(`{"name":"Ada"}`)); err == nil || !strings.Contains(err.Error(), "TestRenamed") {
		t.Errorf("err = %v, want a missing upcaster naming the type", err)
	}
}

func TestRegisterDefaultsSchemaVersionToOne(t *testing.T) {
	reg := events.NewRegistry(events.Registration{Name: "TestRenamed", New: func() events.Data { return &renamed{} }})
	if v, err := reg.SchemaVersion("TestRenamed"); err != nil || v != 1 {
		t.Errorf("SchemaVersion = %d, %v; want 1", v, err)
	}
}

// mustPanic runs f and returns the panic message, failing if it did not panic.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("did not panic")
		}
		msg = fmt.Sprint(r)
	}()
	f()
	return ""
}

func TestRegisterTwicePanics(t *testing.T) {
	reg := events.NewRegistry(events.All()...)
	msg := mustPanic(t, func() { reg.Register(events.All()[0]) })
	if !strings.Contains(msg, events.All()[0].Name) {
		t.Errorf("panic %q does not name the type", msg)
	}
	msg = mustPanic(t, func() { events.NewRegistry(renamedRegistration(), renamedRegistration()) })
	if !strings.Contains(msg, "TestRenamed") {
		t.Errorf("panic %q does not name the type", msg)
	}
}

func TestRegisterMismatchedNamePanics(t *testing.T) {
	msg := mustPanic(t, func() {
		events.NewRegistry(events.Registration{Name: "UserRenamed", New: func() events.Data { return &events.UserCreated{} }})
	})
	if !strings.Contains(msg, "UserRenamed") || !strings.Contains(msg, "UserCreated") {
		t.Errorf("panic %q does not name both types", msg)
	}
}

// fill sets every string of v to a value derived from its field path and
// every string slice to two such values, so that a round trip that drops or
// mixes up a field is seen.
func fill(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		fill(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.String:
		v.SetString(path)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			v.Set(reflect.ValueOf([]string{path + "[0]", path + "[1]"}).Convert(v.Type()))
		}
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Bool:
		v.SetBool(true)
	}
}

func TestAllRegistrations(t *testing.T) {
	all := events.All()
	if len(all) == 0 {
		t.Fatal("All() is empty")
	}
	reg := events.NewRegistry(all...) // panics on a duplicate or mismatched name
	seen := map[string]bool{}
	for _, r := range all {
		t.Run(r.Name, func(t *testing.T) {
			if seen[r.Name] {
				t.Fatalf("%s listed twice", r.Name)
			}
			seen[r.Name] = true
			in := r.New()
			if in.EventType() != r.Name {
				t.Fatalf("New() builds a %q, registered as %q", in.EventType(), r.Name)
			}
			if reflect.ValueOf(in).Kind() != reflect.Pointer {
				t.Fatalf("New() returns a %T, want a pointer so that decoding can fill it", in)
			}
			if r.New() == in && reflect.TypeOf(in).Elem().Size() > 0 {
				t.Error("New() returns the same value twice")
			}
			fill(reflect.ValueOf(in), r.Name)
			raw, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			schema, err := reg.SchemaVersion(r.Name)
			if err != nil {
				t.Fatal(err)
			}
			out, err := reg.Decode(r.Name, schema, decodeJSON(string(raw)))
			if err != nil {
				t.Fatalf("Decode %s: %v", raw, err)
			}
			if diff := cmp.Diff(in, out); diff != "" {
				t.Errorf("JSON round trip of %s (-want +got):\n%s", raw, diff)
			}
			if r.SchemaVersion > 1 && len(r.Upcasters) != r.SchemaVersion-1 {
				t.Errorf("schema %d with %d upcasters, want %d", r.SchemaVersion, len(r.Upcasters), r.SchemaVersion-1)
			}
		})
	}
}
