package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// caller is one column of the authorization table.
type azCaller int

const (
	azNobody       azCaller = iota // no token
	azCoordinator                  // the bootstrap admin
	azSupervisor                   // the project's supervisor (and student A's)
	azOtherSup                     // a supervisor with no tie to the project
	azExaminer                     // the project's (and student A's) second examiner
	azOwner                        // student A: the project's owner, "self" for users/students routes
	azOtherStudent                 // student B
	azNCallers
)

var azCallerNames = [azNCallers]string{"nobody", "coordinator", "supervisor", "other-supervisor", "examiner", "student(owner/self)", "other-student"}

func (c azCaller) String() string { return azCallerNames[c] }

// authzCall is the request one caller sends for one row.
type authzCall struct {
	path string
	body any    // JSON body (nil: none)
	csv  []byte // when set, sent as multipart/form-data field "file" instead of body
	// as, when set, replaces the caller's token (a fresh user acting on itself).
	as string
	// after runs when the call answered 2xx (to undo a side effect).
	after func()
}

// authzRow is one registered route: who gets which status, and what each
// caller sends.
type authzRow struct {
	method, path string // exactly as (*api.Server).Routes() lists it
	want         [azNCallers]int
	call         func(c azCaller) authzCall
}

func (r authzRow) key() string { return r.method + " " + r.path }

// Shorthands for the expected statuses.
const (
	az200 = http.StatusOK
	az201 = http.StatusCreated
	az204 = http.StatusNoContent
	az401 = http.StatusUnauthorized
	az403 = http.StatusForbidden
	az404 = http.StatusNotFound
)

// same is the same status for every caller.
func azSame(status int) [azNCallers]int {
	var w [azNCallers]int
	for i := range w {
		w[i] = status
	}
	return w
}

// only gives ok to the callers listed, 401 to nobody and 403 to the rest.
func azOnly(ok int, who ...azCaller) [azNCallers]int {
	w := azSame(az403)
	w[azNobody] = az401
	for _, c := range who {
		w[c] = ok
	}
	return w
}

