package main

import "testing"

// TestImportReadsEachStreamOnce: an import reads what a row needs from the
// event store about once, not again at every step of the row. A new
// student is one read of their address (a new stream has no snapshot to
// look for, and the claim decides on what the lookup read); a preferences
// row does not read each supervisor it ranks again (the file checks each
// once). Before, a new student took three reads of the address and a
// snapshot lookup, and a row ranking five supervisors about eight reads.
func TestImportReadsEachStreamOnce(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.expect(s.upload(admin, "supervisors", "supervisors.csv", fixture(t, "supervisors.csv"), ""), 200)
	reads := func() (events, snapshots int) {
		return s.storeCommands("events", "find"), s.storeCommands("snapshots", "find")
	}
	for _, f := range []struct {
		kind                string
		maxEvents, maxSnaps float64 // per row
	}{
		{"students", 1.5, 0.1},
		{"preferences", 5, 0.1},
	} {
		events, snaps := reads()
		rep := s.expect(s.upload(admin, f.kind, f.kind+".csv", fixture(t, f.kind+".csv"), ""), 200)
		rows := rep.Body["rows"].(float64)
		e, sn := reads()
		perEvents, perSnaps := float64(e-events)/rows, float64(sn-snaps)/rows
		t.Logf("%s: %.0f rows, %.2f event store reads and %.2f snapshot lookups a row", f.kind, rows, perEvents, perSnaps)
		if rows < 100 || perEvents > f.maxEvents || perSnaps > f.maxSnaps {
			t.Errorf("%s: %.0f rows took %.2f event store reads and %.2f snapshot lookups a row, want at most %.1f and %.1f",
				f.kind, rows, perEvents, perSnaps, f.maxEvents, f.maxSnaps)
		}
	}
}
