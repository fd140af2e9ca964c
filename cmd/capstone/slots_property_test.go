package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
)

// slotWorld is the cohort a property test of the slots drives: three
// supervisors and students who come, are placed, leave and come back.
type slotWorld struct {
	t        *testing.T
	s        *service
	lc       legacyClient
	rnd      *rand.Rand
	admin    string
	sups     []string // ids
	supToks  []string
	students []*slotStudent
}

type slotStudent struct {
	id, email string
	state     string // "student", "demoted" or "deleted"
}

const slotPassword = "slot student pw"

func (w *slotWorld) supEmail(i int) string { return fmt.Sprintf("slotsup%d@uni.example", i) }

// pick is a random student in one of the states, or nil.
func (w *slotWorld) pick(states ...string) *slotStudent {
	var in []*slotStudent
	for _, st := range w.students {
		if slices.Contains(states, st.state) {
			in = append(in, st)
		}
	}
	if len(in) == 0 {
		return nil
	}
	return in[w.rnd.IntN(len(in))]
}

// answered fails the test on an answer that is neither a success nor one
// of the refusals a step may meet.
func (w *slotWorld) answered(step string, status int, raw string) {
	if status >= 500 || status == 401 || status == 403 {
		w.t.Fatalf("%s: %d %s", step, status, raw)
	}
}

// step takes one random step, and says which.
func (w *slotWorld) step(n int) string {
	s, admin := w.s, w.admin
	sup := w.rnd.IntN(len(w.sups))
	switch op := w.rnd.IntN(12); {
	case op == 0 || w.pick("student") == nil:
		email := fmt.Sprintf("slotstudent%d@uni.example", n)
		w.students = append(w.students, &slotStudent{id: s.createUser(admin, email, "Slot Student", []string{"student"}, slotPassword), email: email, state: "student"})
		return "new student " + email
	case op == 1 || op >= 10: // propose and accept through /v1
		st := w.pick("student")
		if st == nil {
			return "no student to propose"
		}
		tok := s.signIn(st.email, slotPassword)
		p := s.do("POST", "/v1/projects", tok, map[string]string{"title": "Proposal", "supervisor_id": w.sups[sup]})
		w.answered("propose", p.Status, p.Raw)
		if p.Status == 201 {
			r := s.do("POST", "/v1/projects/"+p.str("id")+"/decision", w.supToks[sup], map[string]string{"decision": "accept"})
			w.answered("accept", r.Status, r.Raw)
		}
		return fmt.Sprintf("%s proposes to supervisor %d, accepted", st.email, sup)
	case op == 2: // propose on the original's page; its supervisor accepts twice at once
		st := w.pick("student")
		if st == nil {
			return "no student to propose"
		}
		tok := s.signIn(st.email, slotPassword)
		p := w.lc.do("POST", "/student/project_proposal", tok, map[string]string{"supervisor_email": w.supEmail(sup), "title": "T", "aim": "A", "rationale": "R"})
		w.answered("legacy propose", p.Status, p.Raw)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := w.lc.do("POST", "/supervisor/pending_proposal", w.supToks[sup], map[string]string{"student_email": st.email, "status": "accepted", "comment": ""})
				w.answered("legacy accept", r.Status, r.Raw)
			}()
		}
		wg.Wait()
		return fmt.Sprintf("%s proposes to supervisor %d on the original's page, accepted twice at once", st.email, sup)
	case op == 3: // an acceptance racing the student's deletion
		st := w.pick("student")
		if st == nil {
			return "no student to race"
		}
		tok := s.signIn(st.email, slotPassword)
		p := s.do("POST", "/v1/projects", tok, map[string]string{"title": "Proposal", "supervisor_id": w.sups[sup]})
		w.answered("propose", p.Status, p.Raw)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := s.do("POST", "/v1/projects/"+p.str("id")+"/decision", w.supToks[sup], map[string]string{"decision": "accept"})
			w.answered("accept", r.Status, r.Raw)
		}()
		go func() {
			defer wg.Done()
			s.expect(s.do("DELETE", "/v1/users/"+st.id, admin, nil), 204)
		}()
		wg.Wait()
		st.state = "deleted"
		return fmt.Sprintf("%s's acceptance by supervisor %d races their deletion", st.email, sup)
	case op == 4:
		st := w.pick("student", "demoted")
		s.expect(s.do("DELETE", "/v1/users/"+st.id, admin, nil), 204)
		st.state = "deleted"
		return "delete " + st.email
	case op == 5:
		st := w.pick("student")
		if st == nil {
			return "no student to demote"
		}
		s.expect(s.do("PATCH", "/v1/users/"+st.id, admin, map[string]any{"roles": []string{"examiner"}}), 200)
		st.state = "demoted"
		return "take the student role from " + st.email
	case op == 6:
		st := w.pick("demoted")
		if st == nil {
			return "no one to make a student again"
		}
		s.expect(s.do("PATCH", "/v1/users/"+st.id, admin, map[string]any{"roles": []string{"student"}}), 200)
		st.state = "student"
		return "give the student role back to " + st.email
	case op == 7: // shortlists, two at once
		var wg sync.WaitGroup
		for range 2 {
			st := w.pick("student")
			if st == nil {
				break
			}
			slot, choice := 1+w.rnd.IntN(5), w.supEmail(w.rnd.IntN(len(w.sups)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := s.signIn(st.email, slotPassword)
				r := w.lc.do("POST", "/student/shortlist", tok, map[string]any{fmt.Sprintf("supervisor_%d", slot): choice})
				w.answered("shortlist", r.Status, r.Raw)
			}()
		}
		wg.Wait()
		return "two shortlist posts"
	case op == 8:
		r := s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false})
		w.answered("allocate", r.Status, r.Raw)
		return fmt.Sprintf("an allocation run: %d %.100s", r.Status, r.Raw)
	case op == 9:
		r := s.do("PUT", "/v1/supervisors/"+w.sups[sup]+"/profile", admin, map[string]any{"capacity": w.rnd.IntN(4)})
		w.answered("capacity", r.Status, r.Raw)
		return fmt.Sprintf("set supervisor %d's capacity: %d", sup, r.Status)
	}
	panic("no step")
}

