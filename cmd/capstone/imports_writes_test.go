package main

import (
	"testing"

	"github.com/capstone-pms/capstone/tools/cohortbench"
)

// TestSupervisorsFileStoreCommands: a generated 400-row supervisors file
// costs the store few lookups of the supervisors read model and one
// snapshot of the cohort, and the file again nothing. Before, the
// capacities folded ahead of some new supervisors looked each of those up
// in the store (with the import's wait for them, 51 to 234 finds a file),
// and each of the file's four capacity commits saved the whole board.
func TestSupervisorsFileStoreCommands(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	file := cohortbench.Generate(cohortbench.Size{Students: 50, Supervisors: 400, Choices: 5, Seed: 3}).Supervisors
	count := func() (finds, snapshots, events int) {
		return s.storeCommands("supervisors", "find"), s.storeCommands("snapshots", "update") + s.storeCommands("snapshots", "insert"),
			s.storeCommands("events", "insert")
	}
	finds, snaps, _ := count()
	rep := s.expect(s.upload(admin, "supervisors", "supervisors.csv", file, ""), 200)
	if rep.num("created") != 400 {
		t.Fatalf("import: %.300s", rep.Raw)
	}
	f, sn, inserts := count()
	t.Logf("400 rows: %d finds of supervisors, %d snapshot writes", f-finds, sn-snaps)
	if f-finds > 20 {
		t.Errorf("a 400-row supervisors file took %d finds of the supervisors read model, want at most 20", f-finds)
	}
	if sn-snaps != 1 {
		t.Errorf("a 400-row supervisors file wrote %d snapshots, want 1 (the cohort's, at the end)", sn-snaps)
	}
	again := s.expect(s.upload(admin, "supervisors", "supervisors.csv", file, ""), 200)
	if again.num("unchanged") != 400 {
		t.Fatalf("the file again: %.300s", again.Raw)
	}
	if f2, sn2, inserts2 := count(); f2 != f || sn2 != sn || inserts2 != inserts {
		t.Errorf("the file again: %d finds of supervisors, %d snapshot writes, %d event inserts; want none", f2-f, sn2-sn, inserts2-inserts)
	}
	// Every supervisor shows their capacity, as the file set it.
	withSlots, listed := 0, 0
	for cursor := ""; ; {
		page := s.expect(s.do("GET", "/v1/supervisors?limit=200&cursor="+cursor, admin, nil), 200)
		for _, sup := range page.items() {
			listed++
			if c, _ := sup["capacity"].(float64); c > 0 {
				withSlots++
			}
		}
		if cursor = page.str("next_cursor"); cursor == "" {
			break
		}
	}
	if withSlots != 400 {
		t.Errorf("%d of %d supervisors listed show a capacity, want 400", withSlots, listed)
	}
}
