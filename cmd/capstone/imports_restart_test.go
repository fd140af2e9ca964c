package main

import (
	"testing"

	"github.com/capstone-pms/capstone/tools/cohortbench"
)

// TestImportAgainAfterARestartLooksRowsUp: a people file imported again
// by a process that has not read its addresses (restarted since) finds, in
// its first rows, that its addresses are known, and looks the others up
// before it claims anything: its rows try no more claims than the rows in
// flight at its start, each of which the store refuses (an address's first
// commit where there is one). Every row is unchanged and nothing is
// stored.
func TestImportAgainAfterARestartLooksRowsUp(t *testing.T) {
	const rows = 600
	dir := t.TempDir()
	s := startServiceIn(t, dir, &syncBuffer{})
	file := cohortbench.Generate(cohortbench.Size{Students: 1, Supervisors: rows, Choices: 1, Seed: 3}).Supervisors
	if rep := s.expect(s.upload(s.admin(), "supervisors", "supervisors.csv", file, ""), 200); rep.num("created") != rows {
		t.Fatalf("import: %.300s", rep.Raw)
	}
	s.stop()
	s = startServiceIn(t, dir, &syncBuffer{})
	admin := s.admin()
	inserts, reads := s.storeCommands("events", "insert"), s.storeCommands("events", "find")
	rep := s.expect(s.upload(admin, "supervisors", "supervisors.csv", file, ""), 200)
	if rep.num("unchanged") != rows {
		t.Fatalf("the file again after a restart: %.300s; want every row unchanged", rep.Raw)
	}
	tried, looked := s.storeCommands("events", "insert")-inserts, s.storeCommands("events", "find")-reads
	t.Logf("%d rows: %d event inserts (refused claims, grouped), %d event reads", rows, tried, looked)
	// The claims of the rows in flight at the start go in a few grouped
	// inserts; claimed row after row, the file's 600 took some 40.
	if tried > 16 {
		t.Errorf("the file again after a restart sent %d event inserts (claims the store refused), want at most 16", tried)
	}
}
