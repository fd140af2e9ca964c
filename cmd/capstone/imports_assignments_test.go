package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/events"
)

// TestAssignmentRowErrorsNameColumns: a row of an assignments or grades
// file that names someone unknown, or someone without the role the row
// needs, is refused in the file's terms (the column the coordinator wrote
// and the address in it), never the API's fields, as the other imports
// word theirs; the good row among them is applied. The rows come in a
// random order. (final-grades comes last: the student it grades is the
// one the supervisor-assignments file placed.)
func TestAssignmentRowErrorsNameColumns(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	for _, email := range []string{"stu@uni.example", "stu2@uni.example", "stu3@uni.example"} {
		s.createUser(admin, email, "Stu", []string{events.RoleStudent}, "")
	}
	sup := s.createUser(admin, "sup@uni.example", "Sup", []string{events.RoleSupervisor}, "")
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"areas": []string{}, "info": "", "capacity": 5}), 200)
	s.createUser(admin, "exam@uni.example", "Exam", []string{events.RoleExaminer}, "")
	rng := seeded(t, 0xa551)
	type row struct{ cells, want string } // want "": applied
	for _, f := range []struct {
		kind, header string
		rows         []row
	}{
		{"supervisor-assignments", "Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name", []row{
			{",ghost@uni.example,Ghost,,sup@uni.example,Sup", "Student Email ghost@uni.example is not a user; import them first"},
			{",sup@uni.example,Sup,,sup@uni.example,Sup", "Student Email sup@uni.example is not a student; import them in a students file first"},
			{",stu2@uni.example,Stu,,nobody@uni.example,Nobody", "Supervisor Email nobody@uni.example is not a user; import them first"},
			{",stu3@uni.example,Stu,,exam@uni.example,Exam", "Supervisor Email exam@uni.example is not a supervisor"},
			{",stu@uni.example,Stu,,sup@uni.example,Sup", ""},
		}},
		{"examiner-assignments", "Student Id,Student Email,Student Name,Secondary Examiner Id,Secondary Examiner Email,Secondary Examiner Name", []row{
			{",ghost@uni.example,Ghost,,exam@uni.example,Exam", "Student Email ghost@uni.example is not a user; import them first"},
			{",exam@uni.example,Exam,,exam@uni.example,Exam", "Student Email exam@uni.example is not a student; import them in a students file first"},
			{",stu2@uni.example,Stu,,nobody@uni.example,Nobody", "Secondary Examiner Email nobody@uni.example is not a user; import them first"},
			{",stu3@uni.example,Stu,,sup@uni.example,Sup", "Secondary Examiner Email sup@uni.example is not an examiner"},
			{",stu@uni.example,Stu,,exam@uni.example,Exam", ""},
		}},
		{"final-grades", "Student Id,Student Email,Student Name,Final Grade,Feedback", []row{
			{",ghost@uni.example,Ghost,70,", "Student Email ghost@uni.example is not a user; import them first"},
			{",sup@uni.example,Sup,70,", "Student Email sup@uni.example is not a student; import them in a students file first"},
			{",stu@uni.example,Stu,70,", ""},
		}},
	} {
		rng.Shuffle(len(f.rows), func(i, j int) { f.rows[i], f.rows[j] = f.rows[j], f.rows[i] })
		lines := []string{f.header}
		var want []string
		for i, r := range f.rows {
			lines = append(lines, r.cells)
			if r.want != "" {
				want = append(want, fmt.Sprintf("%d: %s", i+2, r.want))
			}
		}
		rep := s.expect(s.upload(admin, f.kind, "f.csv", []byte(strings.Join(lines, "\n")+"\n"), ""), 200)
		if got := rowErrors(rep); rep.num("updated") != 1 || !slices.Equal(got, want) {
			t.Errorf("%s: want one row applied and the row errors %q, got %s", f.kind, want, rep.Raw)
		}
	}
}
