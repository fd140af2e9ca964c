package main

import (
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/api"
)

// TestGradesInWords: a final-grades file may give grades in words (A,
// Pass, 2:1). Each is the student's agreed outcome, shown to no student
// before a release, then in their record as grade_label; the exports write
// it where the mark would be, and the final-grades export imports back
// unchanged. A number that is no whole mark, or words for a student not
// placed, is a row error.
func TestGradesInWords(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 3, 3)
	sup := c.supervisors[0]
	byProposal, byAssignment := c.students[0], c.students[1]
	p := s.expect(s.do("POST", "/v1/projects", c.tokens[byProposal], map[string]any{"title": "Graded in words", "supervisor_id": sup}), 201)
	s.expect(s.do("POST", "/v1/projects/"+p.str("id")+"/decision", c.tokens[sup], map[string]any{"decision": "accept"}), 200)
	s.expect(s.upload(admin, "supervisor-assignments", "a.csv", []byte("Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n"+
		"X,mini-stu1@uni.example,X,Y,mini-sup0@uni.example,Y\n"), ""), 200)

	file := "Student Id,Student Email,Student Name,Final Grade,Feedback\n" +
		"S0,mini-stu0@uni.example,A,Distinction,Outstanding\n" +
		"S1,mini-stu1@uni.example,B,2:1,Solid\n" +
		"S2,mini-stu2@uni.example,C,Pass,Not placed\n"
	rep := s.expect(s.upload(admin, "final-grades", "g.csv", []byte(file), ""), 200)
	errs, _ := rep.Body["errors"].([]any)
	if rep.num("updated") != 2 || len(errs) != 1 || errs[0].(map[string]any)["line"] != float64(4) {
		t.Fatalf("report: %s", rep.Raw)
	}
	bad := s.expect(s.upload(admin, "final-grades", "g.csv", []byte("Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
		"S0,mini-stu0@uni.example,A,72.5,Half a mark\nS1,mini-stu1@uni.example,B,Excellent work all round,Long\n"), ""), 200)
	if errs, _ := bad.Body["errors"].([]any); len(errs) != 2 || !strings.Contains(bad.Raw, `Final Grade \"72.5\" is a number: give it as a whole mark`) {
		t.Fatalf("grades that are not grades: %s", bad.Raw)
	}
	// Agreed, not released: the coordinator sees it, the student not yet.
	coord := s.expect(s.do("GET", "/v1/students/"+byProposal, admin, nil), 200)
	if agreed := sub(sub(coord.Body, "marking"), "agreed"); str(agreed, "label") != "Distinction" || agreed["via"] != "coordinator" {
		t.Errorf("the coordinator's view of the agreed grade: %s", coord.Raw)
	}
	if own := s.expect(s.do("GET", "/v1/students/"+byProposal, c.tokens[byProposal], nil), 200); own.Body["grade_label"] != nil || own.Body["grade"] != nil {
		t.Errorf("a grade shown before its release: %s", own.Raw)
	}
	s.expect(s.do("POST", "/v1/marking/release", admin, nil), 200)
	for who, want := range map[string]string{byProposal: "Distinction", byAssignment: "2:1"} {
		own := s.expect(s.do("GET", "/v1/students/"+who, c.tokens[who], nil), 200)
		if own.str("grade_label") != want || own.Body["grade"] != nil || own.str("feedback") == "" {
			t.Errorf("the released grade: %s, want %q", own.Raw, want)
		}
		if rel := sub(sub(own.Body, "marking"), "released"); str(rel, "label") != want {
			t.Errorf("the released marking: %v", rel)
		}
		for _, p := range responseProblems(loadSpec(t, api.OpenAPI()), "GET", "/v1/students/{id}", own) {
			t.Errorf("the record with a grade in words, against the OpenAPI document: %s", p)
		}
	}
	// The exports write the words where the mark would be; the final grades import back unchanged.
	grades := s.expect(s.do("GET", "/v1/exports/final-grades.csv", admin, nil), 200).Raw
	if !strings.Contains(grades, ",Distinction,") || !strings.Contains(grades, ",2:1,") {
		t.Fatalf("final-grades.csv: %s", grades)
	}
	back := s.expect(s.upload(admin, "final-grades", "export.csv", []byte(grades), ""), 200)
	if back.num("unchanged") != 2 || back.num("rows") != 2 {
		t.Errorf("the export imported back: %s", back.Raw)
	}
	if marks := s.expect(s.do("GET", "/v1/exports/marks.csv", admin, nil), 200).Raw; strings.Count(marks, "Distinction") != 2 {
		t.Errorf("marks.csv writes the words as the agreed and the released grade: %s", marks)
	}
}
