package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/tools/cohortbench"
)

// TestImportReadsEachStreamOnce: an import reads what a row needs from the
// event store about once, not again at every step of the row. A new
// supervisor or student is no read at all: their address, which this
// process has not read, is claimed as its stream's first commit without a
// lookup (the store would refuse it if the address had one), and a new
// stream has no snapshot to look for; a preferences row does not read
// each supervisor it ranks again (the file checks each once), nor its
// student's record, which a cohort's first file finds new. Before, a new
// student took one read of the address, before that three and a snapshot
// lookup; a preferences row read its student's record (1 a row), before
// that about eight reads for five supervisors ranked.
func TestImportReadsEachStreamOnce(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	reads := func() (events, snapshots int) {
		return s.storeCommands("events", "find"), s.storeCommands("snapshots", "find")
	}
	for _, f := range []struct {
		kind                string
		maxEvents, maxSnaps float64 // per row
	}{
		{"supervisors", 0.1, 0.1},
		{"students", 0.1, 0.1},
		{"preferences", 0.1, 0.1},
	} {
		events, snaps := reads()
		rep := s.expect(s.upload(admin, f.kind, f.kind+".csv", fixture(t, f.kind+".csv"), ""), 200)
		rows := rep.Body["rows"].(float64)
		e, sn := reads()
		perEvents, perSnaps := float64(e-events)/rows, float64(sn-snaps)/rows
		t.Logf("%s: %.0f rows, %.2f event store reads and %.2f snapshot lookups a row", f.kind, rows, perEvents, perSnaps)
		if rows < 10 || perEvents > f.maxEvents || perSnaps > f.maxSnaps {
			t.Errorf("%s: %.0f rows took %.2f event store reads and %.2f snapshot lookups a row, want at most %.1f and %.1f",
				f.kind, rows, perEvents, perSnaps, f.maxEvents, f.maxSnaps)
		}
	}
}

// TestLargeImportIsNotReadBack: the answer of an import larger than what
// the log of applied work remembers still comes once the read models show
// every row, without reading each row's documents back from the store to
// tell. Before, the answer waited for every commit of the import at its
// end, when the log had long forgotten all but the last few thousand rows
// (about 4,200 students): a 25,000-row file read some 20,800 documents of
// each of the emails, users and students read models. The log is made
// small here so that a small file outgrows it, yet it holds several times
// the commits an import has in flight (the service's log, 32 times).
// What the answer's wait reads is counted. The store's finds of the read
// models are logged too; they also count the projectors' own loads of
// documents (some hundreds for this file in some runs, none in others).
func TestLargeImportIsNotReadBack(t *testing.T) {
	defer func(size int) { appliedLogSize = size }(appliedLogSize)
	appliedLogSize = 4 * localInFlight // the streams of some 1,000 students (two each)
	const rows = 3000
	s := startService(t)
	admin := s.admin()
	file := cohortbench.Generate(cohortbench.Size{Students: rows, Supervisors: 5, Choices: 1, Seed: 7}).Students
	recs, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil || len(recs) != rows+1 {
		t.Fatalf("the generated file has %d records: %v", len(recs), err)
	}
	email := slices.Index(recs[0], "QM Email")
	collections := []string{projections.CollEmails, projections.CollUsers, projections.CollStudents}
	finds := func() (n []int) {
		for _, c := range collections {
			n = append(n, s.storeCommands(c, "find"))
		}
		return n
	}
	catchup := s.app.API.Consistency.Catchup
	before, readsBefore, awaitedBefore := finds(), catchup.Reads(), catchup.Awaited()
	rep := s.expect(s.upload(admin, "students", "students.csv", file, ""), 200)
	after, reads, awaited := finds(), catchup.Reads()-readsBefore, catchup.Awaited()-awaitedBefore
	if rep.num("created") != rows {
		t.Fatalf("import: %.300s", rep.Raw)
	}
	for i, c := range collections {
		t.Logf("%s: %d documents found in the store", c, after[i]-before[i])
	}
	// The answer waits for what was still on its way to the read models
	// (at most the commits in flight, and those stored since the request
	// last let go of what the log showed), not for all the file's 6,000.
	t.Logf("the answer waited for %d commits", awaited)
	if limit := 2*localInFlight + 256; awaited > int64(limit) {
		t.Errorf("a %d-row import's answer waited for %d commits at its end, want at most %d", rows, awaited, limit)
	}
	// What is left to wait for at the end (the last rows, which the log
	// remembers, and what the projectors have yet to apply) may be read
	// back; not every row.
	t.Logf("the answer's wait read %d documents", reads)
	if reads > rows/10 {
		t.Errorf("a %d-row import's answer read %d documents back (%.2f a row), want at most %d", rows, reads, float64(reads)/rows, rows/10)
	}
	// The answer still waited until the read models showed every row.
	for _, line := range []int{1, rows / 2, rows} {
		addr := recs[line][email]
		if got := s.expect(s.do("GET", "/v1/users?email="+url.QueryEscape(addr), admin, nil), 200).items(); len(got) != 1 {
			t.Errorf("right after the import, the users list shows %d users of %s (line %d), want 1", len(got), addr, line+1)
		}
	}
}

// TestImportLeavesTheCatchUpNothingToApply: a cohort's import reaches the
// read models through the bus alone. Its writers keep commits in flight
// for a second or more (hundreds on their way to the projectors, and more
// waiting for room), and the catch-up that follows the commit log leaves
// them to the bus, however old their entries: it applies none of them
// again, and its checkpoints pass the whole file once it is applied.
// Before, the catch-up applied again every commit logged a second before
// and not yet applied (hundreds in a file of thousands of rows, queued
// behind the bus's own deliveries, one sweep taking ten seconds while the
// checkpoints stood still), and a crash in a large import left the next
// process 3,000 to 19,000 commits to apply again.
func TestImportLeavesTheCatchUpNothingToApply(t *testing.T) {
	seed := rand.Uint64()
	rows := 1500 + rand.N(1000)
	t.Logf("seed %d, %d students", seed, rows)
	s := startService(t)
	admin := s.admin()
	file := cohortbench.Generate(cohortbench.Size{Students: rows, Supervisors: 5, Choices: 1, Seed: seed}).Students
	caught := func() int { return s.metricSum("capstone_catchup_commits_total") }
	before := caught()
	rep := s.expect(s.upload(admin, "students", "students.csv", file, ""), 200)
	if rep.num("created") != int64(rows) {
		t.Fatalf("import: %.300s", rep.Raw)
	}
	cu := s.app.catchUp
	waitForLong(t, "the catch-up's checkpoints at the log's end", 30*time.Second, func() bool {
		for _, c := range s.app.consumers {
			if behind, err := cu.Behind(context.Background(), c.Projection.Name()); err != nil || behind > 0 {
				return false
			}
		}
		return true
	})
	if n := caught() - before; n != 0 {
		t.Errorf("the catch-up applied %d commits of a %d-row import that the bus carried, want none", n, rows)
	}
}
