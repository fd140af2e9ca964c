package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/commands/project"
)

// markCase is one placed student of TestMarkingCohort and what the test
// knows their marking must come to.
type markCase struct {
	student, token, project string
	sup, exam               int // indexes of their markers
	kind                    string
	supDraft, supMark       int  // the supervisor's first mark and their revision (the same when none)
	examMark                int  // the examiner's mark
	moderated, graded       int  // the coordinator's marks, for the kinds that get one
	finalSup                int  // the supervisor's mark as stored (the draft if the revision came too late)
	released                bool // released to the student
}

// The kinds of marking the cohort goes through.
const (
	mkWithin    = "within" // two marks within the threshold: agreed on their mean
	mkApart     = "apart"  // too far apart: moderated
	mkGraded    = "graded" // the coordinator sets the mark over the markers
	mkLate      = "late"   // the examiner's mark arrives while a release runs
	mkThreshold = 8
)

func (c *markCase) agreed() (int, bool) {
	switch c.kind {
	case mkGraded:
		return c.graded, true
	case mkApart:
		return c.moderated, true
	}
	return project.Mean(c.finalSup, c.examMark), true
}

// parallel runs f(i) for i in [0, n) on a few goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// TestMarkingCohort runs a cohort of 60 placed students through marking
// over HTTP: the markers mark concurrently (some revising while the other
// marker marks), pairs within the threshold agree, pairs apart are
// moderated, some marks are the coordinator's own; a partial release, then a
// full one while the last marks come in, then another. After every step
// each student sees exactly what was released to them and nothing before;
// the marks export matches the read models; and a rebuild of the read models
// equals the live ones.
func TestMarkingCohort(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := rand.New(rand.NewPCG(2026, 13))
	const pw, students = "marking cohort password", 60

	var sups, exams, supTok, examTok []string
	for i := range 6 {
		email := fmt.Sprintf("mk-sup%d@uni.example", i)
		sups = append(sups, s.createUser(admin, email, fmt.Sprint("Supervisor ", i), []string{"supervisor"}, pw))
		supTok = append(supTok, s.signIn(email, pw))
		s.expect(s.do("PUT", "/v1/supervisors/"+sups[i]+"/profile", admin, map[string]any{"capacity": 12}), 200)
	}
	for i := range 4 {
		email := fmt.Sprintf("mk-exam%d@uni.example", i)
		exams = append(exams, s.createUser(admin, email, fmt.Sprint("Examiner ", i), []string{"examiner"}, pw))
		examTok = append(examTok, s.signIn(email, pw))
	}
	s.expect(s.do("PUT", "/v1/marking/threshold", admin, map[string]any{"threshold": mkThreshold}), 200)

	kinds := []string{mkWithin, mkWithin, mkWithin, mkWithin, mkWithin, mkWithin, mkApart, mkApart, mkGraded, mkLate}
	cases := make([]*markCase, students)
	for i := range cases {
		c := &markCase{sup: i % len(sups), exam: i % len(exams), kind: kinds[i%len(kinds)]}
		c.supMark = 25 + rng.IntN(60)
		c.supDraft = c.supMark
		if i%3 == 0 {
			c.supDraft = rng.IntN(101) // revised later
		}
		switch c.kind {
		case mkApart:
			d := mkThreshold + 1 + rng.IntN(15)
			if c.examMark = c.supMark + d; c.examMark > 100 {
				c.examMark = c.supMark - d
			}
			c.supDraft = c.supMark // a draft could agree with it
		default:
			c.examMark = c.supMark - mkThreshold + rng.IntN(2*mkThreshold+1)
			if c.supDraft != c.supMark && abs(c.supDraft-c.examMark) > mkThreshold {
				c.supDraft = c.supMark // a draft that agrees or not: keep the outcome's kind certain
			}
		}
		c.moderated, c.graded = rng.IntN(101), rng.IntN(101)
		cases[i] = c
	}

	// Students are placed through their proposals, and examiners named.
	parallel(students, 6, func(i int) {
		c := cases[i]
		email := fmt.Sprintf("mk-student%02d@uni.example", i)
		c.student = s.createUser(admin, email, fmt.Sprint("Student ", i), []string{"student"}, pw)
		c.token = s.signIn(email, pw)
		c.project = s.expect(s.do("POST", "/v1/projects", c.token, map[string]string{"title": fmt.Sprint("Project ", i), "supervisor_id": sups[c.sup]}), 201).str("id")
		s.expect(s.do("POST", "/v1/projects/"+c.project+"/decision", supTok[c.sup], map[string]string{"decision": "accept"}), 200)
		s.expect(s.do("PUT", "/v1/projects/"+c.project+"/examiner", admin, map[string]string{"examiner_id": exams[c.exam]}), 200)
	})

	// The markers mark, each on their own goroutine, concurrently with one
	// another: a supervisor who revises may find the examiner's mark in
	// first, and then keeps their draft.
	var mu sync.Mutex
	submit := func(tok, pid string, mark int, feedback string) int {
		r := s.do("PUT", "/v1/projects/"+pid+"/mark", tok, map[string]any{"mark": mark, "feedback": feedback})
		if r.Status != 200 && r.str("code") != "marks-complete" {
			t.Errorf("PUT mark %d on %s: %d %s", mark, pid, r.Status, r.Raw)
		}
		return r.Status
	}
	var wg sync.WaitGroup
	for m := range sups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range cases {
				if c.sup != m {
					continue
				}
				final := c.supDraft
				submit(supTok[m], c.project, c.supDraft, fmt.Sprintf("supervisor on %s", c.student))
				if c.supMark != c.supDraft && submit(supTok[m], c.project, c.supMark, fmt.Sprintf("supervisor on %s", c.student)) == 200 {
					final = c.supMark
				}
				mu.Lock()
				c.finalSup = final
				mu.Unlock()
			}
		}()
	}
	for m := range exams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range cases {
				if c.exam == m && c.kind != mkLate {
					submit(examTok[m], c.project, c.examMark, fmt.Sprintf("examiner on %s", c.student))
				}
			}
		}()
	}
	wg.Wait()

	// The coordinator grades some over the markers, and moderates the
	// pairs too far apart.
	parallel(students, 4, func(i int) {
		c := cases[i]
		switch c.kind {
		case mkGraded:
			s.expect(s.do("PUT", "/v1/projects/"+c.project+"/grade", admin, map[string]any{"grade": c.graded, "feedback": "coordinator on " + c.student}), 200)
		case mkApart:
			s.expect(s.do("POST", "/v1/projects/"+c.project+"/moderation", admin, map[string]any{"mark": c.moderated, "comment": "moderated"}), 200)
		}
	})
	checkMarking(t, s, admin, cases, "before any release")
	overview := s.expect(s.do("GET", "/v1/marking", admin, nil), 200)
	if counts := overview.Body["counts"].(map[string]any); counts["submitted"] != float64(students/10) || counts["agreed"] != float64(students-students/10) {
		t.Fatalf("counts before the release: %v", counts)
	}

	// A partial release, of some of the agreed.
	var some []string
	for i, c := range cases {
		if i%4 == 0 && c.kind != mkLate {
			some = append(some, c.project)
			c.released = true
		}
	}
	r := s.expect(s.do("POST", "/v1/marking/release", admin, map[string]any{"project_ids": some}), 200)
	if n := len(r.Body["released"].([]any)); n != len(some) {
		t.Fatalf("the partial release released %d of %d: %s", n, len(some), r.Raw)
	}
	checkMarking(t, s, admin, cases, "after the partial release")

	// A full release while the last examiners mark: each late pair is in
	// this release or the next, never half-released.
	wg.Add(2)
	var full response
	go func() {
		defer wg.Done()
		full = s.do("POST", "/v1/marking/release", admin, nil)
	}()
	go func() {
		defer wg.Done()
		for _, c := range cases {
			if c.kind == mkLate {
				submit(examTok[c.exam], c.project, c.examMark, fmt.Sprintf("examiner on %s", c.student))
			}
		}
	}()
	wg.Wait()
	if full.Status != 200 {
		t.Fatalf("the full release: %d %s", full.Status, full.Raw)
	}
	inFull := map[string]bool{}
	for _, it := range full.Body["released"].([]any) {
		inFull[it.(map[string]any)["project_id"].(string)] = true
	}
	for _, c := range cases {
		switch {
		case c.released && inFull[c.project]:
			t.Errorf("%s was released twice", c.project)
		case !c.released && c.kind != mkLate && !inFull[c.project]:
			t.Errorf("%s, agreed before the release, was not released", c.project)
		}
		c.released = c.released || inFull[c.project]
	}
	checkMarking(t, s, admin, cases, "after the full release")
	again := s.expect(s.do("POST", "/v1/marking/release", admin, nil), 200)
	for _, c := range cases {
		c.released = true
	}
	t.Logf("the full release took %d marks; the next, the %d agreed while it ran", len(inFull), len(again.Body["released"].([]any)))
	checkMarking(t, s, admin, cases, "after the last release")
	checkMarksExport(t, s, admin, cases)

	// A rebuild of every read model equals the live ones.
	res, err := s.app.Rebuild(context.Background(), nil, true, nil)
	if err != nil || len(res.Differences) != 0 {
		t.Fatalf("rebuild: %v, differences %v (%v)", err, res.Differences, res.Sample)
	}
}

