package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/events"
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

// TestAllocationSeedsOverTheWholeRange: every seed the API accepts can be
// recorded and comes back exactly; every other one is refused with 400
// naming the field, never a 5xx; a run without a seed always works.
func TestAllocationSeedsOverTheWholeRange(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 2, 0, 50)
	seed := rand.Int64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	seeds := []uint64{0, 1, cohort.MaxSeed, cohort.MaxSeed + 1, 1 << 63, math.MaxUint64}
	for range 40 {
		seeds = append(seeds, rng.Uint64()>>rng.IntN(64)) // every magnitude, not only huge ones
	}
	for _, sd := range seeds {
		raw := fmt.Sprintf(`{"dry_run":true,"seed":%d}`, sd)
		r := s.do("POST", "/v1/allocation", admin, raw)
		if sd > cohort.MaxSeed {
			s.expect(r, 400, "invalid")
			if errs, _ := r.Body["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "seed" {
				t.Fatalf("seed %d: %s", sd, r.Raw)
			}
			continue
		}
		s.expect(r, 200)
		if got := seedOf(t, r); got != sd {
			t.Fatalf("seed %d came back as %d", sd, got)
		}
	}
	for _, raw := range []string{`{"dry_run":true,"seed":-1}`, `{"dry_run":true,"seed":1.5}`, `{"dry_run":true,"seed":1e300}`,
		`{"dry_run":true,"seed":123456789012345678901234567890}`, `{"dry_run":true,"seed":"7"}`} {
		r := s.expect(s.do("POST", "/v1/allocation", admin, raw), 400, "invalid")
		if errs, _ := r.Body["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "seed" ||
			strings.Contains(r.str("detail"), "must be a number") && !strings.Contains(raw, `"7"`) {
			t.Fatalf("%s: %s", raw, r.Raw)
		}
	}
	// Real runs, each placing one more student: with a drawn seed (half of
	// all uint64 seeds could not be stored), and with the extremes.
	for i, sd := range []any{nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, uint64(0), uint64(cohort.MaxSeed)} {
		email := fmt.Sprintf("seed-run%d@uni.example", i)
		id := s.createUser(admin, email, "Seed Run", []string{"student"}, miniPassword)
		s.expect(s.do("PUT", "/v1/students/"+id+"/preferences", s.signIn(email, miniPassword), map[string]any{"supervisor_ids": c.supervisors}), 200)
		waitFor(t, "the new student's preferences", func() bool {
			return len(s.do("GET", "/v1/students/"+id, admin, nil).Body["preferences"].([]any)) == 2
		})
		body := map[string]any{"dry_run": false}
		if sd != nil {
			body["seed"] = sd
		}
		r := s.expect(s.do("POST", "/v1/allocation", admin, body), 200)
		if r.Body["applied"] != true || len(r.Body["assignments"].([]any)) != 1 {
			t.Fatalf("run %d: %s", i, r.Raw)
		}
		got := seedOf(t, r)
		if sd != nil && got != sd.(uint64) || got > cohort.MaxSeed {
			t.Fatalf("run %d: seed %d", i, got)
		}
	}
	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(board.Runs) != 12 {
		t.Fatalf("%d runs recorded, want 12", len(board.Runs))
	}
}

// seedOf reads the seed of an allocation answer exactly (not through a float64).
func seedOf(t *testing.T, r response) uint64 {
	t.Helper()
	var body struct {
		Seed uint64 `json:"seed"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &body); err != nil {
		t.Fatalf("%v: %s", err, r.Raw)
	}
	return body.Seed
}

// TestAllocationRespectsExaminers: a student who ranks first the member of
// staff who examines them is placed with their next choice, and the run
// applies (it used to answer 409 allocation-stale every time, whatever the
// rest of the cohort).
func TestAllocationRespectsExaminers(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 3, 4, 2)
	staff := s.createUser(admin, "staff-both@uni.example", "Dr Both", []string{"supervisor", "examiner"}, miniPassword)
	s.expect(s.do("PUT", "/v1/supervisors/"+staff+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 5}), 200)
	student := c.students[0]
	if _, err := s.app.Cohort.AssignExaminer(context.Background(), commands.Meta{Actor: events.SystemActor}, student, staff, ""); err != nil {
		t.Fatal(err)
	}
	ranking := append([]string{staff}, c.supervisors...)[:4]
	s.expect(s.do("PUT", "/v1/students/"+student+"/preferences", c.tokens[student], map[string]any{"supervisor_ids": ranking}), 200)
	waitFor(t, "the new ranking in the read model", func() bool {
		p, _ := s.do("GET", "/v1/students/"+student, admin, nil).Body["preferences"].([]any)
		return len(p) == 4
	})
	for _, outside := range []bool{false, true} {
		r := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": true, "allow_outside_list": outside}), 200)
		for _, a := range r.Body["assignments"].([]any) {
			if a := a.(map[string]any); a["student_id"] == student && a["supervisor_id"] == staff {
				t.Fatalf("outside=%v: placed with their examiner: %s", outside, r.Raw)
			}
		}
	}
	r := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false}), 200)
	if r.Body["applied"] != true {
		t.Fatalf("not applied: %s", r.Raw)
	}
	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := board.Supervisor[student].SupervisorID; got == staff || got == "" {
		t.Fatalf("student placed with %q (examiner %s)", got, staff)
	}
	for _, a := range r.Body["assignments"].([]any) {
		if a := a.(map[string]any); a["student_id"] == student && a["rank"] == float64(1) {
			t.Fatalf("the next choice is reported as rank 1: %v", a)
		}
	}
}
