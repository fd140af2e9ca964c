package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestSameFileImportedTwiceAtOnce: a file uploaded twice at the same time
// (a double click, a client retrying a long import it gave up on) is
// imported once, and each upload's report holds no error: a row whose
// person the other upload created a moment before is that person brought
// up to date (unchanged, for the same file), as it is when the file is
// imported again afterwards. It was refused "a user with this e-mail
// already exists", every row the other upload won.
func TestSameFileImportedTwiceAtOnce(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rnd := seeded(t, 0)
	n := 40 + rnd.IntN(60)
	var sups, studs strings.Builder
	sups.WriteString("Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n")
	studs.WriteString("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n")
	for i := range n {
		fmt.Fprintf(&sups, "TW%d,Twice Sup %d,Lecturer,EECS,twice.sup%d@uni.example,,%d\n", i, i, i, rnd.IntN(10))
		fmt.Fprintf(&studs, "TS%d,Twice Student %d,Enrolled,MSc,Full-time,2026-09-21,twice.st%d@uni.example,\n", i, i, i)
	}
	for _, f := range []struct{ kind, body string }{{"supervisors", sups.String()}, {"students", studs.String()}} {
		reports := make([]response, 2)
		var wg sync.WaitGroup
		for i := range reports {
			wg.Go(func() { reports[i] = s.upload(admin, f.kind, f.kind+".csv", []byte(f.body), "") })
		}
		wg.Wait()
		created := int64(0)
		for _, r := range reports {
			s.expect(r, 200)
			if errs, _ := r.Body["errors"].([]any); len(errs) > 0 {
				t.Fatalf("%s: a report of the file uploaded twice at once has %d row errors, the first: %v", f.kind, len(errs), errs[0])
			}
			if r.num("created")+r.num("updated")+r.num("unchanged") != int64(n) {
				t.Fatalf("%s: report %s, want every one of the %d rows applied", f.kind, r.Raw, n)
			}
			created += r.num("created")
		}
		if created != int64(n) {
			t.Fatalf("%s: %d rows created by the two uploads together, want %d (each person once)", f.kind, created, n)
		}
		again := s.expect(s.upload(admin, f.kind, f.kind+".csv", []byte(f.body), ""), 200)
		if again.num("unchanged") != int64(n) {
			t.Fatalf("%s imported a third time: %s, want every row unchanged", f.kind, again.Raw)
		}
	}
}
