package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// shortlistMerge is the merge the original frontend's shortlist makes, as
// docs/legacy.md states it: a slot given an e-mail takes it, one left empty
// keeps what it held, and the slots are ranked in order without gaps. A
// merge that ranks nobody, or somebody twice, is refused (ok false).
func shortlistMerge(current []string, post [5]string) (next []string, ok bool) {
	for i, v := range post {
		if v == "" && i < len(current) {
			v = current[i]
		}
		if v == "" {
			continue
		}
		if slices.Contains(next, v) {
			return current, false
		}
		next = append(next, v)
	}
	if len(next) == 0 {
		return current, false
	}
	return next, true
}

// serialOutcomes are the rankings, and the posts answered 200, that the
// posts give applied one after another, in every order.
func serialOutcomes(start []string, posts [][5]string) map[string]bool {
	out := map[string]bool{}
	var perm func(done []int, current []string, accepted []bool)
	perm = func(done []int, current []string, accepted []bool) {
		if len(done) == len(posts) {
			out[fmt.Sprint(current, accepted)] = true
			return
		}
		for i := range posts {
			if slices.Contains(done, i) {
				continue
			}
			next, ok := shortlistMerge(current, posts[i])
			acc := slices.Clone(accepted)
			acc[i] = ok
			perm(append(slices.Clone(done), i), next, acc)
		}
	}
	perm(nil, start, make([]bool, len(posts)))
	return out
}

// TestLegacyShortlistPostsTogetherLoseNoSlot: posts of one student's
// shortlist sent together end as the same posts sent one after another,
// in some order: none is merged into a ranking that another has replaced
// meanwhile, which dropped the slots the other filled (five posts of one
// slot each, sent at once, left one supervisor ranked). Random rounds,
// the seed logged.
func TestLegacyShortlistPostsTogetherLoseNoSlot(t *testing.T) {
	_, lc := startLegacy(t)
	admin, _ := lc.signIn(adminEmail, adminPassword)
	csv := "Supervisor Code,Name,Position,Department,QM Email,Username,Password,Slots\n"
	for i := 1; i <= 6; i++ {
		csv += fmt.Sprintf("SV%d,Dr %d,Lecturer,EECS,sup%d@qmul.example.ac.uk,sup%d,supervisor %d pw,2\n", i, i, i, i, i)
	}
	lc.expect(lc.upload(admin, "/supervisor/info", "s.csv", []byte(csv)), 200)
	lc.expect(lc.upload(admin, "/student/info", "s.csv", []byte(legacyStudentsCSV)), 200)
	tok, _ := lc.signIn("s1@qmul.example.ac.uk", "student one pw")
	rnd := seeded(t, 42)
	var current []string
	for round := range 12 {
		posts := make([][5]string, 2+rnd.IntN(3))
		for i := range posts {
			for range 1 + rnd.IntN(2) {
				posts[i][rnd.IntN(5)] = fmt.Sprintf("sup%d@qmul.example.ac.uk", 1+rnd.IntN(6))
			}
		}
		if round == 0 { // the case seen: each post fills one slot of an empty shortlist
			posts = [][5]string{{0: "sup1@qmul.example.ac.uk"}, {1: "sup2@qmul.example.ac.uk"}, {2: "sup3@qmul.example.ac.uk"}, {3: "sup4@qmul.example.ac.uk"}, {4: "sup5@qmul.example.ac.uk"}}
		}
		accepted := make([]bool, len(posts))
		var wg sync.WaitGroup
		for i, p := range posts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := map[string]any{}
				for j, v := range p {
					body[fmt.Sprintf("supervisor_%d", j+1)] = nil
					if v != "" {
						body[fmt.Sprintf("supervisor_%d", j+1)] = v
					} else if j%2 == 0 { // the placeholder, as an untouched select sends it
						body[fmt.Sprintf("supervisor_%d", j+1)] = "noEmail"
					}
				}
				r := lc.do("POST", "/student/shortlist", tok, body)
				switch r.Status {
				case 200:
					accepted[i] = true
				case 400:
				default:
					t.Errorf("round %d, post %d: %d %s", round, i, r.Status, r.Raw)
				}
			}()
		}
		wg.Wait()
		got := lc.expect(lc.do("GET", "/student/shortlist", tok, nil), 200).obj()
		var ranked []string
		for j := 1; j <= 5; j++ {
			if v, _ := got[fmt.Sprintf("supervisor_%d", j)].(string); v != "" {
				ranked = append(ranked, v)
			}
		}
		if !serialOutcomes(current, posts)[fmt.Sprint(ranked, accepted)] {
			t.Fatalf("round %d: from %v, the posts %q gave %v (answered 200: %v), which no order of them gives", round, current, posts, ranked, accepted)
		}
		current = ranked
	}
}