// checkMarking checks what each student sees (exactly their released mark
// and its feedback, or nothing), what the coordinator sees of each project,
// and what each marker sees (blind before both marks are in).
func checkMarking(t *testing.T, s *service, admin string, cases []*markCase, step string) {
	t.Helper()
	for _, c := range cases {
		agreed, _ := c.agreed()
		st := s.expect(s.do("GET", "/v1/students/"+c.student, c.token, nil), 200)
		pr := s.expect(s.do("GET", "/v1/projects/"+c.project, c.token, nil), 200)
		hist := s.expect(s.do("GET", "/v1/projects/"+c.project+"/history", c.token, nil), 200)
		releases := strings.Count(hist.Raw, `"MarkReleased"`)
		if strings.Contains(hist.Raw, `"MarkSubmitted"`) || strings.Contains(hist.Raw, "moderated") {
			t.Errorf("%s: the student's history of %s shows marking before release: %.300s", step, c.project, hist.Raw)
		}
		if !c.released {
			if st.Body["grade"] != nil || st.Body["marking"] != nil || pr.Body["marking"] != nil || releases != 0 {
				t.Errorf("%s: student %s sees a mark before its release: %s / %s", step, c.student, st.Raw, pr.Raw)
			}
			continue
		}
		m, _ := pr.Body["marking"].(map[string]any)
		rel, _ := m["released"].(map[string]any)
		if st.num("grade") != int64(agreed) || rel == nil || rel["mark"] != float64(agreed) || m["state"] != "released" ||
			len(m) != 2 || releases != 1 || !strings.Contains(st.str("feedback"), c.student) {
			t.Errorf("%s: student %s, agreed %d: overview %s, project marking %v", step, c.student, agreed, st.Raw, m)
		}
		if c.kind != mkGraded && (rel["supervisor_feedback"] == nil || rel["examiner_feedback"] == nil) {
			t.Errorf("%s: %s released without both markers' feedback: %v", step, c.project, rel)
		}
	}
	// The coordinator sees every project's marking whole.
	for _, c := range cases {
		m, _ := s.expect(s.do("GET", "/v1/projects/"+c.project, admin, nil), 200).Body["marking"].(map[string]any)
		sup, _ := m["supervisor"].(map[string]any)
		if sup == nil || sup["mark"] != float64(c.finalSup) {
			t.Errorf("%s: %s: the supervisor's mark %v, want %d", step, c.project, sup, c.finalSup)
		}
		agreed, _ := c.agreed()
		state := "agreed"
		if c.released {
			state = "released"
		}
		if c.kind == mkLate && m["examiner"] == nil {
			state = "submitted"
		}
		got, _ := m["agreed"].(map[string]any)
		if m["state"] != state || (state != "submitted" && (got == nil || got["mark"] != float64(agreed))) {
			t.Errorf("%s: %s (%s): marking %v, want state %s, agreed %d", step, c.project, c.kind, m, state, agreed)
		}
	}
}

