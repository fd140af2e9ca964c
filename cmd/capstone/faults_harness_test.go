package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// errRecorder is a testing.TB whose Errorf is recorded instead of failing
// the test: a test of the fault suite's own checks looks at what they
// would report.
type errRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Helper() {}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheckAllDoesNotCountReadingTheStore: the fault suite judges
// convergence by the time of the list polls, against the latest aims it
// reads from every project's history. On a loaded machine, after a long
// run, reading those histories has taken over 30 s while the read models
// had long shown everything; the check must not report that as read models
// that never converged. The service here is a stand-in whose read models
// show every write at once and whose histories are slow to read the first
// time (the harness is what is under test, not the service).
func TestCheckAllDoesNotCountReadingTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past the suite's 30 s bound")
	}
	const projects = 4
	slowFirstRead := 3*convergeWithin/projects + time.Second // all histories: past 3*convergeWithin
	var mu sync.Mutex
	read := map[string]bool{}
	items := []map[string]any{}
	c := &faultClient{tag: "c0", created: map[string]string{}, aims: map[string]string{}, edits: map[string][]string{}}
	for i := range projects {
		id, title, aim := fmt.Sprintf("p%d", i), fmt.Sprintf("c0 create %d", i), fmt.Sprintf("c0 aim %d", i)
		c.created[title], c.aims[id], c.edits[id] = id, aim, []string{aim}
		items = append(items, map[string]any{"id": id, "title": title, "aim": aim, "version": 2})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/projects":
			_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
		case strings.HasSuffix(r.URL.Path, "/history"):
			id := strings.Split(r.URL.Path, "/")[3]
			mu.Lock()
			first := !read[id]
			read[id] = true
			mu.Unlock()
			if first {
				time.Sleep(slowFirstRead)
			}
			n := strings.TrimPrefix(id, "p")
			_ = json.NewEncoder(w).Encode(map[string]any{"items": []any{
				map[string]any{"type": "ProjectCreated", "data": map[string]any{"title": "c0 create " + n}},
				map[string]any{"type": "ProjectEdited", "data": map[string]any{"aim": "c0 aim " + n}},
			}})
		case r.URL.Path == "/v1/admin/projections/rebuild":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("{}"))
		case r.URL.Path == "/v1/admin/projections":
			_ = json.NewEncoder(w).Encode(map[string]any{"rebuild": map[string]any{"finished_at": "now", "differences": map[string]any{}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	bases := func() []string { return []string{strings.TrimPrefix(srv.URL, "http://")} }
	c.bases = bases
	rec := &errRecorder{TB: t}
	rep := checkAll(rec, "stand-in", time.Now(), &faultLoad{clients: []*faultClient{c}}, &faultClient{bases: bases})
	if len(rec.errs) > 0 || rep.Converged > convergeWithin || !rep.Verified || rep.Lost > 0 || rep.Duplicated > 0 {
		t.Fatalf("read models that showed everything at once were reported as %+v, with %q", rep, rec.errs)
	}
}
