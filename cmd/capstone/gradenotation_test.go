package main

import (
	"strings"
	"testing"
)

// TestGradesInWordsNoNumberNotation: NaN, Infinity, a hexadecimal 0x10 and
// other notations of numbers were taken as grades in words and shown to
// the student with no mark behind them. Each is a row error saying it is
// a number, naming the column as a parser's errors do, and nothing is
// recorded.
func TestGradesInWordsNoNumberNotation(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 1, 1)
	p := s.expect(s.do("POST", "/v1/projects", c.tokens[c.students[0]], map[string]any{"title": "Graded", "supervisor_id": c.supervisors[0]}), 201)
	s.expect(s.do("POST", "/v1/projects/"+p.str("id")+"/decision", c.tokens[c.supervisors[0]], map[string]any{"decision": "accept"}), 200)
	for _, grade := range []string{"NaN", "nan", "Infinity", "-Infinity", "+Inf", "inf", "0x10", "0X1F", "0b101", "0o17", "0x1p4", "1_000", "7_2"} {
		file := "Student Id,Student Email,Student Name,Final Grade,Feedback\nS0,mini-stu0@uni.example,A," + grade + ",Fine\n"
		rep := s.expect(s.upload(admin, "final-grades", "g.csv", []byte(file), ""), 200)
		want := `Final Grade \"` + grade + `\" is a number: give it as a whole mark from 0 to 100`
		if errs, _ := rep.Body["errors"].([]any); len(errs) != 1 || !strings.Contains(rep.Raw, want) || rep.num("updated") != 0 {
			t.Errorf("grade %q: %s", grade, rep.Raw)
		}
	}
	if agreed := sub(sub(s.expect(s.do("GET", "/v1/students/"+c.students[0], admin, nil), 200).Body, "marking"), "agreed"); agreed != nil {
		t.Fatalf("a refused grade was recorded: %v", agreed)
	}
	rep := s.expect(s.upload(admin, "final-grades", "g.csv", []byte("Student Id,Student Email,Student Name,Final Grade,Feedback\nS0,mini-stu0@uni.example,A,Distinction,Fine\n"), ""), 200)
	if rep.num("updated") != 1 {
		t.Fatalf("words: %s", rep.Raw)
	}
}
