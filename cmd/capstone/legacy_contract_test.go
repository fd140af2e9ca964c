package main

import (
	"fmt"
	"strings"
	"testing"
)

// The files of a small cohort in the original system's formats, with the
// passwords the coordinator hands out.
const (
	legacySupervisorsCSV = "Supervisor Code,Name,Position,Department,QM Email,Username,Password,Slots\n" +
		"SV1,Dr Ada Byron,Senior Lecturer,EECS,sup1@qmul.example.ac.uk,sup1,supervisor one pw,2\n" +
		"SV2,Dr Bo Chen,Lecturer,EECS,sup2@qmul.example.ac.uk,sup2,supervisor two pw,1\n"
	legacyExaminersCSV = "Examiner Code,Name,Position,Department,QM Email,Username,Password\n" +
		"EX1,Dr Eve Exam,Reader,EECS,ex1@qmul.example.ac.uk,ex1,examiner one pw\n"
	legacyStudentsCSV = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n" +
		"ST1,Sam One,Enrolled,MSc Computer Science,Full-time,2026-09-21,s1@qmul.example.ac.uk,s1,student one pw\n" +
		"ST2,Tia Two,Enrolled,MSc AI,Part-time,2026-09-21,s2@qmul.example.ac.uk,s2,student two pw\n" +
		"ST3,Uma Three,Enrolled,MSc Data Science,Full-time,2026-09-21,s3@qmul.example.ac.uk,s3,student three pw\n"
	legacyAssignmentCSV = "Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n" +
		"ST3,s3@qmul.example.ac.uk,Uma Three,SV2,sup2@qmul.example.ac.uk,Dr Bo Chen\n"
	legacyExaminerAssignmentCSV = "Student Id,Student Email,Student Name,Secondary Examiner Id,Secondary Examiner Email,Secondary Examiner Name\n" +
		"ST1,s1@qmul.example.ac.uk,Sam One,EX1,ex1@qmul.example.ac.uk,Dr Eve Exam\n"
)

// str reads a string field of a decoded object ("" when absent or not a string).
func str(m map[string]any, key string) string {
	v, _ := m[key].(string)
	return v
}

