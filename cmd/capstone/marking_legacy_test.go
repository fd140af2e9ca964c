package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// oldGrades writes a grade the way the service did before marking existed:
// GradeRecorded on the student's record, seen by them at once.
var oldGrades = commands.Decider[struct{}, *events.GradeRecorded]{
	StreamType: events.StreamStudent,
	Schema:     "student/before-marking",
	Initial:    func(string) struct{} { return struct{}{} },
	Evolve:     func(s struct{}, _ events.Envelope) struct{} { return s },
	Decide: func(_ struct{}, grade *events.GradeRecorded) ([]events.Data, error) {
		return []events.Data{grade}, nil
	},
}

// TestGradesRecordedBeforeMarking: a history written before marking existed
// (grades on the students' records) answers as it did: each student, their
// supervisor and examiner, and the coordinator see the grade; the
// final-grades export lists it, and imports back unchanged; a rebuild equals
// the live read models; and a student document written by the projection of
// that time (without marking) answers the same.
func TestGradesRecordedBeforeMarking(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	const pw = "before marking password"
	sup := s.createUser(admin, "old-sup@uni.example", "Old Supervisor", []string{"supervisor"}, pw)
	exam := s.createUser(admin, "old-exam@uni.example", "Old Examiner", []string{"examiner"}, pw)
	supTok, examTok := s.signIn("old-sup@uni.example", pw), s.signIn("old-exam@uni.example", pw)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 5}), 200)
	students := map[string]struct {
		id, token string
		grade     int
	}{}
	for i, name := range []string{"proposed", "assigned", "unplaced"} {
		email := "old-" + name + "@uni.example"
		id := s.createUser(admin, email, name, []string{"student"}, pw)
		students[name] = struct {
			id, token string
			grade     int
		}{id, s.signIn(email, pw), 60 + i}
	}
	// "proposed" is placed through an accepted project with an examiner;
	// "assigned" by the coordinator, with no project; "unplaced" nowhere.
	pid := s.expect(s.do("POST", "/v1/projects", students["proposed"].token, map[string]string{"title": "Old", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 200)
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": exam}), 200)
	if _, err := s.app.Cohort.AssignSupervisor(ctx, commands.Meta{Actor: events.SystemActor}, students["assigned"].id, sup); err != nil {
		t.Fatal(err)
	}
	for name, st := range students {
		_, err := oldGrades.Execute(ctx, s.app.Exec, "student:"+st.id, &events.GradeRecorded{Grade: st.grade, Feedback: "old feedback for " + name},
			commands.Meta{Actor: events.SystemActor, CorrelationID: "before-marking"})
		if err != nil {
			t.Fatal(err)
		}
	}

	check := func(when string) {
		t.Helper()
		for name, st := range students {
			viewers := map[string]string{"the student": st.token, "the coordinator": admin}
			if name != "unplaced" {
				viewers["their supervisor"] = supTok
			}
			if name == "proposed" {
				viewers["their examiner"] = examTok
			}
			for who, tok := range viewers {
				var r response
				waitFor(t, name+"'s grade", func() bool {
					r = s.do("GET", "/v1/students/"+st.id, tok, nil)
					return r.Status == 200 && r.Body["grade"] != nil
				})
				m, _ := r.Body["marking"].(map[string]any)
				if r.num("grade") != int64(st.grade) || r.str("feedback") != "old feedback for "+name || m["state"] != "released" {
					t.Errorf("%s: %s as %s: %s", when, name, who, r.Raw)
				}
			}
		}
		grades := s.expect(s.do("GET", "/v1/exports/final-grades.csv", admin, nil), 200).Raw
		for name, st := range students {
			if !strings.Contains(grades, fmt.Sprintf("old-%s@uni.example,%s,%d,old feedback for %s", name, name, st.grade, name)) {
				t.Errorf("%s: final-grades.csv lacks %s: %s", when, name, grades)
			}
		}
		counts := s.expect(s.do("GET", "/v1/marking", admin, nil), 200).Body["counts"].(map[string]any)
		if counts["released"] != float64(3) {
			t.Errorf("%s: marking counts %v, want the 3 grades released", when, counts)
		}
	}
	check("live")
	res, err := s.app.Rebuild(ctx, nil, false, nil)
	if err != nil || !res.Switched {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	check("rebuilt")
	res, err = s.app.Rebuild(ctx, nil, true, nil)
	if err != nil || len(res.Differences) != 0 {
		t.Fatalf("verify: %v %v %v", err, res.Differences, res.Sample)
	}

	// The export imports back unchanged, but for the student placed with
	// no one: a mark needs a placement now.
	back := s.expect(s.upload(admin, "final-grades", "grades.csv", []byte(s.do("GET", "/v1/exports/final-grades.csv", admin, nil).Raw), ""), 200)
	if back.num("unchanged") != 2 || back.num("updated") != 0 || !strings.Contains(back.Raw, "has a supervisor") {
		t.Errorf("re-importing the grades: %s", back.Raw)
	}
	// A student document as the projection wrote it before marking existed.
	coll := s.app.store.DB.Collection(newReadModels(s).Physical(ctx, "students"))
	for _, st := range students {
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: st.id}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "marking", Value: ""}}}}); err != nil {
			t.Fatal(err)
		}
	}
	check("documents written before marking")
}
