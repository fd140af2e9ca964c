package main

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestAllocationProjectedInBulk: an allocation run's placements are written
// to the read models in bulk, a few writes for the whole cohort rather than
// one per student, and every placement shows in them by the time the run
// answers (the all-in-one service).
func TestAllocationProjectedInBulk(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	importFixtureCohort(t, s, admin)
	before, movesBefore := s.storeCommands("students", "update"), s.storeCommands("students", imongo.StagedMoveCommand)
	run := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 7}), 200)
	placed := run.Body["assignments"].([]any)
	if len(placed) < 100 {
		t.Fatalf("the run placed %d students, want most of 200", len(placed))
	}
	updates := s.storeCommands("students", "update") - before
	if updates > len(placed)/4 {
		t.Errorf("projecting %d placements took %d update commands on the students read model, want at most %d", len(placed), updates, len(placed)/4)
	}
	// The embedded store's staged moves are counted with the commands.
	if moves := s.storeCommands("students", imongo.StagedMoveCommand) - movesBefore; s.app.store.Embedded != nil && (moves < 1 || moves > len(placed)/4) {
		t.Errorf("projecting %d placements: %d staged moves counted on the students read model, want 1 to %d", len(placed), moves, len(placed)/4)
	}
	export := s.expect(s.do("GET", "/v1/exports/supervisor-assignments.csv", admin, nil), 200)
	if rows := csvRows(t, export.Raw); len(rows) != len(placed) {
		t.Errorf("the assignments export at the answer has %d rows, want the run's %d placements", len(rows), len(placed))
	}
	for _, a := range placed {
		a := a.(map[string]any)
		got := s.expect(s.do("GET", "/v1/students/"+a["student_id"].(string), admin, nil), 200)
		if got.Body["supervisor_id"] != a["supervisor_id"] {
			t.Fatalf("student %v at the answer: supervisor %v, want %v", a["student_id"], got.Body["supervisor_id"], a["supervisor_id"])
		}
	}
}

// storeCommands reads from /metrics how many commands of a kind the
// service has sent to a collection of its store.
func (s *service) storeCommands(collection, command string) int {
	s.t.Helper()
	return s.metricSum("capstone_store_commands_total", `collection="`+collection+`"`, `command="`+command+`"`)
}

// metricSum is the sum of the series of a counter on /metrics whose labels
// hold every one of labels (written name="value").
func (s *service) metricSum(name string, labels ...string) int {
	s.t.Helper()
	r := s.expect(s.do("GET", "/metrics", "", nil), 200)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(r.Raw))
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		n += int(v)
	}
	return n
}
