package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// preferencesFile is a preferences file of one row.
func preferencesFile(student string, choices ...string) []byte {
	cells := append([]string{student}, choices...)
	for len(cells) < 6 {
		cells = append(cells, "")
	}
	return []byte("Student Email,Choice 1,Choice 2,Choice 3,Choice 4,Choice 5\n" + strings.Join(cells, ",") + "\n")
}

// rowErrors is an import report's row errors, as "line: message".
func rowErrors(r response) []string {
	var out []string
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		m := e.(map[string]any)
		out = append(out, fmt.Sprintf("%v: %v", m["line"], m["message"]))
	}
	return out
}

// TestPreferencesOnlyForStudents: only a student has a ranking. Whatever
// other roles the row's user holds (drawn at random), a preferences row for
// a user without the student role is a row error naming the Student Email
// column, and stores nothing: made a student afterwards, they have no
// ranking until the same file sets one. The command refuses them whichever
// way it is called, as the API's route does.
func TestPreferencesOnlyForStudents(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := seeded(t, 0x9ef5)
	ranked := s.createUser(admin, "ranked@uni.example", "Ranked", []string{"supervisor"}, "")
	all := []string{events.RoleStudent, events.RoleSupervisor, events.RoleExaminer, events.RoleCoordinator}
	for i := range 8 {
		var roles []string
		switch i {
		case 0:
			roles = []string{events.RoleSupervisor} // each run has a supervisor alone, and a student
		case 1:
			roles = []string{events.RoleStudent}
		default:
			for _, role := range all {
				if rng.IntN(2) == 0 {
					roles = append(roles, role)
				}
			}
			if len(roles) == 0 {
				roles = []string{all[rng.IntN(len(all))]}
			}
		}
		email := fmt.Sprintf("who%d@uni.example", i)
		id := s.createUser(admin, email, "Who", roles, miniPassword)
		file := preferencesFile(email, "ranked@uni.example")
		rep := s.expect(s.upload(admin, "preferences", "p.csv", file, ""), 200)
		if slices.Contains(roles, events.RoleStudent) {
			if rep.num("updated") != 1 || len(rowErrors(rep)) != 0 {
				t.Fatalf("roles %v: %s", roles, rep.Raw)
			}
			continue
		}
		want := "2: Student Email " + email + " is not a student"
		if errs := rowErrors(rep); rep.num("updated")+rep.num("unchanged") != 0 || len(errs) != 1 || !strings.HasPrefix(errs[0], want) {
			t.Fatalf("roles %v: want the row error %q..., got %s", roles, want, rep.Raw)
		}
		_, err := s.app.Cohort.SetPreferences(context.Background(), commands.Meta{Actor: events.SystemActor}, id, commands.AnyVersion, []string{ranked})
		if e, ok := commands.AsError(err); !ok || e.Code != "not-a-student" {
			t.Fatalf("roles %v: the command set a ranking: %v", roles, err)
		}
		s.expect(s.do("PUT", "/v1/students/"+id+"/preferences", s.signIn(email, miniPassword), map[string]any{"supervisor_ids": []string{ranked}}), 403)
		s.expect(s.do("PATCH", "/v1/users/"+id, admin, map[string]any{"roles": append(roles, events.RoleStudent)}), 200)
		if again := s.expect(s.upload(admin, "preferences", "p.csv", file, ""), 200); again.num("updated") != 1 {
			t.Fatalf("roles %v: a ranking was stored before they were a student: %s", roles, again.Raw)
		}
	}
}

// TestPreferencesRowErrorsNameColumns: a preferences row that ranks someone
// who is not a supervisor is refused in the file's terms, the column of the
// choice, not the API's field.
func TestPreferencesRowErrorsNameColumns(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "stu@uni.example", "Stu", []string{events.RoleStudent}, "")
	s.createUser(admin, "sup@uni.example", "Sup", []string{events.RoleSupervisor}, "")
	s.createUser(admin, "exam@uni.example", "Exam", []string{events.RoleExaminer}, "")
	rep := s.expect(s.upload(admin, "preferences", "p.csv", preferencesFile("stu@uni.example", "sup@uni.example", "exam@uni.example"), ""), 200)
	want := []string{"2: Choice 2 (exam@uni.example) is not a supervisor"}
	if got := rowErrors(rep); rep.num("updated") != 0 || !slices.Equal(got, want) {
		t.Fatalf("want the row errors %q, got %s", want, rep.Raw)
	}
}
