package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The all-in-one service on the store it has alone keeps each group of
// commits in the commit log only: its outbox collection, which would only
// duplicate the log there, is never written, and every write still shows.
func TestOnlyWriterWritesNoOutbox(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	n := 1 + rand.IntN(40)
	var b strings.Builder
	b.WriteString("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n")
	for i := range n {
		fmt.Fprintf(&b, ",Student %d,,,,,logonly%03d@uni.example,\n", i, i)
	}
	rep := s.expect(s.upload(admin, "students", "s.csv", []byte(b.String()), ""), 200)
	if rep.num("created") != int64(n) {
		t.Fatalf("report: %.500s", rep.Raw)
	}
	list := s.expect(s.do("GET", "/v1/users?role=student&limit=200", admin, nil), 200)
	if got := len(list.items()); got != n {
		t.Fatalf("%d students listed after importing %d", got, n)
	}
	if w := s.storeCommands("outbox", "insert"); w != 0 {
		t.Errorf("%d outbox inserts; the only writer keeps its groups in the commit log alone", w)
	}
	if w := s.storeCommands("commit_log", "insert"); w == 0 {
		t.Error("no commit log insert: the groups were kept nowhere")
	}
}
