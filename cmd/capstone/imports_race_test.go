package main

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestImportsOfOnePersonRaced: a students file and a supervisors file
// naming the same existing users, imported at once, each give every user
// its role: both reports are clean and every user ends with both roles
// besides the one they had. Each row used to write the roles it had read
// plus its own at any version, so the file applied second dropped the
// role the first had just given (every user of the race, in every run),
// and the supervisors file's capacities then found some not supervisors.
func TestImportsOfOnePersonRaced(t *testing.T) {
	rng := seeded(t, 44)
	s := startService(t)
	admin := s.admin()
	for round := range 3 {
		n := 3 + rng.IntN(6)
		var students, supervisors strings.Builder
		students.WriteString("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n")
		supervisors.WriteString("Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n")
		emails := make([]string, n)
		for i := range n {
			emails[i] = fmt.Sprintf("both%d.%d@uni.example", round, i)
			s.createUser(admin, emails[i], "Both", []string{"examiner"}, "")
			fmt.Fprintf(&students, "S%d%d,Both,Enrolled,MSc,Full-time,2026-09-21,%s,\n", round, i, emails[i])
			fmt.Fprintf(&supervisors, "V%d%d,Both,Lecturer,EECS,%s,,%d\n", round, i, emails[i], 1+rng.IntN(5))
		}
		var reports [2]response
		var wg sync.WaitGroup
		for k, file := range []struct{ kind, body string }{{"students", students.String()}, {"supervisors", supervisors.String()}} {
			wg.Go(func() {
				reports[k] = s.do("POST", "/v1/imports/"+file.kind, admin, file.body, "Content-Type", "text/csv")
			})
		}
		wg.Wait()
		for _, r := range reports {
			if errs, _ := r.Body["errors"].([]any); r.Status != 200 || len(errs) != 0 {
				t.Fatalf("round %d: an import answered %d %s", round, r.Status, r.Raw)
			}
		}
		for _, e := range emails {
			u := s.expect(s.do("GET", "/v1/users?email="+e, admin, nil), 200).items()
			var roles []string
			for _, r := range u[0]["roles"].([]any) {
				roles = append(roles, r.(string))
			}
			slices.Sort(roles)
			if !slices.Equal(roles, []string{"examiner", "student", "supervisor"}) {
				t.Fatalf("round %d: %s has the roles %v after both files, want examiner, student and supervisor", round, e, roles)
			}
		}
	}
}