// sub reads an object field of a decoded object.
func sub(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// TestLegacyContract checks every call the original frontend makes (C01
// to C22 of docs/legacy.md), one subtest each, in the order a term brings
// them: every field the frontend's pages read, and every status they test.
// Each write is read back at once, with nothing asked for.
func TestLegacyContract(t *testing.T) {
	s, lc := startLegacy(t)
	var admin, sup1, sup2, stu1, stu2, exam string

	t.Run("C01 POST /sign-in", func(t *testing.T) {
		lc := legacyFor(t, s)
		tok, user := lc.signIn(adminEmail, adminPassword)
		admin = tok
		if str(user, "email") != adminEmail || str(user, "name") == "" || fmt.Sprint(user["roles"]) != "[project_coordinator]" {
			t.Errorf("the stored user: %v", user)
		}
		// The token is /v1's.
		if me := s.do("GET", "/v1/me", tok, nil); me.Status != 200 || me.str("email") != adminEmail {
			t.Errorf("the legacy token on /v1: %d %s", me.Status, me.Raw)
		}
		for _, bad := range []struct {
			body   any
			status int
		}{
			{map[string]string{"email": adminEmail, "password": "not the password"}, 401},
			{map[string]string{"email": "nobody@uni.example", "password": "not the password"}, 401},
			{map[string]string{"email": adminEmail}, 400},
			{`{"email":`, 400},
		} {
			r := lc.do("POST", "/sign-in", "", bad.body)
			if r.Status != bad.status || str(r.obj(), "message") == "" || r.str("token") != "" {
				t.Errorf("sign-in with %v: %d %s, want %d and a message the form shows", bad.body, r.Status, r.Raw, bad.status)
			}
		}
	})

	uploaded := func(t *testing.T, path, file, csv string) {
		t.Helper()
		r := lc.upload(admin, path, file, []byte(csv))
		if r.Status != 200 { // the Admin page tests exactly 200
			t.Fatalf("upload %s: %d %s", path, r.Status, r.Raw)
		}
	}
	t.Run("C03 POST /supervisor/info", func(t *testing.T) {
		uploaded(t, "/supervisor/info", "supervisors.csv", legacySupervisorsCSV)
		tok, user := lc.signIn("sup1@qmul.example.ac.uk", "supervisor one pw")
		sup1 = tok
		if fmt.Sprint(user["roles"]) != "[supervisor examiner]" || str(user, "name") != "Dr Ada Byron" {
			t.Errorf("a supervisor of the file: %v (the original made them examiners too)", user)
		}
		sup2, _ = lc.signIn("sup2@qmul.example.ac.uk", "supervisor two pw")
		// The same file again changes nothing, and answers 200.
		again := lc.expect(lc.upload(admin, "/supervisor/info", "supervisors.csv", []byte(legacySupervisorsCSV)), 200)
		if n, _ := again.obj()["unchanged"].(float64); n != 2 {
			t.Errorf("uploaded again: %s", again.Raw)
		}
	})
	t.Run("C04 POST /examiner/info", func(t *testing.T) {
		uploaded(t, "/examiner/info", "examiners.csv", legacyExaminersCSV)
		var user map[string]any
		exam, user = lc.signIn("ex1@qmul.example.ac.uk", "examiner one pw")
		if fmt.Sprint(user["roles"]) != "[examiner]" {
			t.Errorf("an examiner of the file: %v", user)
		}
	})
	t.Run("C02 POST /student/info", func(t *testing.T) {
		uploaded(t, "/student/info", "students.csv", legacyStudentsCSV)
		var user map[string]any
		stu1, user = lc.signIn("s1@qmul.example.ac.uk", "student one pw")
		if fmt.Sprint(user["roles"]) != "[student]" || str(user, "email") != "s1@qmul.example.ac.uk" || str(user, "name") != "Sam One" {
			t.Errorf("a student of the file: %v", user)
		}
		stu2, _ = lc.signIn("s2@qmul.example.ac.uk", "student two pw")
		// A file with bad rows: the good ones are kept, the answer is not 200.
		bad := legacyStudentsCSV + "ST4,,Enrolled,MSc,Full-time,2026-09-21,s4@qmul.example.ac.uk,s4,student four pw\n" +
			"ST5,Val Five,Enrolled,MSc,Full-time,2026-09-21,s5@qmul.example.ac.uk,s5,short\n" +
			"ST6,Wes Six,Enrolled,MSc,Full-time,2026-09-21,s6@qmul.example.ac.uk,s6,student six pw\n"
		r := lc.upload(admin, "/student/info", "students.csv", []byte(bad))
		if r.Status != 400 || !strings.Contains(r.Raw, "line 5:") || !strings.Contains(r.Raw, "line 6:") || strings.Contains(r.Raw, "line 7:") ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("bad rows: %d %s", r.Status, r.Raw)
		}
		lc.signIn("s6@qmul.example.ac.uk", "student six pw") // the good row after them was kept
		for name, r := range map[string]lresp{
			"not a .csv":     lc.upload(admin, "/student/info", "students.xlsx", []byte(legacyStudentsCSV)),
			"no header":      lc.upload(admin, "/student/info", "students.csv", []byte("ST1,Sam\n")),
			"not multipart":  lc.do("POST", "/student/info", admin, map[string]string{"file": "x"}),
			"not the admin":  lc.upload(stu1, "/student/info", "students.csv", []byte(legacyStudentsCSV)),
			"not signed in":  lc.upload("", "/student/info", "students.csv", []byte(legacyStudentsCSV)),
			"a wrong bearer": lc.upload("not-a-token", "/student/info", "students.csv", []byte(legacyStudentsCSV)),
		} {
			if r.Status == 200 {
				t.Errorf("%s: answered 200, which the Admin page reports as success: %s", name, r.Raw)
			}
		}
	})
	t.Run("C05 POST /supervisor/assignment_info", func(t *testing.T) {
		uploaded(t, "/supervisor/assignment_info", "supervisor_assignment.csv", legacyAssignmentCSV)
		// It assigns (the original's stored nothing): the supervisor sees the student at once.
		got := lc.expect(lc.do("GET", "/supervisor/supervisees", sup2, nil), 200).arr()
		if len(got) != 1 || str(got[0], "email") != "s3@qmul.example.ac.uk" {
			t.Errorf("the assigned student: %v", got)
		}
		r := lc.upload(admin, "/supervisor/assignment_info", "a.csv", []byte(strings.Replace(legacyAssignmentCSV, "s3@", "nobody@", 1)))
		if r.Status != 400 || !strings.Contains(r.Raw, "line 2:") {
			t.Errorf("an unknown student: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("C08 GET /student/all", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/student/all", admin, nil), 200).arr()
		byEmail := map[string]map[string]any{}
		for _, st := range got {
			byEmail[str(st, "email")] = st
		}
		if st := byEmail["s2@qmul.example.ac.uk"]; str(st, "id") != "ST2" || str(st, "name") != "Tia Two" || len(got) != 4 {
			t.Errorf("the students: %v", got)
		}
		lc.expect(lc.do("GET", "/student/all", stu1, nil), 403)
	})
	t.Run("C09 GET /supervisor/all", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/supervisor/all", stu1, nil), 200).arr()
		if len(got) != 2 {
			t.Fatalf("the supervisors: %v", got)
		}
		for _, sv := range got {
			students, isArray := sv["students"].([]any)
			_, areasText := sv["areas"].(string)
			_, infoText := sv["info"].(string)
			projects, projectsArray := sv["projects"].([]any)
			if !isArray || !areasText || !infoText || !projectsArray || projects == nil || str(sv, "name") == "" || str(sv, "email") == "" {
				t.Errorf("a supervisor the pages cannot read: %v", sv)
			}
			slots, _ := sv["slots"].(float64)
			if str(sv, "email") == "sup2@qmul.example.ac.uk" && (slots != 1 || len(students) != 1) {
				t.Errorf("sup2 has 1 slot, taken by the assigned student: %v", sv)
			}
			for _, who := range students { // who took a place is not the directory's to say
				if m, _ := who.(map[string]any); len(m) != 0 {
					t.Errorf("the directory names a supervisee: %v", sv)
				}
			}
		}
	})
	t.Run("C14 GET /supervisor/info/{supervisor_email}", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/supervisor/info/sup1@qmul.example.ac.uk", stu1, nil), 200).obj()
		if str(got, "email") != "sup1@qmul.example.ac.uk" || str(got, "name") != "Dr Ada Byron" {
			t.Errorf("the supervisor: %v", got)
		}
		lc.expect(lc.do("GET", "/supervisor/info/undefined", stu1, nil), 400)
		lc.expect(lc.do("GET", "/supervisor/info/s2@qmul.example.ac.uk", stu1, nil), 400) // a student is no supervisor
	})
	shortlist := func(tok string) map[string]any {
		return lc.expect(lc.do("GET", "/student/shortlist", tok, nil), 200).obj()
	}
	t.Run("C12 GET /student/shortlist", func(t *testing.T) {
		got := shortlist(stu1)
		for i := 1; i <= 5; i++ {
			if v, ok := got[fmt.Sprint("supervisor_", i)]; !ok || v != nil {
				t.Errorf("supervisor_%d of an empty shortlist is %v (present: %v), want null", i, v, ok)
			}
		}
	})
	t.Run("C13 POST /student/shortlist", func(t *testing.T) {
		r := lc.do("POST", "/student/shortlist", stu1, map[string]any{"supervisor_1": "sup1@qmul.example.ac.uk",
			"supervisor_2": "noEmail", "supervisor_3": nil, "supervisor_4": nil, "supervisor_5": nil})
		if r.Status != 200 { // the page says "Something went wrong!" for anything else
			t.Fatalf("shortlist: %d %s", r.Status, r.Raw)
		}
		if got := shortlist(stu1); got["supervisor_1"] != "sup1@qmul.example.ac.uk" || got["supervisor_2"] != nil {
			t.Errorf("after the first submission: %v", got)
		}
		// A set slot is kept when sent empty; a new one fills its slot.
		lc.expect(lc.do("POST", "/student/shortlist", stu1, map[string]any{"supervisor_1": nil, "supervisor_2": "SUP2@qmul.example.ac.uk",
			"supervisor_3": "noEmail", "supervisor_4": nil, "supervisor_5": nil}), 200)
		if got := shortlist(stu1); got["supervisor_1"] != "sup1@qmul.example.ac.uk" || got["supervisor_2"] != "sup2@qmul.example.ac.uk" || got["supervisor_3"] != nil {
			t.Errorf("after the merge: %v", got)
		}
		for name, body := range map[string]any{
			"not a supervisor": map[string]any{"supervisor_3": "s2@qmul.example.ac.uk"},
			"one twice":        map[string]any{"supervisor_3": "sup1@qmul.example.ac.uk"},
		} {
			if r := lc.do("POST", "/student/shortlist", stu1, body); r.Status == 200 {
				t.Errorf("%s: 200 %s", name, r.Raw)
			}
		}
		if r := lc.do("POST", "/student/shortlist", stu2, map[string]any{"supervisor_1": "noEmail"}); r.Status != 400 {
			t.Errorf("an empty shortlist: %d %s", r.Status, r.Raw)
		}
		if r := lc.do("POST", "/student/shortlist", sup1, map[string]any{"supervisor_1": "sup2@qmul.example.ac.uk"}); r.Status != 403 {
			t.Errorf("a supervisor's shortlist: %d", r.Status)
		}
	})
	overview := func(tok string) map[string]any {
		return lc.expect(lc.do("GET", "/student/overview", tok, nil), 200).obj()
	}
	t.Run("C11 POST /student/project_info", func(t *testing.T) {
		lc.expect(lc.do("POST", "/student/project_info", stu1, map[string]string{"title": "Query planners", "description": "Cost-based"}), 200)
		if p := sub(overview(stu1), "project"); str(p, "title") != "Query planners" || str(p, "description") != "Cost-based" {
			t.Errorf("the project info after writing it: %v", p)
		}
		lc.expect(lc.do("POST", "/student/project_info", stu1, map[string]string{"title": "Query planners", "description": "Cost-based, adaptive"}), 200)
		if p := sub(overview(stu1), "project"); str(p, "description") != "Cost-based, adaptive" {
			t.Errorf("the project info after editing it: %v", p)
		}
		lc.expect(lc.do("POST", "/student/project_info", stu1, map[string]string{"title": "", "description": "x"}), 400)
	})
	proposalForm := func(tok, email string) map[string]any {
		return lc.expect(lc.do("GET", "/student/project_proposal/"+email, tok, nil), 200).obj()
	}
	t.Run("C16 POST /student/project_proposal", func(t *testing.T) {
		if got := proposalForm(stu1, "sup1@qmul.example.ac.uk"); str(got, "error") == "" || got["title"] != nil {
			t.Errorf("before any proposal: %v (the page needs a 200 either way)", got)
		}
		body := map[string]string{"supervisor_email": "sup1@qmul.example.ac.uk", "title": "Adaptive planners", "aim": "Re-plan", "rationale": "Stale stats"}
		lc.expect(lc.do("POST", "/student/project_proposal", stu1, body), 200)
		if r := lc.do("POST", "/student/project_proposal", stu1, body); r.Status != 400 || !strings.Contains(r.Raw, "already exists") {
			t.Errorf("the same proposal again: %d %s", r.Status, r.Raw)
		}
		lc.expect(lc.do("POST", "/student/project_proposal", stu2, map[string]string{"supervisor_email": "sup1@qmul.example.ac.uk",
			"title": "Learned indexes", "aim": "Smaller", "rationale": "Faster"}), 200)
		lc.expect(lc.do("POST", "/student/project_proposal", stu2, map[string]string{"supervisor_email": "nobody@uni.example", "title": "x", "aim": "y", "rationale": "z"}), 400)
	})
	t.Run("C15 GET /student/project_proposal/{supervisor_email}", func(t *testing.T) {
		got := proposalForm(stu1, "sup1@qmul.example.ac.uk")
		if str(got, "title") != "Adaptive planners" || str(got, "aim") != "Re-plan" || str(got, "rationale") != "Stale stats" ||
			str(got, "status") != "pending" || got["comment"] != nil {
			t.Errorf("a pending proposal: %v", got)
		}
		if got := proposalForm(stu1, "sup2@qmul.example.ac.uk"); str(got, "error") == "" {
			t.Errorf("no proposal to sup2: %v", got)
		}
	})
	t.Run("C20 GET /supervisor/pending_proposals", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/supervisor/pending_proposals", sup1, nil), 200).arr()
		if len(got) != 2 {
			t.Fatalf("pending: %v", got)
		}
		first, who := got[0], sub(got[0], "student_info")
		if str(first, "title") != "Adaptive planners" || str(first, "aim") != "Re-plan" || str(first, "rationale") != "Stale stats" ||
			str(first, "status") != "pending" || str(who, "name") != "Sam One" || str(who, "email") != "s1@qmul.example.ac.uk" {
			t.Errorf("the first pending proposal: %v", first)
		}
		if none := lc.expect(lc.do("GET", "/supervisor/pending_proposals", sup2, nil), 200).arr(); len(none) != 0 {
			t.Errorf("sup2 has none: %v", none)
		}
	})
	t.Run("C21 POST /supervisor/pending_proposal", func(t *testing.T) {
		if r := lc.do("POST", "/supervisor/pending_proposal", sup1, map[string]string{"student_email": "s1@qmul.example.ac.uk", "status": "pending", "comment": ""}); r.Status != 400 {
			t.Errorf("no choice made: %d %s", r.Status, r.Raw)
		}
		left := lc.expect(lc.do("POST", "/supervisor/pending_proposal", sup1, map[string]string{"student_email": "s1@qmul.example.ac.uk", "status": "accepted", "comment": "Welcome aboard"}), 200).arr()
		if len(left) != 1 || str(sub(left[0], "student_info"), "email") != "s2@qmul.example.ac.uk" {
			t.Errorf("the pending proposals left: %v", left)
		}
		if got := proposalForm(stu1, "sup1@qmul.example.ac.uk"); str(got, "status") != "accepted" || str(got, "comment") != "Welcome aboard" {
			t.Errorf("the student's form after acceptance: %v", got)
		}
		lc.expect(lc.do("POST", "/supervisor/pending_proposal", sup1, map[string]string{"student_email": "s2@qmul.example.ac.uk", "status": "rejected", "comment": "Too broad"}), 200)
		if got := proposalForm(stu2, "sup1@qmul.example.ac.uk"); str(got, "status") != "rejected" || str(got, "comment") != "Too broad" {
			t.Errorf("the student's form after rejection: %v", got)
		}
		if r := lc.do("POST", "/supervisor/pending_proposal", sup1, map[string]string{"student_email": "s2@qmul.example.ac.uk", "status": "accepted"}); r.Status != 400 {
			t.Errorf("a decision with nothing pending: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("C22 GET /supervisor/supervisees", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/supervisor/supervisees", sup1, nil), 200).arr()
		if len(got) != 1 || str(got[0], "name") != "Sam One" || str(got[0], "email") != "s1@qmul.example.ac.uk" || str(got[0], "id") != "ST1" {
			t.Fatalf("supervisees: %v", got)
		}
		if p := sub(got[0], "project"); str(p, "title") != "Adaptive planners" || str(p, "description") != "Re-plan" {
			t.Errorf("the supervisee's project: %v", p)
		}
		// Placed by the coordinator, with no project the supervisor may see: the fields are there, empty.
		got = lc.expect(lc.do("GET", "/supervisor/supervisees", sup2, nil), 200).arr()
		if p, ok := got[0]["project"].(map[string]any); len(got) != 1 || !ok || p["title"] != "" {
			t.Errorf("a supervisee placed by assignment: %v", got)
		}
		// None: 400, which the page takes for "No current supervisees".
		uploaded(t, "/supervisor/info", "supervisors.csv", legacySupervisorsCSV+"SV3,Dr Cy Three,Lecturer,EECS,sup3@qmul.example.ac.uk,sup3,supervisor three pw,3\n")
		sup3, _ := lc.signIn("sup3@qmul.example.ac.uk", "supervisor three pw")
		if r := lc.do("GET", "/supervisor/supervisees", sup3, nil); r.Status != 400 || !strings.Contains(r.Raw, "No supervisees found") {
			t.Errorf("no supervisees: %d %s", r.Status, r.Raw)
		}
	})
	supOverview := func(tok string) map[string]any {
		return lc.expect(lc.do("GET", "/supervisor/overview", tok, nil), 200).obj()
	}
	t.Run("C17 GET /supervisor/overview", func(t *testing.T) {
		got := supOverview(sup1)
		students, _ := got["students"].([]any)
		slots, _ := got["slots"].(float64)
		_, areasText := got["areas"].(string)
		_, infoText := got["info"].(string)
		_, projects := got["projects"].([]any)
		if str(got, "email") != "sup1@qmul.example.ac.uk" || str(got, "name") != "Dr Ada Byron" || str(got, "id") != "SV1" ||
			slots != 2 || len(students) != 1 || !areasText || !infoText || !projects {
			t.Errorf("the supervisor's overview: %v", got)
		}
		lc.expect(lc.do("GET", "/supervisor/overview", stu1, nil), 403)
	})
	t.Run("C18 POST /supervisor/project_info", func(t *testing.T) {
		// The form as it comes: one project row, left blank.
		lc.expect(lc.do("POST", "/supervisor/project_info", sup1, map[string]any{"areas": "Databases, Query processing", "info": "Office 3.14",
			"projects": []map[string]string{{"title": "", "description": ""}}}), 200)
		got := supOverview(sup1)
		if str(got, "areas") != "Databases, Query processing" || str(got, "info") != "Office 3.14" || len(got["projects"].([]any)) != 0 {
			t.Errorf("after the blank row: %v", got)
		}
		lc.expect(lc.do("POST", "/supervisor/project_info", sup1, map[string]any{"areas": "Databases", "info": "Office 3.14",
			"projects": []map[string]string{{"title": "Learned indexes", "description": "Smaller, faster"}, {"title": "", "description": ""}}}), 200)
		got = supOverview(sup1)
		ps, _ := got["projects"].([]any)
		if len(ps) != 1 || str(ps[0].(map[string]any), "title") != "Learned indexes" || str(ps[0].(map[string]any), "description") != "Smaller, faster" {
			t.Errorf("the projects: %v", got)
		}
		// The directory shows it too.
		for _, sv := range lc.expect(lc.do("GET", "/supervisor/all", stu2, nil), 200).arr() {
			if str(sv, "email") == "sup1@qmul.example.ac.uk" && str(sv, "areas") != "Databases" {
				t.Errorf("the directory's entry: %v", sv)
			}
		}
		if r := lc.do("POST", "/supervisor/project_info", sup1, map[string]any{"areas": "x", "info": "y", "projects": []map[string]string{{"title": "", "description": "no title"}}}); r.Status != 400 {
			t.Errorf("a project without a title: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("C19 GET /supervisor/info", func(t *testing.T) {
		got := lc.expect(lc.do("GET", "/supervisor/info", sup1, nil), 200).obj()
		if str(got, "email") != "sup1@qmul.example.ac.uk" {
			t.Errorf("the supervisor's info: %v", got)
		}
	})
	t.Run("C06 POST /secondary_examiner/info", func(t *testing.T) {
		uploaded(t, "/secondary_examiner/info", "secondary_examiner_assignment.csv", legacyExaminerAssignmentCSV)
		if ex := sub(overview(stu1), "second_examiner"); str(ex, "name") != "Dr Eve Exam" || str(ex, "email") != "ex1@qmul.example.ac.uk" {
			t.Errorf("the second examiner: %v", ex)
		}
	})
	t.Run("C07 POST /supervisor/final_grades", func(t *testing.T) {
		// A mark, and a grade in words for the student placed by assignment.
		grades := "Student Id,Student Email,Student Name,Final Grade,Feedback\nST1,s1@qmul.example.ac.uk,Sam One,72,Well argued\n" +
			"ST3,s3@qmul.example.ac.uk,Uma Three,Merit,Steady work\n"
		uploaded(t, "/supervisor/final_grades", "final_grades.csv", grades)
		if got := overview(stu1); str(got, "final_grade") != "72" || str(got, "feedback") != "Well argued" {
			t.Errorf("the released grade: %v", got)
		}
		stu3, _ := lc.signIn("s3@qmul.example.ac.uk", "student three pw")
		if got := overview(stu3); str(got, "final_grade") != "Merit" || str(got, "feedback") != "Steady work" {
			t.Errorf("the released grade in words: %v", got)
		}
		// A student not placed, and half a mark: refused rows, so not 200.
		r := lc.upload(admin, "/supervisor/final_grades", "final_grades.csv", []byte("Student Id,Student Email,Student Name,Final Grade,Feedback\n"+
			"ST2,s2@qmul.example.ac.uk,Tia Two,60,x\nST1,s1@qmul.example.ac.uk,Sam One,72.5,x\n"))
		if r.Status != 400 || !strings.Contains(r.Raw, "line 2:") || !strings.Contains(r.Raw, "line 3:") {
			t.Errorf("bad grade rows: %d %s", r.Status, r.Raw)
		}
		if got := overview(stu1); str(got, "final_grade") != "72" {
			t.Errorf("a refused row changed the grade: %v", got)
		}
	})
	t.Run("C10 GET /student/overview", func(t *testing.T) {
		got := overview(stu1)
		sup, ex, p := sub(got, "supervisor"), sub(got, "second_examiner"), sub(got, "project")
		if str(got, "id") != "ST1" || str(sup, "name") != "Dr Ada Byron" || str(sup, "email") != "sup1@qmul.example.ac.uk" ||
			str(ex, "email") != "ex1@qmul.example.ac.uk" || str(got, "final_grade") == "" || str(p, "title") != "Query planners" {
			t.Errorf("the overview: %v", got)
		}
		// Unplaced and ungraded: the fields the pages read are there, null.
		got = overview(stu2)
		for _, k := range []string{"supervisor", "second_examiner", "final_grade", "feedback"} {
			if v, ok := got[k]; !ok || v != nil {
				t.Errorf("%s of an unplaced student: %v (present: %v)", k, v, ok)
			}
		}
		if p, ok := got["project"].(map[string]any); !ok || p["title"] != "" {
			t.Errorf("the project of a student with no project info: %v", got["project"])
		}
		lc.expect(lc.do("GET", "/student/overview", sup1, nil), 403)
		lc.expect(lc.do("GET", "/student/overview", exam, nil), 403)
	})
}
