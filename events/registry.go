package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrUnknownType is returned for a stored type name this binary has no Go type for.
var ErrUnknownType = errors.New("unknown event type")

// ErrNewerSchema is returned for an event written by a newer binary: reading it
// with an older Go type would silently drop fields, so it is refused instead.
var ErrNewerSchema = errors.New("event schema is newer than this binary knows")

// Upcaster turns the fields of schema version N into those of version N+1.
type Upcaster func(fields map[string]any) (map[string]any, error)

// Registration ties a type name to its Go type and current schema version.
type Registration struct {
	Name          string
	SchemaVersion int
	New           func() Data
	// Upcasters[n] reads schema version n and returns version n+1.
	Upcasters map[int]Upcaster
}

// Registry maps stored type names to Go types. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	types map[string]Registration
}

// NewRegistry returns a registry with the given registrations.
func NewRegistry(regs ...Registration) *Registry {
	r := &Registry{types: make(map[string]Registration)}
	for _, reg := range regs {
		r.Register(reg)
	}
	return r
}

// Register adds a type. Registering a name twice is a programming error.
func (r *Registry) Register(reg Registration) {
	if reg.SchemaVersion < 1 {
		reg.SchemaVersion = 1
	}
	if got := reg.New().EventType(); got != reg.Name {
		panic(fmt.Sprintf("events: registration %q builds a %q", reg.Name, got))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[reg.Name]; dup {
		panic(fmt.Sprintf("events: type %q registered twice", reg.Name))
	}
	r.types[reg.Name] = reg
}

// SchemaVersion is the version new events of this type are written with.
func (r *Registry) SchemaVersion(name string) (int, error) {
	reg, err := r.lookup(name)
	if err != nil {
		return 0, err
	}
	return reg.SchemaVersion, nil
}

// Names lists the registered type names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *Registry) lookup(name string) (Registration, error) {
	r.mu.RLock()
	reg, ok := r.types[name]
	r.mu.RUnlock()
	if !ok {
		return Registration{}, fmt.Errorf("%w %q", ErrUnknownType, name)
	}
	return reg, nil
}

// Decode builds the Data of a stored event. unmarshal decodes the stored bytes
// into the value it is given, whatever the storage format (BSON in the store,
// JSON on the bus); field names are the same in both (struct tags agree).
// Older schema versions go through the type's upcasters.
func (r *Registry) Decode(name string, schema int, unmarshal func(v any) error) (Data, error) {
	reg, err := r.lookup(name)
	if err != nil {
		return nil, err
	}
	if schema > reg.SchemaVersion {
		return nil, fmt.Errorf("%w: %q version %d (this binary reads up to %d)", ErrNewerSchema, name, schema, reg.SchemaVersion)
	}
	data := reg.New()
	if schema == reg.SchemaVersion {
		if err := unmarshal(data); err != nil {
			return nil, fmt.Errorf("decode %q: %w", name, err)
		}
		return data, nil
	}
	fields := map[string]any{}
	if err := unmarshal(&fields); err != nil {
		return nil, fmt.Errorf("decode %q version %d: %w", name, schema, err)
	}
	for v := schema; v < reg.SchemaVersion; v++ {
		up, ok := reg.Upcasters[v]
		if !ok {
			return nil, fmt.Errorf("%q has no upcaster from version %d", name, v)
		}
		if fields, err = up(fields); err != nil {
			return nil, fmt.Errorf("upcast %q from version %d: %w", name, v, err)
		}
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("upcast %q: %w", name, err)
	}
	if err := json.Unmarshal(raw, data); err != nil {
		return nil, fmt.Errorf("upcast %q: %w", name, err)
	}
	return data, nil
}
