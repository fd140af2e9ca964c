package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
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

// TestPreferencesFileOverRankingsAlreadySet: a preferences file sets each
// row's ranking whether or not its student already had one, though a
// cohort's first file decides its rows without reading the students'
// records (cohort.Service.SetFirstPreferences). Before the file, a random
// share of its students ranked the same supervisors, another share
// others; the service restarts (it has read none of their records since),
// and the file comes: rows already as the file says are unchanged, every
// other row updated, each student shows the file's ranking, and the file
// again changes nothing.
func TestPreferencesFileOverRankingsAlreadySet(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	cohort := cohortbench.Generate(cohortbench.Size{Students: 200 + r.IntN(200), Supervisors: 12, Choices: 3, Seed: seed})
	dir := t.TempDir()
	s := startServiceIn(t, dir, &syncBuffer{})
	admin := s.admin()
	s.expect(s.upload(admin, "supervisors", "supervisors.csv", cohort.Supervisors, ""), 200)
	s.expect(s.upload(admin, "students", "students.csv", cohort.Students, ""), 200)

	header, _, _ := bytes.Cut(cohort.Preferences, []byte("\n"))
	body := csvRows(t, string(cohort.Preferences))
	// Each row's student ranks beforehand as the file does, or otherwise
	// (the file's choices the other way round), or not at all.
	same, other := 0, 0
	var before [][]string
	for _, row := range body {
		switch r.IntN(4) {
		case 0:
			before = append(before, row)
			same++
		case 1:
			reversed := append([]string{row[0]}, row[1:]...)
			slices.Reverse(reversed[1:4])
			before = append(before, reversed)
			other++
		}
	}
	if len(before) > 0 {
		file := slices.Concat(header, []byte("\n"), csvBytes(t, before))
		rep := s.expect(s.upload(admin, "preferences", "preferences.csv", file, ""), 200)
		if rep.num("updated") != int64(len(before)) {
			t.Fatalf("rankings before the file: %.300s", rep.Raw)
		}
	}
	s.stop()

	s = startServiceIn(t, dir, &syncBuffer{})
	admin = s.admin()
	inserts := s.storeCommands("events", "insert")
	// A dry run, then the real run, each on a process that has not read
	// the students' records.
	for _, query := range []string{"?dry_run=true", ""} {
		rep := s.expect(s.upload(admin, "preferences", "preferences.csv", cohort.Preferences, query), 200)
		if rep.num("unchanged") != int64(same) || rep.num("updated") != int64(len(body)-same) || len(rowErrors(rep)) != 0 {
			t.Fatalf("the file %s over %d rankings as it says and %d others: %.300s; want %d unchanged and %d updated",
				query, same, other, rep.Raw, same, len(body)-same)
		}
		if query != "" {
			s.stop()
			s = startServiceIn(t, dir, &syncBuffer{})
			admin = s.admin()
			inserts = s.storeCommands("events", "insert")
		}
	}
	t.Logf("%d rows (%d ranked as the file, %d otherwise): %d event inserts", len(body), same, other, s.storeCommands("events", "insert")-inserts)
	again := s.expect(s.upload(admin, "preferences", "preferences.csv", cohort.Preferences, ""), 200)
	if again.num("unchanged") != int64(len(body)) {
		t.Fatalf("the file again: %.300s; want every row unchanged", again.Raw)
	}
	// A sample of students show the file's ranking.
	ids := map[string]string{}
	idOf := func(email string) string {
		if ids[email] == "" {
			items := s.expect(s.do("GET", "/v1/users?email="+url.QueryEscape(email), admin, nil), 200).items()
			if len(items) != 1 {
				t.Fatalf("users with e-mail %s: %v", email, items)
			}
			ids[email] = items[0]["id"].(string)
		}
		return ids[email]
	}
	for _, i := range r.Perm(len(body))[:min(len(body), 25)] {
		row := body[i]
		var want, got []string
		for _, email := range row[1:] {
			if email != "" {
				want = append(want, idOf(email))
			}
		}
		ranking, _ := s.expect(s.do("GET", "/v1/students/"+idOf(row[0]), admin, nil), 200).Body["preferences"].([]any)
		for _, id := range ranking {
			got = append(got, fmt.Sprint(id))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s ranks %v, want the file's %v", row[0], got, want)
		}
	}
}

// csvBytes is rows written as a CSV file.
func csvBytes(t *testing.T, rows [][]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