// checkMarksExport compares marks.csv and final-grades.csv with the read
// models (the projects as the coordinator reads them), row by row.
func checkMarksExport(t *testing.T, s *service, admin string, cases []*markCase) {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s.expect(s.do("GET", "/v1/exports/marks.csv", admin, nil), 200).Raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := rows[0]
	col := func(row []string, name string) string { return row[slices.Index(header, name)] }
	byProject := map[string][]string{}
	for _, row := range rows[1:] {
		byProject[col(row, "Project Id")] = row
	}
	grades, err := csv.NewReader(strings.NewReader(s.expect(s.do("GET", "/v1/exports/final-grades.csv", admin, nil), 200).Raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	gradeOf := map[string]string{}
	for _, g := range grades[1:] {
		gradeOf[g[1]] = g[3]
	}
	num := func(v any) string {
		if f, ok := v.(float64); ok {
			return strconv.Itoa(int(f))
		}
		return ""
	}
	for _, c := range cases {
		row := byProject[c.project]
		if row == nil {
			t.Errorf("marks.csv has no row for %s", c.project)
			continue
		}
		pr := s.expect(s.do("GET", "/v1/projects/"+c.project, admin, nil), 200)
		m := pr.Body["marking"].(map[string]any)
		part := func(k string) map[string]any { p, _ := m[k].(map[string]any); return p }
		want := map[string]string{
			"Project Title": pr.str("title"), "State": m["state"].(string),
			"Supervisor Mark": num(part("supervisor")["mark"]), "Examiner Mark": num(part("examiner")["mark"]),
			"Agreed Mark": num(part("agreed")["mark"]), "Agreed By": fmt.Sprint(part("agreed")["via"]),
			"Released Mark": num(part("released")["mark"]),
		}
		if f, _ := part("supervisor")["feedback"].(string); true {
			want["Supervisor Feedback"] = f
		}
		for name, v := range want {
			if got := col(row, name); got != v {
				t.Errorf("marks.csv, %s, %s: %q, the read model says %q", c.project, name, got, v)
			}
		}
		email := col(row, "Student Email")
		if gradeOf[email] != want["Agreed Mark"] {
			t.Errorf("final-grades.csv, %s: %q, the agreed mark is %q", email, gradeOf[email], want["Agreed Mark"])
		}
	}
	if len(rows)-1 != len(cases) {
		t.Errorf("marks.csv has %d rows for %d placed students", len(rows)-1, len(cases))
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestRecordMarks: a student placed without a project (by the coordinator)
// is graded on their record, through any project of theirs or by import; it
// reaches them with the next release, as a project's mark does, and the
// marks export lists it.
func TestRecordMarks(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const pw = "record marks password"
	sup := s.createUser(admin, "rec-sup@uni.example", "Rec Supervisor", []string{"supervisor"}, pw)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 3}), 200)
	stu := s.createUser(admin, "rec-stu@uni.example", "Rec Student", []string{"student"}, pw)
	tok := s.signIn("rec-stu@uni.example", pw)
	draft := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "A draft"}), 201).str("id")
	s.expect(s.do("PUT", "/v1/projects/"+draft+"/grade", admin, map[string]any{"grade": 50}), 422, "student-not-placed")
	s.expect(s.upload(admin, "supervisor-assignments", "a.csv", []byte("Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n"+
		"S1,rec-stu@uni.example,Rec Student,V1,rec-sup@uni.example,Rec Supervisor\n"), ""), 200)

	graded := s.expect(s.do("PUT", "/v1/projects/"+draft+"/grade", admin, map[string]any{"grade": 64, "feedback": "Marked outside"}), 200)
	if graded.str("on") != "record" || graded.num("grade") != 64 {
		t.Fatalf("graded: %s", graded.Raw)
	}
	if r := s.expect(s.do("GET", "/v1/students/"+stu, tok, nil), 200); r.Body["grade"] != nil || r.Body["marking"] != nil {
		t.Fatalf("seen before the release: %s", r.Raw)
	}
	// Imported again, the same mark changes nothing; another one replaces it.
	rep := s.expect(s.upload(admin, "final-grades", "g.csv", []byte("Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
		"S1,rec-stu@uni.example,Rec Student,64,Marked outside\n"), ""), 200)
	if rep.num("unchanged") != 1 {
		t.Fatalf("the same grade imported: %s", rep.Raw)
	}
	released := s.expect(s.do("POST", "/v1/marking/release", admin, nil), 200)
	if items := released.Body["released"].([]any); len(items) != 1 || items[0].(map[string]any)["project_id"] != nil {
		t.Fatalf("the release: %s", released.Raw)
	}
	r := s.expect(s.do("GET", "/v1/students/"+stu, tok, nil), 200)
	if r.num("grade") != 64 || r.str("feedback") != "Marked outside" {
		t.Fatalf("after the release: %s", r.Raw)
	}
	if sees := s.expect(s.do("GET", "/v1/students/"+stu, s.signIn("rec-sup@uni.example", pw), nil), 200); sees.num("grade") != 64 {
		t.Fatalf("their supervisor: %s", sees.Raw)
	}
	csvText := s.expect(s.do("GET", "/v1/exports/marks.csv", admin, nil), 200).Raw
	if !strings.Contains(csvText, "rec-stu@uni.example,Rec Student,,,released,rec-sup@uni.example,,,,,,64,coordinator,,Marked outside,64") {
		t.Fatalf("marks.csv: %s", csvText)
	}
}

