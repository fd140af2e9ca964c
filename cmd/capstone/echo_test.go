package main

import (
	"strings"
	"testing"
)

// TestRefusalEchoBounded: a rebuild naming an unknown read model of 10,000
// characters had the whole name echoed in the problem; a name is now
// quoted to at most 100 characters, cut with an ellipsis. So is an unknown
// export's.
func TestRefusalEchoBounded(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	long := strings.Repeat("x", 10_000)
	for _, r := range []response{
		s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{long}}), 400, "invalid"),
		s.expect(s.do("GET", "/v1/exports/"+long+".csv", admin, nil), 404),
	} {
		if len(r.Raw) > 2000 || !strings.Contains(r.Raw, strings.Repeat("x", 100)+"…") || strings.Contains(r.Raw, strings.Repeat("x", 101)) {
			t.Errorf("the refusal echoes %d bytes: %.300s", len(r.Raw), r.Raw)
		}
	}
	// A short name is quoted whole.
	r := s.expect(s.do("POST", "/v1/admin/projections/rebuild", admin, map[string]any{"projections": []string{"nope"}}), 400, "invalid")
	if !strings.Contains(r.Raw, `\"nope\"`) {
		t.Errorf("a short name: %s", r.Raw)
	}
	if rb := s.do("GET", "/v1/admin/projections", admin, nil).Body["rebuild"]; rb != nil {
		t.Fatalf("a refused rebuild started: %v", rb)
	}
}