// TestAuthorizationTable checks, for every registered route and every kind
// of caller, the exact status api/openapi.json promises: 401 without a token on every
// protected route, 403 for a caller not allowed, 404 where existence is
// private, and success for those allowed (with a valid body, so the status
// reflects authorization, not validation). A route registered without a row,
// or a row for a route not registered, fails the test.
func TestAuthorizationTable(t *testing.T) {
	// Student A creates a project for many rows; the limit on open
	// projects is not what this table is about.
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--max-open-projects", "0")
	// Routes rebuilds the router: list them before any request is in flight.
	registered := s.app.API.Routes()

	admin := s.admin()
	const pw = "authz table password"
	sup1 := s.createUser(admin, "authz-sup1@uni.example", "Dr Sup One", []string{"supervisor"}, pw)
	sup2 := s.createUser(admin, "authz-sup2@uni.example", "Dr Sup Two", []string{"supervisor"}, pw)
	exam := s.createUser(admin, "authz-exam@uni.example", "Dr Exam", []string{"examiner"}, pw)
	stuA := s.createUser(admin, "authz-a@uni.example", "Student A", []string{"student"}, pw)
	s.createUser(admin, "authz-b@uni.example", "Student B", []string{"student"}, pw)
	s.createUser(admin, "authz-signin@uni.example", "Signs In", []string{"student"}, pw)
	for _, id := range []string{sup1, sup2} {
		s.expect(s.do("PUT", "/v1/supervisors/"+id+"/profile", admin, map[string]any{"areas": []string{"Systems"}, "info": "", "project_ideas": []any{}, "capacity": 10}), 200)
	}
	emails := [azNCallers]string{"", adminEmail, "authz-sup1@uni.example", "authz-sup2@uni.example", "authz-exam@uni.example", "authz-a@uni.example", "authz-b@uni.example"}
	passwords := [azNCallers]string{"", adminPassword, pw, pw, pw, pw, pw}
	var tokens [azNCallers]string
	tokens[azCoordinator] = admin
	for c := azSupervisor; c < azNCallers; c++ {
		tokens[c] = s.signIn(emails[c], passwords[c])
	}

	// newProject creates a project of student A submitted to supervisor 1,
	// with the examiner; rejected leaves it rejected (so it can be submitted).
	newProject := func(title string, rejected bool) string {
		t.Helper()
		id := s.expect(s.do("POST", "/v1/projects", tokens[azOwner], map[string]string{"title": title, "supervisor_id": sup1}), 201).str("id")
		s.expect(s.do("PUT", "/v1/projects/"+id+"/examiner", admin, map[string]string{"examiner_id": exam}), 200)
		if rejected {
			s.expect(s.do("POST", "/v1/projects/"+id+"/decision", tokens[azSupervisor], map[string]string{"decision": "reject", "comment": "again"}), 200)
		}
		return id
	}
	// Student A is placed with supervisor 1 (so supervisor 1 is "their
	// supervisor") through an accepted project, which the examiner examines
	// (so both mark it); another project of theirs is submitted to
	// supervisor 1, with the examiner as its second examiner.
	marked := newProject("The marked project", false)
	s.expect(s.do("POST", "/v1/projects/"+marked+"/decision", tokens[azSupervisor], map[string]string{"decision": "accept"}), 200)
	proj := newProject("The project", false)

	// newUser creates a fresh student with a password; it returns the id and
	// a token of theirs.
	n := 0
	newUser := func() (string, string) {
		t.Helper()
		n++
		email := fmt.Sprintf("authz-fresh%d@uni.example", n)
		id := s.createUser(admin, email, "Fresh", []string{"student"}, pw)
		return id, s.signIn(email, pw)
	}
	// newPasswordToken issues a set-password token for a fresh user without a password.
	newPasswordToken := func() string {
		t.Helper()
		n++
		id := s.createUser(admin, fmt.Sprintf("authz-nopw%d@uni.example", n), "No Password", []string{"student"}, "")
		return s.expect(s.do("POST", "/v1/users/"+id+"/password-token", admin, nil), 201).str("token")
	}
	// acceptedProject gives a fresh student a project accepted by
	// supervisor 1 and examined by the examiner; marks, when given, are
	// the supervisor's and the examiner's.
	acceptedProject := func(marks ...int) string {
		t.Helper()
		_, tok := newUser()
		id := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Another student's", "supervisor_id": sup1}), 201).str("id")
		s.expect(s.do("POST", "/v1/projects/"+id+"/decision", tokens[azSupervisor], map[string]string{"decision": "accept"}), 200)
		s.expect(s.do("PUT", "/v1/projects/"+id+"/examiner", admin, map[string]string{"examiner_id": exam}), 200)
		for i, m := range marks {
			s.expect(s.do("PUT", "/v1/projects/"+id+"/mark", tokens[[]azCaller{azSupervisor, azExaminer}[i]], map[string]any{"mark": m}), 200)
		}
		return id
	}

	toMark, apart, graded := acceptedProject(), acceptedProject(20, 90), acceptedProject()

	// Student A has written their project info (a draft of theirs).
	s.expect(s.do("PUT", "/v1/students/"+stuA+"/project-info", tokens[azOwner], map[string]string{"title": "What I work on"}), 200)

	waitFor(t, "the read models of the cohort", func() bool {
		st := s.do("GET", "/v1/students/"+stuA, admin, nil)
		return s.do("GET", "/v1/projects/"+proj, tokens[azExaminer], nil).Status == 200 &&
			st.str("supervisor_id") == sup1 && st.str("examiner_id") == exam &&
			s.do("GET", "/v1/supervisors/"+sup1, admin, nil).Status == 200 &&
			s.do("GET", "/v1/supervisors/"+sup2, admin, nil).Status == 200 &&
			s.do("GET", "/v1/users/"+stuA, tokens[azOwner], nil).Status == 200
	})

	fixed := func(path string, body any) func(azCaller) authzCall {
		return func(azCaller) authzCall { return authzCall{path: path, body: body} }
	}
	studentsCSV := []byte("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n" +
		"ST990001,Imported Student,Enrolled,MSc Computer Science,Full-time,2026-09-21,authz-imported@uni.example,authzimp,\n")

	table := []authzRow{
		// Public routes.
		{"GET", "/healthz", azSame(az200), fixed("/healthz", nil)},
		{"GET", "/readyz", azSame(az200), fixed("/readyz", nil)},
		{"GET", "/metrics", azSame(az200), fixed("/metrics", nil)},
		{"GET", "/openapi.json", azSame(az200), fixed("/openapi.json", nil)},
		{"POST", "/v1/auth/sign-in", azSame(az200), fixed("/v1/auth/sign-in", map[string]string{"email": "authz-signin@uni.example", "password": pw})},
		// The holder of a set-password token, whoever else they are: a fresh token each.
		{"POST", "/v1/auth/set-password", azSame(az200), func(azCaller) authzCall {
			return authzCall{path: "/v1/auth/set-password", body: map[string]string{"token": newPasswordToken(), "password": "a brand new password"}}
		}},

		// Any user.
		{"GET", "/v1/me", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), fixed("/v1/me", nil)},
		{"PUT", "/v1/me/password", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), func(c azCaller) authzCall {
			cur, next := passwords[c]+"?", "a changed password"
			if c != azNobody {
				cur = passwords[c]
			}
			return authzCall{path: "/v1/me/password", body: map[string]string{"current_password": cur, "new_password": next},
				after: func() { // put the password back, and sign in again (the change ended the token), for the next rows
					tok := s.signIn(emails[c], next)
					s.expect(s.do("PUT", "/v1/me/password", tok, map[string]string{"current_password": next, "new_password": passwords[c]}), 200)
					tokens[c] = s.signIn(emails[c], passwords[c])
					if c == azCoordinator {
						admin = tokens[c]
					}
				}}
		}},
		// A fresh token each, signed out.
		{"POST", "/v1/auth/sign-out", azOnly(az204, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), func(c azCaller) authzCall {
			call := authzCall{path: "/v1/auth/sign-out"}
			if c != azNobody {
				call.as = s.signIn(emails[c], passwords[c])
			}
			return call
		}},

		// Users.
		{"POST", "/v1/users", azOnly(az201, azCoordinator), func(c azCaller) authzCall {
			return authzCall{path: "/v1/users", body: map[string]any{"email": fmt.Sprintf("authz-created-%d@uni.example", c), "name": "Created", "roles": []string{"student"}}}
		}},
		{"GET", "/v1/users", azOnly(az200, azCoordinator), fixed("/v1/users", nil)},
		{"GET", "/v1/users/{id}", [azNCallers]int{az401, az200, az404, az404, az404, az200, az404}, fixed("/v1/users/"+stuA, nil)},
		{"PATCH", "/v1/users/{id}", [azNCallers]int{az401, az200, az404, az404, az404, az200, az404}, fixed("/v1/users/"+stuA, map[string]string{"name": "Student A"})},
		// A fresh target per caller; "self" is a fresh student deleting themselves.
		{"DELETE", "/v1/users/{id}", azOnly(az204, azCoordinator), func(c azCaller) authzCall {
			id, tok := newUser()
			if c == azOwner {
				return authzCall{path: "/v1/users/" + id, as: tok}
			}
			return authzCall{path: "/v1/users/" + id}
		}},
		{"GET", "/v1/users/{id}/history", [azNCallers]int{az401, az200, az404, az404, az404, az200, az404}, fixed("/v1/users/"+stuA+"/history", nil)},
		{"POST", "/v1/users/{id}/password-token", azOnly(az201, azCoordinator), fixed("/v1/users/"+stuA+"/password-token", nil)},

		// Supervisors and students.
		{"GET", "/v1/supervisors", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), fixed("/v1/supervisors", nil)},
		{"GET", "/v1/supervisors/{id}", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), fixed("/v1/supervisors/"+sup1, nil)},
		{"PUT", "/v1/supervisors/{id}/profile", azOnly(az200, azCoordinator, azSupervisor),
			fixed("/v1/supervisors/"+sup1+"/profile", map[string]any{"areas": []string{"Systems", "Networks"}, "info": "Office 1", "project_ideas": []map[string]string{{"title": "Fast RPC", "description": "d"}}})},
		{"GET", "/v1/students/{id}", [azNCallers]int{az401, az200, az200, az404, az200, az200, az404}, fixed("/v1/students/"+stuA, nil)},
		{"PUT", "/v1/students/{id}/preferences", azOnly(az200, azOwner), fixed("/v1/students/"+stuA+"/preferences", map[string]any{"supervisor_ids": []string{sup1, sup2}})},
		// A draft: its student's and the coordinators'; to anyone else as if there were none.
		{"GET", "/v1/students/{id}/project-info", [azNCallers]int{az401, az200, az404, az404, az404, az200, az404}, fixed("/v1/students/"+stuA+"/project-info", nil)},
		{"PUT", "/v1/students/{id}/project-info", azOnly(az200, azOwner), fixed("/v1/students/"+stuA+"/project-info", map[string]string{"title": "What I work on", "description": "more"})},
		// Every signed-in user, each seeing the supervisees whose placement they may see.
		{"GET", "/v1/supervisors/{id}/supervisees", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), fixed("/v1/supervisors/"+sup1+"/supervisees", nil)},

		// Projects.
		{"POST", "/v1/projects", azOnly(az201, azOwner, azOtherStudent), fixed("/v1/projects", map[string]string{"title": "A draft", "aim": "to be allowed"})},
		{"GET", "/v1/projects", azOnly(az200, azCoordinator, azSupervisor, azOtherSup, azExaminer, azOwner, azOtherStudent), fixed("/v1/projects", nil)},
		{"GET", "/v1/projects/{id}", [azNCallers]int{az401, az200, az200, az404, az200, az200, az404}, fixed("/v1/projects/"+proj, nil)},
		// Visible but not theirs to edit: 403; not visible: 404.
		{"PATCH", "/v1/projects/{id}", [azNCallers]int{az401, az200, az403, az404, az403, az200, az404}, fixed("/v1/projects/"+proj, map[string]string{"description": "edited"})},
		{"DELETE", "/v1/projects/{id}", [azNCallers]int{az401, az204, az403, az404, az403, az204, az404}, func(c azCaller) authzCall {
			return authzCall{path: "/v1/projects/" + newProject(fmt.Sprintf("To withdraw (%s)", c), false)}
		}},
		{"GET", "/v1/projects/{id}/history", [azNCallers]int{az401, az200, az200, az404, az200, az200, az404}, fixed("/v1/projects/"+proj+"/history", nil)},
		// A rejected project (still showing supervisor 1 and the examiner), a fresh one each.
		{"POST", "/v1/projects/{id}/submit", [azNCallers]int{az401, az403, az403, az403, az403, az200, az404}, func(c azCaller) authzCall {
			return authzCall{path: "/v1/projects/" + newProject(fmt.Sprintf("To resubmit (%s)", c), true) + "/submit", body: map[string]string{"supervisor_id": sup1}}
		}},
		// Only the supervisor it was proposed to; a supervisor who cannot see it gets 404.
		{"POST", "/v1/projects/{id}/decision", [azNCallers]int{az401, az403, az200, az404, az403, az403, az403}, func(c azCaller) authzCall {
			return authzCall{path: "/v1/projects/" + newProject(fmt.Sprintf("To decide (%s)", c), false) + "/decision", body: map[string]string{"decision": "reject", "comment": "Too broad"}}
		}},
		{"PUT", "/v1/projects/{id}/examiner", azOnly(az200, azCoordinator), fixed("/v1/projects/"+proj+"/examiner", map[string]string{"examiner_id": exam})},

		// Marking (on accepted projects of other students: student A, and
		// other students, lack a marker's role anyway).
		{"PUT", "/v1/projects/{id}/grade", azOnly(az200, azCoordinator), fixed("/v1/projects/"+graded+"/grade", map[string]any{"grade": 68, "feedback": "Solid"})},
		{"PUT", "/v1/projects/{id}/mark", [azNCallers]int{az401, az403, az200, az404, az200, az403, az403},
			fixed("/v1/projects/"+toMark+"/mark", map[string]any{"mark": 60, "feedback": "Fair"})},
		{"POST", "/v1/projects/{id}/moderation", azOnly(az200, azCoordinator), fixed("/v1/projects/"+apart+"/moderation", map[string]any{"mark": 55, "comment": "Read again"})},
		{"GET", "/v1/marking", azOnly(az200, azCoordinator), fixed("/v1/marking", nil)},
		{"PUT", "/v1/marking/threshold", azOnly(az200, azCoordinator), fixed("/v1/marking/threshold", map[string]any{"threshold": 12})},
		{"POST", "/v1/marking/release", azOnly(az200, azCoordinator), fixed("/v1/marking/release", nil)},
		{"GET", "/v1/me/marking", [azNCallers]int{az401, az403, az200, az200, az200, az403, az403}, fixed("/v1/me/marking", nil)},

		// Coordinator only.
		{"POST", "/v1/imports/{kind}", azOnly(az200, azCoordinator), func(azCaller) authzCall {
			return authzCall{path: "/v1/imports/students", csv: studentsCSV}
		}},
		{"POST", "/v1/allocation", azOnly(az200, azCoordinator), fixed("/v1/allocation", map[string]any{"dry_run": true})},
		{"GET", "/v1/exports/{name}.csv", azOnly(az200, azCoordinator), fixed("/v1/exports/supervisor-assignments.csv", nil)},
		{"GET", "/v1/admin/projections", azOnly(az200, azCoordinator), fixed("/v1/admin/projections", nil)},
		// A verify run (it switches nothing). A second start while one runs
		// would be 409: the coordinator's call waits for any earlier rebuild,
		// and for its own to finish before the next rows.
		{"POST", "/v1/admin/projections/rebuild", azOnly(http.StatusAccepted, azCoordinator), func(c azCaller) authzCall {
			call := authzCall{path: "/v1/admin/projections/rebuild", body: map[string]any{"verify": true}}
			if c == azCoordinator {
				awaitRebuild(t, s, admin)
				call.after = func() { awaitRebuild(t, s, admin) }
			}
			return call
		}},
	}

	// The table and the registered routes must be the same set.
	var keys []string
	for _, r := range table {
		keys = append(keys, r.key())
	}
	routes := sameRoutes(t, registered, keys)

	var failed []string
	for _, row := range table {
		if !routes[row.key()] {
			continue
		}
		for c := azNobody; c < azNCallers; c++ {
			call := row.call(c)
			token := tokens[c]
			if call.as != "" {
				token = call.as
			}
			var r response
			if call.csv != nil {
				r = authzUpload(t, s, call.path, token, call.csv)
			} else {
				r = s.do(row.method, call.path, token, call.body)
			}
			want := row.want[c]
			cell := fmt.Sprintf("%s as %s", row.key(), c)
			switch {
			case r.Status != want:
				t.Errorf("%s (%s %s): status %d, want %d: %.300s", cell, row.method, call.path, r.Status, want, r.Raw)
				failed = append(failed, fmt.Sprintf("%s: got %d, want %d", cell, r.Status, want))
			case want >= 400 && r.Header.Get("Content-Type") != "application/problem+json":
				t.Errorf("%s: %d with content type %q, want application/problem+json", cell, r.Status, r.Header.Get("Content-Type"))
				failed = append(failed, cell+": not problem+json")
			}
			if call.after != nil && r.Status < 300 && c != azNobody {
				call.after()
			}
		}
	}
	t.Logf("%d rows x %d callers checked against %d registered routes", len(table), azNCallers, len(routes))
	if len(failed) > 0 {
		slices.Sort(failed)
		t.Logf("failing cells:\n  %s", strings.Join(failed, "\n  "))
	}

	checkBlindMarking(t, s, table, tokens, marked, stuA)
}