// TestExaminerReplacedMarksBlind: an examiner replaced before both marks are
// in has their mark set aside. The new examiner marks blind: neither the
// project, its history nor a past state shows them the old mark or its
// feedback, and neither does anything the supervisor sees once both marks
// are in; the outcome rests on the two marks that count; coordinators see
// the set-aside mark in the history, the audit trail.
func TestExaminerReplacedMarksBlind(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 15))
	const pw = "replaced examiner password"
	sup := s.createUser(admin, "rx-sup@uni.example", "Rx Supervisor", []string{"supervisor"}, pw)
	s.expect(s.do("PUT", "/v1/supervisors/"+sup+"/profile", admin, map[string]any{"capacity": 3}), 200)
	old := s.createUser(admin, "rx-old@uni.example", "Old Examiner", []string{"examiner"}, pw)
	repl := s.createUser(admin, "rx-new@uni.example", "New Examiner", []string{"examiner"}, pw)
	s.createUser(admin, "rx-stu@uni.example", "Rx Student", []string{"student"}, pw)
	supTok, oldTok, newTok := s.signIn("rx-sup@uni.example", pw), s.signIn("rx-old@uni.example", pw), s.signIn("rx-new@uni.example", pw)
	pid := s.expect(s.do("POST", "/v1/projects", s.signIn("rx-stu@uni.example", pw), map[string]string{"title": "Replaced", "supervisor_id": sup}), 201).str("id")
	s.expect(s.do("POST", "/v1/projects/"+pid+"/decision", supTok, map[string]string{"decision": "accept"}), 200)
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": old}), 200)

	secret := fmt.Sprintf("old examiner's feedback %d", rng.Uint64())
	supMark, newMark := 20+rng.IntN(60), 0
	oldMark := rng.IntN(101)
	for range 1 + rng.IntN(2) { // and maybe a revision
		s.expect(s.do("PUT", "/v1/projects/"+pid+"/mark", oldTok, map[string]any{"mark": oldMark, "feedback": secret}), 200)
	}
	markedAt := s.expect(s.do("GET", "/v1/projects/"+pid, admin, nil), 200).num("version")
	s.expect(s.do("PUT", "/v1/projects/"+pid+"/examiner", admin, map[string]string{"examiner_id": repl}), 200)

	blind := func(who, tok string) {
		t.Helper()
		for _, path := range []string{"/v1/projects/" + pid, "/v1/projects/" + pid + "/history", fmt.Sprint("/v1/projects/", pid, "?at_version=", markedAt), "/v1/me/marking"} {
			if r := s.expect(s.do("GET", path, tok, nil), 200); strings.Contains(r.Raw, secret) {
				t.Errorf("%s reads the replaced examiner's mark in %s: %.600s", who, path, r.Raw)
			}
		}
	}
	blind("the new examiner", newTok)
	if st := s.expect(s.do("GET", "/v1/projects/"+pid, newTok, nil), 200).Body["marking"].(map[string]any)["state"]; st != "to-mark" {
		t.Errorf("the new examiner's state: %v, want to-mark", st)
	}
	// The supervisor marks before or after the new examiner, and blind
	// either way.
	newMark = max(0, min(100, supMark-5+rng.IntN(11)))
	marks := []func(){
		func() {
			s.expect(s.do("PUT", "/v1/projects/"+pid+"/mark", supTok, map[string]any{"mark": supMark, "feedback": "supervisor's"}), 200)
		},
		func() {
			s.expect(s.do("PUT", "/v1/projects/"+pid+"/mark", newTok, map[string]any{"mark": newMark, "feedback": "new examiner's"}), 200)
		},
	}
	first := rng.IntN(2)
	marks[first]()
	blind("the new examiner", newTok)
	blind("the supervisor", supTok)
	marks[1-first]()

	// Both marks in: the outcome rests on them, and still no one but a
	// coordinator reads the set-aside one.
	done := s.expect(s.do("GET", "/v1/projects/"+pid, admin, nil), 200).Body["marking"].(map[string]any)
	if done["state"] != "agreed" || done["agreed"].(map[string]any)["mark"] != float64((supMark+newMark+1)/2) {
		t.Errorf("the outcome of %d and %d (the set-aside %d aside): %v", supMark, newMark, oldMark, done)
	}
	blind("the new examiner", newTok)
	blind("the supervisor", supTok)
	if hist := s.expect(s.do("GET", "/v1/projects/"+pid+"/history", admin, nil), 200); !strings.Contains(hist.Raw, secret) {
		t.Errorf("the coordinator's history lacks the set-aside mark: %.600s", hist.Raw)
	}
}
