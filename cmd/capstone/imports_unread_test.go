package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestImportOfNewAndKnownAddresses: a people file whose rows mix addresses
// nobody has, addresses of users made through the API or a file before,
// and addresses freed by a deletion, is applied row by row as ever, in the
// process that made them or in one restarted since (whose cache of what it
// read is empty, so each row not read before is created without a lookup
// first, the store refusing the claim of an address that has one). Each
// row is created, updated or unchanged as the model says, no address ever
// has two users, a known address keeps its user, and the file imported
// again is unchanged throughout and stores nothing.
func TestImportOfNewAndKnownAddresses(t *testing.T) {
	rnd := seeded(t, 0)
	dir := t.TempDir()
	s := startServiceIn(t, dir, &syncBuffer{})
	admin := s.admin()
	const (
		isNew = iota
		byAPI
		imported
		deleted
	)
	n := 30 + rnd.IntN(40)
	kind := make([]int, n)
	addr := func(i int) string { return fmt.Sprintf("mixed.sup%d@uni.example", i) }
	row := func(i int) string {
		return fmt.Sprintf("MX%d,Mixed Sup %d,Lecturer,EECS,%s,,%d\n", i, i, addr(i), 1+i%9)
	}
	const header = "Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n"
	var before strings.Builder
	before.WriteString(header)
	ids := map[int]string{}
	for i := range kind {
		kind[i] = rnd.IntN(4)
		switch kind[i] {
		case byAPI:
			ids[i] = s.createUser(admin, addr(i), fmt.Sprint("API User ", i), []string{[]string{"student", "supervisor", "examiner"}[rnd.IntN(3)]}, "")
		case deleted:
			id := s.createUser(admin, addr(i), fmt.Sprint("Gone User ", i), []string{"supervisor"}, "")
			s.expect(s.do("DELETE", "/v1/users/"+id, admin, nil), 204)
		case imported:
			before.WriteString(row(i))
		}
	}
	s.expect(s.upload(admin, "supervisors", "before.csv", []byte(before.String()), ""), 200)
	userOf := func(email string) (ids []string) {
		for _, u := range s.expect(s.do("GET", "/v1/users?email="+url.QueryEscape(email), admin, nil), 200).items() {
			ids = append(ids, fmt.Sprint(u["id"]))
		}
		return ids
	}
	for i := range kind {
		if kind[i] == imported {
			ids[i] = userOf(addr(i))[0]
		}
	}
	if restart := rnd.IntN(2) == 0; restart {
		t.Log("restarted: no address is cached")
		s.stop()
		s = startServiceIn(t, dir, &syncBuffer{})
		admin = s.admin()
	}

	// The file: every address, in a random order, some twice (refused).
	var file strings.Builder
	file.WriteString(header)
	var want struct{ created, updated, unchanged, refused int64 }
	for _, i := range rnd.Perm(n) {
		file.WriteString(row(i))
		switch kind[i] {
		case isNew, deleted:
			want.created++
		case byAPI:
			want.updated++
		case imported:
			want.unchanged++
		}
		if rnd.IntN(8) == 0 {
			file.WriteString(row(i))
			want.refused++
		}
	}
	// A dry run first, which decides each row as the import does and
	// stores nothing, then the import.
	for _, query := range []string{"?dry_run=true", ""} {
		rep := s.expect(s.upload(admin, "supervisors", "mixed.csv", []byte(file.String()), query), 200)
		errs, _ := rep.Body["errors"].([]any)
		if rep.num("created") != want.created || rep.num("updated") != want.updated || rep.num("unchanged") != want.unchanged || int64(len(errs)) != want.refused {
			t.Fatalf("import%s: report %.600s;\nwant %d created, %d updated, %d unchanged and %d duplicate rows refused",
				query, rep.Raw, want.created, want.updated, want.unchanged, want.refused)
		}
	}
	for i := range kind {
		got := userOf(addr(i))
		if len(got) != 1 {
			t.Fatalf("%s (kind %d) has %d users after the import: %v", addr(i), kind[i], len(got), got)
		}
		if id, known := ids[i]; known && got[0] != id {
			t.Errorf("%s (kind %d) was user %s, and is now user %s", addr(i), kind[i], id, got[0])
		}
	}

	inserts := s.storeCommands("events", "insert")
	again := s.expect(s.upload(admin, "supervisors", "mixed.csv", []byte(file.String()), ""), 200)
	if again.num("unchanged") != int64(n) || again.num("created")+again.num("updated") != 0 {
		t.Fatalf("the file imported again: %.600s; want all %d rows unchanged", again.Raw, n)
	}
	if after := s.storeCommands("events", "insert"); after != inserts {
		t.Errorf("the file imported again stored %d event inserts, want none", after-inserts)
	}
}
