package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// placedWith places a new student with sup through an accepted proposal and
// returns the student's id.
func placedWith(s *service, admin, supTok, sup, email string) string {
	s.t.Helper()
	stu := s.createUser(admin, email, "Placed Student", []string{"student"}, "student pw 1234")
	st := s.signIn(email, "student pw 1234")
	pid := s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "Proposal", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 200)
	return stu
}

// releaseReasons is the reason the cohort recorded for each student whose
// place it gave back, of the releases made under correlation id (any, if
// empty), the last one of each student.
func releaseReasons(t *testing.T, s *service, correlation string) map[string]string {
	t.Helper()
	commits, err := imongoEventStore(s).ReadStream(context.Background(), events.CohortStreamID, events.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, c := range commits {
		for _, e := range c.Events {
			if u, ok := e.Data.(*events.StudentUnallocated); ok && (correlation == "" || e.CorrelationID == correlation) {
				reasons[u.StudentID] = u.Reason
			}
		}
	}
	return reasons
}

// slotsAgree fails the test unless the cohort and, once it settles, the
// supervisors read model show want students placed with sup out of capacity.
func slotsAgree(t *testing.T, s *service, admin, sup string, capacity, want int) {
	t.Helper()
	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if board.Allocated[sup] != want || board.Remaining(sup) != capacity-want {
		t.Fatalf("cohort: %d placed, %d remaining; want %d placed, %d remaining", board.Allocated[sup], board.Remaining(sup), want, capacity-want)
	}
	waitFor(t, "the supervisors read model", func() bool {
		d := s.do("GET", "/v1/supervisors/"+sup, admin, nil)
		return d.num("allocated") == int64(want) && d.num("remaining") == int64(capacity-want)
	})
}

// TestLeavingStudentFreesTheSlot: a student placed with a supervisor who is
// deleted, or who is no longer a student, gives the slot back, in the
// cohort and in the read model, with the reason on the cohort's events.
func TestLeavingStudentFreesTheSlot(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	sup, supTok := supervisorWithSlots(s, admin, "keeper@uni.example", 2)
	gone := placedWith(s, admin, supTok, sup, "gone@uni.example")
	demoted := placedWith(s, admin, supTok, sup, "demoted@uni.example")
	slotsAgree(t, s, admin, sup, 2, 2)

	s.expect(s.do("DELETE", "/v1/users/"+gone, admin, nil), 204)
	slotsAgree(t, s, admin, sup, 2, 1)
	s.expect(s.do("PATCH", "/v1/users/"+demoted, admin, map[string]any{"roles": []string{"examiner"}}), 200)
	slotsAgree(t, s, admin, sup, 2, 0)

	// The proposal of someone no longer a student takes no slot, and
	// leaves it to the students who are.
	s.createUser(admin, "pending@uni.example", "Pending Student", []string{"student"}, "student pw 1234")
	pt := s.signIn("pending@uni.example", "student pw 1234")
	pid := s.expect(s.do("POST", "/v1/projects", pt, map[string]string{"title": "Proposal", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/users/"+s.do("GET", "/v1/me", pt, nil).str("id"), admin, map[string]any{"roles": []string{"examiner"}}), 200)
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 422, "not-a-student")
	slotsAgree(t, s, admin, sup, 2, 0)
	placedWith(s, admin, supTok, sup, "next@uni.example")
	placedWith(s, admin, supTok, sup, "last@uni.example")
	slotsAgree(t, s, admin, sup, 2, 2)

	if reasons := releaseReasons(t, s, ""); reasons[gone] != "student deleted" || reasons[demoted] != "no longer a student" {
		t.Fatalf("the cohort's reasons: %v", reasons)
	}
	waitFor(t, "the read models to equal a rebuild", func() bool {
		res, err := s.app.Rebuild(context.Background(), nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
}

// TestMendGivesBackPlacesOfStudentsWhoLeft: a departure whose release never
// followed (the process died between the user's change and the cohort's,
// here a release that fails) leaves the place held, until the projector's
// mend gives it back with the reason; a placed student the read side does
// not list (it lags) but who is still one keeps their place, and a second
// mend finds nothing.
func TestMendGivesBackPlacesOfStudentsWhoLeft(t *testing.T) {
	s := startService(t)
	ctx := context.Background()
	admin := s.admin()
	sup, supTok := supervisorWithSlots(s, admin, "mender@uni.example", 3)
	gone := placedWith(s, admin, supTok, sup, "crashed-delete@uni.example")
	demoted := placedWith(s, admin, supTok, sup, "crashed-demote@uni.example")
	kept := placedWith(s, admin, supTok, sup, "still-here@uni.example")

	meta := commands.Meta{Actor: events.SystemActor, CorrelationID: "test"}
	crashing := *s.app.Users
	crashing.StudentLeft = func(context.Context, commands.Meta, string, string) error {
		return fmt.Errorf("process died before the release")
	}
	if _, err := crashing.Delete(ctx, meta, gone, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := crashing.Update(ctx, meta, demoted, commands.AnyVersion, user.Update{Roles: []string{"examiner"}}); err != nil {
		t.Fatal(err)
	}
	slotsAgree(t, s, admin, sup, 3, 3) // both places still held

	// A read side that lags lists none of them: each is looked up.
	lagging := *s.app.Cohort
	lagging.ListCandidates = func(context.Context) ([]cohort.Candidate, error) { return nil, nil }
	n, err := lagging.MendDepartures(ctx, meta)
	if err != nil || n != 2 {
		t.Fatalf("mend: %d places given back, %v; want 2", n, err)
	}
	board, _, err := s.app.Cohort.Board(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if board.Placed(gone) || board.Placed(demoted) || !board.Placed(kept) {
		t.Fatalf("after the mend: deleted placed %v, demoted placed %v, student kept placed %v",
			board.Placed(gone), board.Placed(demoted), board.Placed(kept))
	}
	slotsAgree(t, s, admin, sup, 3, 1)
	if n, err := s.app.Cohort.MendDepartures(ctx, meta); err != nil || n != 0 {
		t.Fatalf("second mend: %d, %v; want nothing to give back", n, err)
	}

	// The projector's periodic mend (here every 20 ms) finds the next one.
	later := placedWith(s, admin, supTok, sup, "crashed-later@uni.example")
	if _, err := crashing.Delete(ctx, meta, later, commands.AnyVersion); err != nil {
		t.Fatal(err)
	}
	mending, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.app.mendDepartures(mending, 20*time.Millisecond) }()
	waitFor(t, "the periodic mend", func() bool {
		board, _, err := s.app.Cohort.Board(ctx)
		return err == nil && !board.Placed(later)
	})
	stop()
	<-done
	slotsAgree(t, s, admin, sup, 3, 1)

	if reasons := releaseReasons(t, s, "test"); len(reasons) != 2 || reasons[gone] != user.ReasonStudentDeleted || reasons[demoted] != user.ReasonNotAStudent {
		t.Fatalf("the mend's releases: %v", reasons)
	}
}

// TestAcceptanceRacingDeletionHoldsNoSlot: acceptances of proposals race the
// deletion of the students who made them; whichever wins, no slot stays
// with a deleted student, and the read model and a rebuild agree.
func TestAcceptanceRacingDeletionHoldsNoSlot(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	const n = 16
	sup, supTok := supervisorWithSlots(s, admin, "racing@uni.example", n)
	students, projects := make([]string, n), make([]string, n)
	for i := range n {
		email := fmt.Sprintf("racer%d@uni.example", i)
		students[i] = s.createUser(admin, email, "Racer", []string{"student"}, "student pw 1234")
		st := s.signIn(email, "student pw 1234")
		projects[i] = s.expect(s.do("POST", "/v1/projects", st, map[string]string{"title": "Race", "supervisor_id": sup}), 201).str("id")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := s.do("POST", "/v1/projects/"+projects[i]+"/decision", supTok, map[string]string{"decision": "accept"}); r.Status != 200 && r.str("code") != "not-a-student" {
				t.Errorf("accept %d: %d %s", i, r.Status, r.Raw)
			}
		}()
		go func() {
			defer wg.Done()
			if r := s.do("DELETE", "/v1/users/"+students[i], admin, nil); r.Status != 204 {
				t.Errorf("delete %d: %d %s", i, r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	board, _, err := s.app.Cohort.Board(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range students {
		if board.Placed(id) {
			t.Errorf("deleted student %d still holds a slot", i)
		}
	}
	slotsAgree(t, s, admin, sup, n, 0)
	waitFor(t, "the read models to equal a rebuild", func() bool {
		res, err := s.app.Rebuild(ctx, nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
}

// TestAllocationFromALaggingListPlacesNoDeletedStudent: the allocation's
// candidates come from the read side, which may still list a student
// deleted a moment before; the run may place them, and their place is
// given back at once, with the reason recorded.
func TestAllocationFromALaggingListPlacesNoDeletedStudent(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	sup, _ := supervisorWithSlots(s, admin, "lagging@uni.example", 3)
	stay := s.createUser(admin, "stay@uni.example", "Stays", []string{"student"}, "student pw 1234")
	gone := s.createUser(admin, "left@uni.example", "Left", []string{"student"}, "student pw 1234")
	s.expect(s.do("DELETE", "/v1/users/"+gone, admin, nil), 204)
	stale := *s.app.Cohort
	stale.ListCandidates = func(context.Context) ([]cohort.Candidate, error) {
		return []cohort.Candidate{{StudentID: stay, Choices: []string{sup}}, {StudentID: gone, Choices: []string{sup}}}, nil
	}
	out, err := stale.Allocate(ctx, commands.Meta{Actor: events.SystemActor}, cohort.AllocationOptions{})
	if err != nil || !out.Applied || len(out.Result.Assignments) != 2 {
		t.Fatalf("the run: %+v, %v", out, err)
	}
	board, _, err := s.app.Cohort.Board(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if board.Placed(gone) || !board.Placed(stay) {
		t.Fatalf("placed: the deleted student %v, the student %v", board.Placed(gone), board.Placed(stay))
	}
	slotsAgree(t, s, admin, sup, 3, 1)
	waitFor(t, "the read models to equal a rebuild", func() bool {
		res, err := s.app.Rebuild(ctx, nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
}