// checkBlindMarking walks student A's accepted project through marking and,
// after each step, asks every GET route of the table (and the paths that
// show this project's marks) as every caller: a mark's feedback, and the
// moderator's comment, must never reach a caller the marks table of
// docs/visibility.md does not give it to, and must reach each one it does.
// A new GET route is asked too, by its row, so it cannot leak unnoticed.
func checkBlindMarking(t *testing.T, s *service, table []authzRow, tokens [azNCallers]string, marked, stuA string) {
	t.Helper()
	secret := func(what string) string { return fmt.Sprintf("%s-%d", what, time.Now().UnixNano()) }
	sup, exa, mod := secret("supervisor-feedback"), secret("examiner-feedback"), secret("moderator-comment")
	extra := map[string][]string{
		"GET /v1/projects/{id}": {"/v1/projects/" + marked, "/v1/projects/" + marked + "?at_version=1000",
			"/v1/projects/" + marked + "?as_of=2100-01-01T00:00:00Z"},
		"GET /v1/projects/{id}/history": {"/v1/projects/" + marked + "/history"},
		"GET /v1/projects":              {"/v1/projects?status=accepted", "/v1/projects?student_id=" + stuA},
		"GET /v1/students/{id}":         {"/v1/students/" + stuA},
		"GET /v1/exports/{name}.csv":    {"/v1/exports/marks.csv", "/v1/exports/final-grades.csv"},
	}
	staff := []azCaller{azCoordinator, azSupervisor, azExaminer}
	scan := func(step string, seenBy map[string][]azCaller) {
		t.Helper()
		asked := 0
		for c := azNobody; c < azNCallers; c++ {
			seen := map[string]bool{}
			for _, row := range table {
				if row.method != "GET" {
					continue
				}
				for _, path := range append([]string{row.call(c).path}, extra[row.key()]...) {
					if strings.Contains(path, "at_version=1000") {
						path = strings.Replace(path, "1000", fmt.Sprint(s.expect(s.do("GET", "/v1/projects/"+marked, tokens[azCoordinator], nil), 200).num("version")), 1)
					}
					r := s.do("GET", path, tokens[c], nil)
					asked++
					for token, allowed := range seenBy {
						if !strings.Contains(r.Raw, token) {
							continue
						}
						seen[token] = true
						if !slices.Contains(allowed, c) {
							t.Errorf("%s: GET %s as %s shows %s", step, path, c, token)
						}
					}
				}
			}
			for token, allowed := range seenBy {
				if slices.Contains(allowed, c) && !seen[token] {
					t.Errorf("%s: no route shows %s to %s, who may see it", step, token, c)
				}
			}
		}
		t.Logf("%s: %d answers checked", step, asked)
	}
	put := func(c azCaller, path string, body any, method string) {
		t.Helper()
		r := s.expect(s.do(method, path, tokens[c], body), 200)
		if c == azSupervisor && strings.Contains(r.Raw, exa) {
			t.Errorf("the supervisor's write answer shows the examiner's mark: %s", r.Raw)
		}
	}

	put(azSupervisor, "/v1/projects/"+marked+"/mark", map[string]any{"mark": 30, "feedback": sup}, "PUT")
	scan("the supervisor's mark in", map[string][]azCaller{sup: {azCoordinator, azSupervisor}})
	put(azSupervisor, "/v1/projects/"+marked+"/mark", map[string]any{"mark": 31, "feedback": sup}, "PUT") // a revision
	put(azExaminer, "/v1/projects/"+marked+"/mark", map[string]any{"mark": 80, "feedback": exa}, "PUT")
	scan("both marks in, too far apart", map[string][]azCaller{sup: staff, exa: staff})
	put(azCoordinator, "/v1/projects/"+marked+"/moderation", map[string]any{"mark": 56, "comment": mod}, "POST")
	scan("moderated", map[string][]azCaller{sup: staff, exa: staff, mod: staff})
	put(azCoordinator, "/v1/marking/release", map[string]any{"project_ids": []string{marked}}, "POST")
	withOwner := append(slices.Clone(staff), azOwner)
	scan("released", map[string][]azCaller{sup: withOwner, exa: withOwner, mod: staff})
}

// authzUpload posts a CSV file as multipart/form-data, with the token if any.
func authzUpload(t *testing.T, s *service, path, token string, csv []byte) response {
	t.Helper()
	rd, ctype := multipartFile("upload.csv", csv)
	return s.do("POST", path, token, rd, "Content-Type", ctype)
}

// awaitRebuild polls GET /v1/admin/projections until no rebuild runs, and
// returns that answer.
func awaitRebuild(t *testing.T, s *service, token string) response {
	t.Helper()
	var r response
	waitForLong(t, "the rebuild to finish", 30*time.Second, func() bool {
		r = s.do("GET", "/v1/admin/projections", token, nil)
		rb, _ := r.Body["rebuild"].(map[string]any)
		return r.Status == 200 && (rb == nil || rb["running"] == false)
	})
	return r
}
