package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// TestNobodySupervisesThemselves: a student who also supervises cannot
// propose to themselves, rank themselves, be assigned to themselves or
// examine themselves.
func TestNobodySupervisesThemselves(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	both := s.createUser(admin, "both@uni.example", "Both", []string{"student", "supervisor", "examiner"}, miniPassword)
	s.expect(s.do("PUT", "/v1/supervisors/"+both+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 3}), 200)
	tok := s.signIn("both@uni.example", miniPassword)

	s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Mine", "supervisor_id": both}), 422, "cannot-supervise-self")
	p := s.expect(s.do("POST", "/v1/projects", tok, map[string]any{"title": "Mine"}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+p+"/submit", tok, map[string]any{"supervisor_id": both}), 422, "cannot-supervise-self")
	s.expect(s.do("PUT", "/v1/students/"+both+"/preferences", tok, map[string]any{"supervisor_ids": []string{both}}), 422, "cannot-supervise-self")
	s.expect(s.do("PUT", "/v1/projects/"+p+"/examiner", admin, map[string]any{"examiner_id": both}), 422, "cannot-examine-self")
	if _, err := s.app.Cohort.AssignSupervisor(context.Background(), commands.Meta{Actor: events.SystemActor}, both, both); err == nil ||
		!strings.Contains(err.Error(), "cannot-supervise-self") {
		t.Fatalf("assigned to themselves: %v", err)
	}
	if r := s.expect(s.do("GET", "/v1/projects/"+p, tok, nil), 200); r.str("status") != "draft" {
		t.Fatalf("the project moved: %s", r.Raw)
	}
}

// TestGradeOnlyPlacedStudents: a grade is for a student with a supervisor;
// through a project, the one their placement rests on when they were placed
// by accepting one. The final-grades import keeps the same rule.
func TestGradeOnlyPlacedStudents(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 2, 2)
	sup, stu, other := c.supervisors[0], c.students[0], c.students[1]
	draft := s.expect(s.do("POST", "/v1/projects", c.tokens[stu], map[string]any{"title": "A draft"}), 201).str("id")
	s.expect(s.do("PUT", "/v1/projects/"+draft+"/grade", admin, map[string]any{"grade": 70}), 422, "student-not-placed")
	s.expect(s.do("PUT", "/v1/projects/"+draft+"/grade", admin, map[string]any{"grade": 101}), 400, "invalid")

	accepted := s.expect(s.do("POST", "/v1/projects", c.tokens[stu], map[string]any{"title": "Accepted", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+accepted+"/decision", c.tokens[sup], map[string]any{"decision": "accept"}), 200)
	s.expect(s.do("PUT", "/v1/projects/"+draft+"/grade", admin, map[string]any{"grade": 70}), 422, "not-the-accepted-project")
	s.expect(s.do("PUT", "/v1/projects/"+accepted+"/grade", admin, map[string]any{"grade": 70, "feedback": "Good"}), 200)

	// A student placed by the coordinator may be graded through any project.
	own := s.expect(s.do("POST", "/v1/projects", c.tokens[other], map[string]any{"title": "Other's"}), 201).str("id")
	if _, err := s.app.Cohort.AssignSupervisor(context.Background(), commands.Meta{Actor: events.SystemActor}, other, sup); err != nil {
		t.Fatal(err)
	}
	s.expect(s.do("PUT", "/v1/projects/"+own+"/grade", admin, map[string]any{"grade": 55}), 200)

	// The import: a placed student is graded, an unplaced one is a row error.
	s.createUser(admin, "lone@uni.example", "Lone", []string{"student"}, "")
	csv := "Student Id,Student Email,Student Name,Final Grade,Feedback\n" +
		"S1,mini-stu1@uni.example,Mini Student 1,60,ok\n" +
		"S2,lone@uni.example,Lone,60,ok\n"
	rep := s.expect(s.upload(admin, "final-grades", "g.csv", []byte(csv), ""), 200)
	errs, _ := rep.Body["errors"].([]any)
	if rep.num("updated") != 1 || len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "supervisor") {
		t.Fatalf("grades import: %s", rep.Raw)
	}
}

// TestImportNeverChangesACoordinator: a file naming a coordinator's e-mail
// leaves the account alone (a row error), and a role an import gives an
// existing user is reported, in the dry run as in the real one.
func TestImportNeverChangesACoordinator(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200)
	examiner := s.createUser(admin, "known@uni.example", "Known Examiner", []string{"examiner"}, "")
	students := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n" +
		"ST1,Renamed Coordinator,Enrolled,MSc,Full-time,2026-09-21," + adminEmail + ",coord,\n" +
		"ST2,Known As Student,Enrolled,MSc,Full-time,2026-09-21,known@uni.example,known,\n" +
		"ST3,New Student,Enrolled,MSc,Full-time,2026-09-21,new@uni.example,new,\n"
	for _, query := range []string{"?dry_run=true", ""} {
		rep := s.expect(s.upload(admin, "students", "s.csv", []byte(students), query), 200)
		errs, _ := rep.Body["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["line"] != float64(2) || !strings.Contains(fmt.Sprint(errs[0]), "coordinator") {
			t.Fatalf("%s: errors %v", query, rep.Raw)
		}
		added, _ := rep.Body["roles_added"].([]any)
		if len(added) != 1 {
			t.Fatalf("%s: roles_added %s", query, rep.Raw)
		}
		if a := added[0].(map[string]any); a["line"] != float64(3) || a["email"] != "known@uni.example" || a["role"] != "student" || a["user_id"] != examiner {
			t.Fatalf("%s: roles_added %v", query, a)
		}
	}
	after := s.expect(s.do("GET", "/v1/users/"+me.str("id"), admin, nil), 200)
	if after.str("name") != me.str("name") || fmt.Sprint(after.Body["roles"]) != fmt.Sprint(me.Body["roles"]) || after.num("version") != me.num("version") {
		t.Fatalf("the coordinator changed: %s, was %s", after.Raw, me.Raw)
	}
	// Imported again, nothing is added twice.
	rep := s.expect(s.upload(admin, "students", "s.csv", []byte(students), ""), 200)
	if added, _ := rep.Body["roles_added"].([]any); len(added) != 0 {
		t.Fatalf("second import: %s", rep.Raw)
	}
}