// check fails the test unless every supervisor's free slots are their
// capacity less the students placed with them, each of whom is an active
// student, in the cohort and in the read model once it settles.
func (w *slotWorld) check(after string) {
	w.t.Helper()
	ctx := context.Background()
	board, _, err := w.s.app.Cohort.Board(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	placed := map[string]int{}
	for st, a := range board.Supervisor {
		placed[a.SupervisorID]++
		u, _, err := commands.Load(ctx, w.s.app.Exec, user.Decider, st)
		if err != nil || !u.Active() || !u.HasRole("student") {
			w.t.Fatalf("after %s: %s holds a place with %s but is no student (%+v, %v)", after, st, a.SupervisorID, u, err)
		}
	}
	for _, sup := range w.sups {
		c, n := board.Capacity[sup], placed[sup]
		if board.Allocated[sup] != n || n > c || board.Remaining(sup) != c-n {
			w.t.Fatalf("after %s: supervisor %s: capacity %d, %d counted, %d placed, %d remaining", after, sup, c, board.Allocated[sup], n, board.Remaining(sup))
		}
		waitFor(w.t, "the read model after "+after, func() bool {
			d := w.s.do("GET", "/v1/supervisors/"+sup, w.admin, nil)
			return d.num("capacity") == int64(c) && d.num("allocated") == int64(n) && d.num("remaining") == int64(c-n)
		})
	}
}

// settledLikeARebuild fails the test unless the read models come to equal
// a rebuild from the event store.
func (w *slotWorld) settledLikeARebuild(after string) {
	w.t.Helper()
	var last string
	for range 3 {
		res, err := w.s.app.Rebuild(context.Background(), nil, true, nil)
		if err == nil && len(res.Differences) == 0 {
			return
		}
		last = fmt.Sprint(res.Differences, res.Sample, err)
	}
	waitFor(w.t, "the read models to equal a rebuild after "+after+" (last: "+last+")", func() bool {
		res, err := w.s.app.Rebuild(context.Background(), nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
}

// TestSlotsFollowThePlacesWhateverTheSteps: random sequences of placements
// (accepted proposals, on /v1 and on the original's page, allocation runs),
// deletions, roles taken away and given back, shortlists and capacities,
// some of them at once: after each, every supervisor's free slots are the
// capacity less the students placed with them, each placed student is a
// student, the read model agrees once it settles, and a rebuild gives the
// same read models. The seed is logged.
func TestSlotsFollowThePlacesWhateverTheSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a random cohort through the service")
	}
	s, lc := startLegacy(t)
	w := &slotWorld{t: t, s: s, lc: lc, rnd: seeded(t, 7), admin: s.admin()}
	for i := range 3 {
		w.sups = append(w.sups, s.createUser(w.admin, w.supEmail(i), "Dr Slot", []string{"supervisor"}, "slot supervisor pw"))
		s.expect(s.do("PUT", "/v1/supervisors/"+w.sups[i]+"/profile", w.admin, map[string]any{"capacity": 1 + i}), 200)
		w.supToks = append(w.supToks, s.signIn(w.supEmail(i), "slot supervisor pw"))
	}
	const steps = 80
	for n := range steps {
		did := w.step(n)
		b, _, _ := s.app.Cohort.Board(context.Background())
		t.Logf("step %d: %s; placed %v", n, did, b.Allocated)
		w.check(fmt.Sprintf("step %d (%s)", n, did))
		if n%10 == 9 || n == steps-1 {
			w.settledLikeARebuild(fmt.Sprintf("step %d", n))
		}
	}
}
