package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/capstone-pms/capstone/queries"
)

// miniCohort is a few supervisors and students created over the API, every
// student ranking every supervisor, each supervisor with capacity slots.
type miniCohort struct {
	supervisors, students []string
	tokens                map[string]string // user id -> token
}

const miniPassword = "mini cohort password"

func newMiniCohort(t *testing.T, s *service, admin string, nSup, nStu, capacity int) miniCohort {
	t.Helper()
	c := miniCohort{tokens: map[string]string{}}
	for i := range nSup {
		email := fmt.Sprintf("mini-sup%d@uni.example", i)
		id := s.createUser(admin, email, fmt.Sprintf("Dr Mini %d", i), []string{"supervisor"}, miniPassword)
		s.expect(s.do("PUT", "/v1/supervisors/"+id+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": capacity}), 200)
		c.supervisors = append(c.supervisors, id)
		c.tokens[id] = s.signIn(email, miniPassword)
	}
	for i := range nStu {
		email := fmt.Sprintf("mini-stu%d@uni.example", i)
		id := s.createUser(admin, email, fmt.Sprintf("Mini Student %d", i), []string{"student"}, miniPassword)
		c.tokens[id] = s.signIn(email, miniPassword)
		s.expect(s.do("PUT", "/v1/students/"+id+"/preferences", c.tokens[id], map[string]any{"supervisor_ids": c.supervisors}), 200)
		c.students = append(c.students, id)
	}
	students := queries.Students{Reader: newReadModels(s)}
	waitFor(t, "every student's preferences in the read model", func() bool {
		docs, err := students.All(context.Background())
		n := 0
		for _, d := range docs {
			if len(d.Preferences) == len(c.supervisors) {
				n++
			}
		}
		return err == nil && n == len(c.students)
	})
	return c
}

// TestAllocationNeedsDryRun: an allocation request without dry_run is
// refused and places nobody; only an explicit false applies.
func TestAllocationNeedsDryRun(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	newMiniCohort(t, s, admin, 2, 3, 2)
	board := func() int {
		b, _, err := s.app.Cohort.Board(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(b.Supervisor)
	}
	for _, body := range []map[string]any{{}, {"seed": 1}, {"objective": "greedy", "allow_outside_list": true}} {
		r := s.expect(s.do("POST", "/v1/allocation", admin, body), 400, "invalid")
		if errs, _ := r.Body["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "dry_run" {
			t.Fatalf("%v: %s", body, r.Raw)
		}
	}
	if n := board(); n != 0 {
		t.Fatalf("%d students placed by refused requests", n)
	}
	if r := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true}), 200); r.Body["applied"] != false || board() != 0 {
		t.Fatalf("a preview applied: %s", r.Raw)
	}
	if r := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false}), 200); r.Body["applied"] != true || board() != 3 {
		t.Fatalf("a run placed %d of 3: %s", board(), r.Raw)
	}
}
