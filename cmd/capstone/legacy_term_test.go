package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLegacyWholeTerm runs a term through the original routes alone, in
// the original system's order, on the all-in-one service: every read right
// after the write it must show, with nothing asked for and no waiting.
func TestLegacyWholeTerm(t *testing.T) {
	s, lc := startLegacy(t)
	legacyTerm(t, s, lc)
}

// TestLegacyWholeTermSplit: the same term with the projectors in another
// app on the Pub/Sub emulator, as in a deployment: every write answers only
// once what the page reloads next shows it.
func TestLegacyWholeTermSplit(t *testing.T) {
	api, startProjector := startSplit(t, "--legacy-addr", "127.0.0.1:0")
	startProjector()
	legacyTerm(t, api, legacyFor(t, api))
}

// termPerson is someone of the term: their e-mail, password, code and token.
type termPerson struct {
	email, password, code, name, token string
}

// legacyTerm is a term in the original's order: the coordinator uploads
// the cohort, supervisors write their profiles, students their project
// info and shortlists, students propose, supervisors decide (up to their
// capacity), the coordinator assigns the rest, then the examiners and the
// grades; and every overview shows what the term did.
func legacyTerm(t *testing.T, s *service, lc legacyClient) {
	rng := seeded(t, 7)
	admin, _ := lc.signIn(adminEmail, adminPassword)

	// Uploads.
	newPeople := func(n int, kind, code string) []*termPerson {
		out := make([]*termPerson, n)
		for i := range out {
			out[i] = &termPerson{email: fmt.Sprintf("term-%s%02d@qmul.example.ac.uk", kind, i), password: fmt.Sprintf("term %s %d pw", kind, i),
				code: fmt.Sprintf("%s%d", code, 9000+i), name: fmt.Sprintf("Term %s %02d", kind, i)}
		}
		return out
	}
	sups, exams, stus := newPeople(5, "supervisor", "SV"), newPeople(2, "examiner", "EX"), newPeople(12, "student", "ST")
	capacity := map[string]int{}
	supCSV := "Supervisor Code,Name,Position,Department,QM Email,Username,Password,Slots\n"
	for i, p := range sups {
		capacity[p.email] = 1 + rng.IntN(3)
		supCSV += fmt.Sprintf("%s,%s,Lecturer,EECS,%s,tsup%d,%s,%d\n", p.code, p.name, p.email, i, p.password, capacity[p.email])
	}
	examCSV := "Examiner Code,Name,Position,Department,QM Email,Username,Password\n"
	for i, p := range exams {
		examCSV += fmt.Sprintf("%s,%s,Reader,EECS,%s,tex%d,%s\n", p.code, p.name, p.email, i, p.password)
	}
	stuCSV := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"
	for i, p := range stus {
		stuCSV += fmt.Sprintf("%s,%s,Enrolled,MSc,Full-time,2026-09-21,%s,ts%d,%s\n", p.code, p.name, p.email, i, p.password)
	}
	for _, f := range []struct{ path, csv string }{{"/supervisor/info", supCSV}, {"/examiner/info", examCSV}, {"/student/info", stuCSV}} {
		lc.expect(lc.upload(admin, f.path, "upload.csv", []byte(f.csv)), 200)
	}
	if got := lc.expect(lc.do("GET", "/student/all", admin, nil), 200).arr(); len(got) != len(stus) {
		t.Fatalf("right after the upload, the user list has %d students, want %d", len(got), len(stus))
	}
	for _, p := range append(append(slices.Clone(sups), exams...), stus...) {
		p.token, _ = lc.signIn(p.email, p.password) // with the password of the file
	}
	if s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": stus[0].email, "password": stus[0].password}).Status != 200 {
		t.Error("a student of the file cannot sign in through /v1")
	}

	// Profiles.
	for i, p := range sups {
		areas := fmt.Sprintf("Area %d, Area %d", i, i+1)
		lc.expect(lc.do("POST", "/supervisor/project_info", p.token, map[string]any{"areas": areas, "info": "Room " + p.code,
			"projects": []map[string]string{{"title": "Idea of " + p.name, "description": "d"}, {"title": "", "description": ""}}}), 200)
		got := lc.expect(lc.do("GET", "/supervisor/overview", p.token, nil), 200).obj()
		if str(got, "areas") != areas || str(got, "info") != "Room "+p.code || str(got, "id") != p.code || len(got["projects"].([]any)) != 1 {
			t.Fatalf("right after writing the profile: %v", got)
		}
	}
	for _, p := range stus {
		lc.expect(lc.do("POST", "/student/project_info", p.token, map[string]string{"title": "Work of " + p.name, "description": "About it"}), 200)
		if pr := sub(lc.expect(lc.do("GET", "/student/overview", p.token, nil), 200).obj(), "project"); str(pr, "title") != "Work of "+p.name {
			t.Fatalf("right after writing the project info: %v", pr)
		}
	}

	// Shortlists.
	shortlisted := map[string][]string{}
	for _, p := range stus {
		n := 1 + rng.IntN(len(sups))
		body := map[string]any{}
		for i, j := range rng.Perm(len(sups))[:n] {
			body[fmt.Sprint("supervisor_", i+1)] = sups[j].email
			shortlisted[p.email] = append(shortlisted[p.email], sups[j].email)
		}
		for i := n; i < 5; i++ {
			body[fmt.Sprint("supervisor_", i+1)] = "noEmail"
		}
		lc.expect(lc.do("POST", "/student/shortlist", p.token, body), 200)
		got := lc.expect(lc.do("GET", "/student/shortlist", p.token, nil), 200).obj()
		for i := range 5 {
			want := any(nil)
			if i < n {
				want = shortlisted[p.email][i]
			}
			if got[fmt.Sprint("supervisor_", i+1)] != want {
				t.Fatalf("right after the shortlist, supervisor_%d is %v, want %v", i+1, got[fmt.Sprint("supervisor_", i+1)], want)
			}
		}
	}

	// Proposals, to one or two of the shortlisted.
	proposedTo := map[string][]string{}
	for _, p := range stus {
		list := shortlisted[p.email]
		for _, sup := range list[:min(len(list), 1+rng.IntN(2))] {
			lc.expect(lc.do("POST", "/student/project_proposal", p.token, map[string]string{"supervisor_email": sup,
				"title": "Proposal of " + p.name + " to " + sup, "aim": "Aim", "rationale": "Why"}), 200)
			if got := lc.expect(lc.do("GET", "/student/project_proposal/"+sup, p.token, nil), 200).obj(); str(got, "status") != "pending" {
				t.Fatalf("right after proposing: %v", got)
			}
			proposedTo[sup] = append(proposedTo[sup], p.email)
		}
	}

	// Decisions: each supervisor accepts while they have places, in the
	// order the proposals came; a student placed already, or a full
	// supervisor, is refused and then rejected.
	placed := map[string]string{}
	token := map[string]string{}
	for _, p := range append(append(slices.Clone(sups), exams...), stus...) {
		token[p.email] = p.token
	}
	refusedFull := 0
	for _, sup := range sups {
		pending := lc.expect(lc.do("GET", "/supervisor/pending_proposals", sup.token, nil), 200).arr()
		if len(pending) != len(proposedTo[sup.email]) {
			t.Fatalf("%s has %d pending proposals, want %d", sup.email, len(pending), len(proposedTo[sup.email]))
		}
		for _, pr := range pending {
			student := str(sub(pr, "student_info"), "email")
			taken := 0
			for _, by := range placed {
				if by == sup.email {
					taken++
				}
			}
			decide := func(status string) lresp {
				return lc.do("POST", "/supervisor/pending_proposal", sup.token, map[string]string{"student_email": student, "status": status, "comment": status + " by " + sup.name})
			}
			status := "rejected"
			if placed[student] == "" {
				r := decide("accepted")
				switch {
				case taken < capacity[sup.email] && r.Status == 200:
					placed[student], status = sup.email, "accepted"
				case taken >= capacity[sup.email] && r.Status == 400:
					refusedFull++
				default:
					t.Fatalf("accepting %s with %d of %d places taken: %d %s", student, taken, capacity[sup.email], r.Status, r.Raw)
				}
			}
			if status == "rejected" {
				lc.expect(decide("rejected"), 200)
			}
			form := lc.expect(lc.do("GET", "/student/project_proposal/"+sup.email, token[student], nil), 200).obj()
			if str(form, "status") != status || str(form, "comment") != status+" by "+sup.name {
				t.Fatalf("right after the decision (%s), the student's form: %v", status, form)
			}
		}
		if left := lc.expect(lc.do("GET", "/supervisor/pending_proposals", sup.token, nil), 200).arr(); len(left) != 0 {
			t.Fatalf("right after deciding all, %s still has %v", sup.email, left)
		}
	}
	t.Logf("%d placed by proposal, %d acceptances refused for want of places", len(placed), refusedFull)

	// The coordinator assigns the others while places remain.
	assign := "Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n"
	for _, p := range stus {
		if placed[p.email] != "" {
			continue
		}
		for _, sup := range sups {
			taken := 0
			for _, by := range placed {
				if by == sup.email {
					taken++
				}
			}
			if taken < capacity[sup.email] {
				placed[p.email] = sup.email
				assign += fmt.Sprintf("%s,%s,%s,%s,%s,%s\n", p.code, p.email, p.name, sup.code, sup.email, sup.name)
				break
			}
		}
	}
	lc.expect(lc.upload(admin, "/supervisor/assignment_info", "assignment.csv", []byte(assign)), 200)

	// Second examiners, then grades, for everyone placed.
	examinerOf := map[string]*termPerson{}
	examCSV2 := "Student Id,Student Email,Student Name,Secondary Examiner Id,Secondary Examiner Email,Secondary Examiner Name\n"
	gradeCSV := "Student Id,Student Email,Student Name,Final Grade,Feedback\n"
	gradeOf := map[string]string{}
	labels := []string{"A", "B+", "Pass", "Distinction"}
	for i, p := range stus {
		if placed[p.email] == "" {
			continue
		}
		ex := exams[i%len(exams)]
		examinerOf[p.email] = ex
		examCSV2 += fmt.Sprintf("%s,%s,%s,%s,%s,%s\n", p.code, p.email, p.name, ex.code, ex.email, ex.name)
		gradeOf[p.email] = fmt.Sprint(40 + rng.IntN(60))
		if i%3 == 0 {
			gradeOf[p.email] = labels[rng.IntN(len(labels))]
		}
		gradeCSV += fmt.Sprintf("%s,%s,%s,%s,Feedback for %s\n", p.code, p.email, p.name, gradeOf[p.email], p.name)
	}
	lc.expect(lc.upload(admin, "/secondary_examiner/info", "secondary_examiner_assignment.csv", []byte(examCSV2)), 200)
	lc.expect(lc.upload(admin, "/supervisor/final_grades", "final_grades.csv", []byte(gradeCSV)), 200)

	// Overviews: each student's, each supervisor's, the directory, the user list.
	names := map[string]string{}
	for _, p := range append(slices.Clone(sups), exams...) {
		names[p.email] = p.name
	}
	for _, p := range stus {
		got := lc.expect(lc.do("GET", "/student/overview", p.token, nil), 200).obj()
		sup, ex := sub(got, "supervisor"), sub(got, "second_examiner")
		if str(got, "id") != p.code || str(sup, "email") != placed[p.email] || str(sup, "name") != names[placed[p.email]] {
			t.Errorf("%s's overview: supervisor %v, want %s", p.email, sup, placed[p.email])
		}
		if placed[p.email] == "" {
			continue
		}
		if str(ex, "email") != examinerOf[p.email].email || str(got, "final_grade") != gradeOf[p.email] || str(got, "feedback") != "Feedback for "+p.name {
			t.Errorf("%s's overview: examiner %v, grade %v %v, want %s, %q", p.email, ex, got["final_grade"], got["feedback"], examinerOf[p.email].email, gradeOf[p.email])
		}
	}
	directory := map[string]map[string]any{}
	for _, sv := range lc.expect(lc.do("GET", "/supervisor/all", stus[0].token, nil), 200).arr() {
		directory[str(sv, "email")] = sv
	}
	for _, sup := range sups {
		var want []string
		for stu, by := range placed {
			if by == sup.email {
				want = append(want, stu)
			}
		}
		slices.Sort(want)
		var got []string
		r := lc.do("GET", "/supervisor/supervisees", sup.token, nil)
		if len(want) == 0 {
			lc.expect(r, 400)
		} else {
			for _, st := range lc.expect(r, 200).arr() {
				got = append(got, str(st, "email"))
				if str(sub(st, "project"), "title") == "" && !strings.Contains(assign, str(st, "email")) {
					t.Errorf("%s's supervisee %s, placed by proposal, shows no project", sup.email, str(st, "email"))
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s's supervisees: %v, want %v", sup.email, got, want)
		}
		sv := directory[sup.email]
		if n, _ := sv["slots"].(float64); int(n) != capacity[sup.email] || len(sv["students"].([]any)) != len(want) {
			t.Errorf("%s in the directory: %v, want %d slots and %d taken", sup.email, sv, capacity[sup.email], len(want))
		}
		if ov := lc.expect(lc.do("GET", "/supervisor/overview", sup.token, nil), 200).obj(); len(ov["students"].([]any)) != len(want) {
			t.Errorf("%s's overview lists %v", sup.email, ov["students"])
		}
	}

	// Every write is in the history, with who made it and in which request.
	coordinator := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	stu := stus[0]
	stuID := s.expect(s.do("GET", "/v1/users?email="+stu.email, admin, nil), 200).items()[0]["id"]
	hist := s.expect(s.do("GET", fmt.Sprint("/v1/users/", stuID, "/history"), admin, nil), 200).items()
	if hist[0]["type"] != "UserCreated" || sub(hist[0], "actor")["user_id"] != coordinator || hist[0]["correlation_id"] == "" {
		t.Errorf("the history of an uploaded student: %v", hist[0])
	}
	projects := s.expect(s.do("GET", fmt.Sprint("/v1/projects?student_id=", stuID, "&status=accepted"), admin, nil), 200).items()
	if placedBy := placed[stu.email]; len(projects) == 1 && !strings.Contains(assign, stu.email) {
		ph := s.expect(s.do("GET", fmt.Sprint("/v1/projects/", projects[0]["id"], "/history"), admin, nil), 200).items()
		byType := map[string]map[string]any{}
		for _, e := range ph {
			byType[fmt.Sprint(e["type"])] = e
		}
		supID := s.expect(s.do("GET", "/v1/users?email="+placedBy, admin, nil), 200).items()[0]["id"]
		if sub(byType["ProjectCreated"], "actor")["user_id"] != stuID || sub(byType["ProposalAccepted"], "actor")["user_id"] != supID ||
			byType["ProposalAccepted"]["correlation_id"] == "" {
			t.Errorf("the history of a proposal accepted through the original routes: %v", ph)
		}
	}
}
