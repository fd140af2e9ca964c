package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/infra/embedded"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// importDemo imports the demo cohort over HTTP: 40 supervisors, 20
// examiners, 200 students and their rankings.
func (s *service) importDemo(admin string) {
	s.t.Helper()
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"examiners", "examiners.csv"},
		{"students", "students.csv"}, {"preferences", "preferences.csv"}} {
		raw, err := demoFiles.ReadFile("demo/" + f.file)
		if err != nil {
			s.t.Fatal(err)
		}
		if r := s.upload(admin, f.kind, f.file, raw, ""); r.Status != 200 {
			s.t.Fatalf("import %s: %d %s", f.kind, r.Status, r.Raw)
		}
	}
}

// csvRows returns the data rows of a CSV answer (the header left out).
func csvRows(t testing.TB, raw string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("not a CSV with a header (%v): %.200q", err, raw)
	}
	return rows[1:]
}

// TestAllocationThenExport: on the all-in-one service, an export right
// after a real allocation lists every placement, with nothing to ask for.
// (It listed 2 of 200 when the allocation answered before its placements
// were projected.)
func TestAllocationThenExport(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.importDemo(admin)
	run := s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 42}), 200)
	placed, _ := run.Body["assignments"].([]any)
	if len(placed) < 100 {
		t.Fatalf("the demo allocation placed %d students: %.300s", len(placed), run.Raw)
	}
	if run.Header.Get("Capstone-Bookmark") == "" {
		t.Error("the allocation's answer has no Capstone-Bookmark")
	}
	rows := csvRows(t, s.expect(s.do("GET", "/v1/exports/assignments.csv", admin, nil), 200).Raw)
	if len(rows) != len(placed) {
		t.Fatalf("the export right after the allocation has %d rows, want %d", len(rows), len(placed))
	}
	allocated := 0
	for _, sup := range s.expect(s.do("GET", "/v1/supervisors", admin, nil), 200).items() {
		allocated += int(sup["allocated"].(float64))
	}
	if allocated != len(placed) {
		t.Fatalf("the supervisors list shows %d placed, want %d", allocated, len(placed))
	}
	// The bookmark is accepted (and already satisfied) by every read of the read models.
	after := "?after=" + url.QueryEscape(run.Header.Get("Capstone-Bookmark"))
	for _, path := range []string{"/v1/exports/assignments.csv", "/v1/supervisors", "/v1/users", "/v1/projects"} {
		s.expect(s.do("GET", path+after, admin, nil), 200)
	}
}

// TestReadYourWritesAllInOne drives random writes and, right after each, a
// read without any parameter that must show it: on the all-in-one service a
// write answers once every read model shows it.
func TestReadYourWritesAllInOne(t *testing.T) {
	readYourWrites(t, startService(t), false)
}

// TestReadYourWritesWithBookmarks: the same with the projectors in another
// process (on Pub/Sub), each read given the bookmark of the write before it.
func TestReadYourWritesWithBookmarks(t *testing.T) {
	api, startProjector := startSplit(t)
	startProjector()
	readYourWrites(t, api, true)
}

// readYourWrites drives random writes through s and, right after each, the
// read that must show it: as it is, or given the write's bookmark.
func readYourWrites(t *testing.T, s *service, withBookmark bool) {
	rng := seeded(t, 1)
	admin := s.admin()
	var bookmark string
	write := func(method, path, token string, body any) response {
		r := s.do(method, path, token, body)
		if b := r.Header.Get("Capstone-Bookmark"); b != "" { // none when it stored nothing
			bookmark = b
		}
		return r
	}
	read := func(path, token string) response {
		if withBookmark {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "after=" + url.QueryEscape(bookmark)
		}
		return s.do("GET", path, token, nil)
	}
	newPerson := func(email string, roles ...string) person {
		id := s.createUser(admin, email, "Person "+email, roles, "read your writes password")
		return person{id, s.signIn(email, "read your writes password")}
	}
	tokenOf := func(people []person, id string) string {
		for _, p := range people {
			if p.id == id {
				return p.token
			}
		}
		return ""
	}
	students := []person{newPerson("ryw.s1@uni.example", "student"), newPerson("ryw.s2@uni.example", "student")}
	sups := []person{newPerson("ryw.p1@uni.example", "supervisor"), newPerson("ryw.p2@uni.example", "supervisor")}
	for _, sp := range sups {
		s.expect(write("PUT", "/v1/supervisors/"+sp.id+"/profile", admin, map[string]any{"areas": []string{"x"}, "capacity": 50}), 200)
	}
	type proj struct {
		id, owner, title, status string
		sup                      int
	}
	var projects []*proj
	pick := func() *proj { return projects[rng.IntN(len(projects))] }
	for i := range 80 {
		st := students[rng.IntN(len(students))]
		switch k := rng.IntN(7); {
		case k == 0 || len(projects) == 0: // create, sometimes straight to a supervisor
			title := fmt.Sprintf("Project %d", i)
			body := map[string]any{"title": title}
			p := &proj{owner: st.id, title: title, status: "draft", sup: -1}
			if rng.IntN(2) == 0 {
				p.sup, p.status = rng.IntN(len(sups)), "submitted"
				body["supervisor_id"] = sups[p.sup].id
			}
			r := write("POST", "/v1/projects", st.token, body)
			if r.Status == 409 && r.str("code") == "too-many-open-projects" {
				// At the limit of open projects: withdraw one of them instead.
				i := slices.IndexFunc(projects, func(q *proj) bool {
					return q.owner == st.id && (q.status == "draft" || q.status == "submitted" || q.status == "rejected")
				})
				if i < 0 {
					continue
				}
				w := projects[i]
				s.expect(write("DELETE", "/v1/projects/"+w.id, st.token, nil), 204)
				w.status = "withdrawn"
				mine := s.expect(read("/v1/projects?student_id="+st.id+"&limit=200", admin), 200).items()
				if slices.ContainsFunc(mine, func(m map[string]any) bool { return m["id"] == w.id }) {
					t.Fatalf("op %d: the project withdrawn is still in its student's list", i)
				}
				continue
			}
			p.id = s.expect(r, 201).str("id")
			projects = append(projects, p)
			mine := s.expect(read("/v1/projects?student_id="+st.id+"&limit=200", admin), 200).items()
			if !slices.ContainsFunc(mine, func(m map[string]any) bool { return m["id"] == p.id }) {
				t.Fatalf("op %d: the project created is not in its student's list", i)
			}
		case k == 1: // edit
			p := pick()
			who := tokenOf(students, p.owner)
			p.title = fmt.Sprintf("Edited %d", i)
			r := write("PATCH", "/v1/projects/"+p.id, who, map[string]any{"title": p.title})
			if r.Status != 200 {
				p.title = "" // not editable in its state: nothing to check
				continue
			}
			got := s.expect(read("/v1/projects/"+p.id, admin), 200)
			if got.str("title") != p.title {
				t.Fatalf("op %d: GET right after an edit shows %q, want %q", i, got.str("title"), p.title)
			}
		case k == 2: // submit a draft
			p := pick()
			if p.status != "draft" {
				continue
			}
			p.sup, p.status = rng.IntN(len(sups)), "submitted"
			s.expect(write("POST", "/v1/projects/"+p.id+"/submit", tokenOf(students, p.owner), map[string]any{"supervisor_id": sups[p.sup].id}), 200)
			theirs := s.expect(read("/v1/projects?status=submitted&limit=200", sups[p.sup].token), 200).items()
			if !slices.ContainsFunc(theirs, func(m map[string]any) bool { return m["id"] == p.id }) {
				t.Fatalf("op %d: the supervisor's list right after a submission lacks it", i)
			}
		case k == 3: // decide
			p := pick()
			if p.status != "submitted" {
				continue
			}
			accept := rng.IntN(2) == 0
			decision := map[bool]string{true: "accept", false: "reject"}[accept]
			r := write("POST", "/v1/projects/"+p.id+"/decision", sups[p.sup].token, map[string]any{"decision": decision})
			if r.Status != 200 {
				continue // e.g. the student is placed already
			}
			p.status = decision + "ed"
			if accept {
				o := s.expect(read("/v1/students/"+p.owner, admin), 200)
				if o.str("supervisor_id") != sups[p.sup].id {
					t.Fatalf("op %d: the overview right after an acceptance shows supervisor %q", i, o.str("supervisor_id"))
				}
			}
		case k == 4: // rankings
			st := students[rng.IntN(len(students))]
			order := []string{sups[0].id, sups[1].id}
			rng.Shuffle(2, func(a, b int) { order[a], order[b] = order[b], order[a] })
			s.expect(write("PUT", "/v1/students/"+st.id+"/preferences", st.token, map[string]any{"supervisor_ids": order}), 200)
			o := s.expect(read("/v1/students/"+st.id, st.token), 200)
			if fmt.Sprint(o.Body["preferences"]) != fmt.Sprint([]any{order[0], order[1]}) {
				t.Fatalf("op %d: the overview right after a ranking shows %v", i, o.Body["preferences"])
			}
		case k == 5: // a supervisor's profile
			sp := sups[rng.IntN(len(sups))]
			area := fmt.Sprintf("area %d", i)
			s.expect(write("PUT", "/v1/supervisors/"+sp.id+"/profile", sp.token, map[string]any{"areas": []string{area}}), 200)
			list := s.expect(read("/v1/supervisors", st.token), 200).items()
			if !slices.ContainsFunc(list, func(m map[string]any) bool { return m["id"] == sp.id && fmt.Sprint(m["areas"]) == "["+area+"]" }) {
				t.Fatalf("op %d: the supervisors list right after a profile edit lacks %q", i, area)
			}
		default: // a coordinator renames a user
			sp := sups[rng.IntN(len(sups))]
			name := fmt.Sprintf("Renamed %d", i)
			s.expect(write("PATCH", "/v1/users/"+sp.id, admin, map[string]any{"name": name}), 200)
			users := s.expect(read("/v1/users?q="+url.QueryEscape(name), admin), 200).items()
			if len(users) != 1 || users[0]["id"] != sp.id {
				t.Fatalf("op %d: the users list right after a rename shows %v", i, users)
			}
		}
	}
}

// person is a user of a test and their token.
type person struct{ id, token string }

// startSplit starts the API apart from the projectors, as separate apps on
// one store and the Pub/Sub emulator; the projector starts when asked. The
// API takes the further serve flags given.
func startSplit(t *testing.T, apiFlags ...string) (api *service, startProjector func()) {
	start := splitStarter(t)
	return start("api", apiFlags...), func() { start("projector") }
}

// splitStarter returns a function that starts an app of the given
// components on one store and the Pub/Sub emulator, as the processes of a
// deployment would run.
func splitStarter(t *testing.T) func(components string, flags ...string) *service {
	em, ctx, store := splitStore(t)
	return func(components string, flags ...string) *service {
		return startOn(t, ctx, store, splitEnv(components, em.Addr(), "error"), flags...)
	}
}

// splitStore starts the Pub/Sub emulator and one store, for apps started
// apart on them (startOn, splitEnv) until the test ends.
func splitStore(t *testing.T) (*pubsub.Emulator, context.Context, *embedded.Store) {
	em, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	store, err := embedded.Start(ctx, embedded.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return em, ctx, store
}

// splitEnv is the environment of an app of the given components that
// reaches Pub/Sub at emulator and logs from level on.
func splitEnv(components, emulator, level string) map[string]string {
	return map[string]string{
		"CAPSTONE_BOOTSTRAP_EMAIL": adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD": adminPassword,
		"CAPSTONE_LOG_LEVEL": level, "PUBSUB_PROJECT_ID": "capstone-test", "PUBSUB_EMULATOR_HOST": emulator,
		"CAPSTONE_JWT_SECRET": "a-test-secret-that-is-long-enough-0123456789", "CAPSTONE_COMPONENTS": components,
	}
}

// TestBookmarksAcrossProcesses: with the API apart from the projectors (on
// Pub/Sub), a write's answer carries a bookmark; a read given it shows the
// write, waiting for the projector if need be, and says so when it gave up
// waiting; min_version is answered from the event store when the read model
// is behind, and refused past the stream's last version.
func TestBookmarksAcrossProcesses(t *testing.T) {
	api, startProjector := startSplit(t)
	if api.app.API.Consistency.Settle {
		t.Fatal("an API apart from its projectors cannot settle writes in-process")
	}
	api.app.API.Consistency.ReadWait = time.Second
	admin := api.admin()

	// No projector runs yet: the read model cannot show the write.
	created := api.expect(api.do("POST", "/v1/users", admin, map[string]any{"email": "bm@uni.example", "name": "Bookmarked", "roles": []string{"student"}}), 201)
	id, bookmark := created.str("id"), created.Header.Get("Capstone-Bookmark")
	if bookmark == "" {
		t.Fatal("a write's answer has no Capstone-Bookmark")
	}
	after := "?after=" + url.QueryEscape(bookmark)
	r := api.expect(api.do("GET", "/v1/users"+after, admin, nil), 503, "not-caught-up")
	if r.Header.Get("Retry-After") == "" {
		t.Error("not-caught-up without Retry-After")
	}
	// min_version is answered from the event store, exactly as the read model will be.
	got := api.expect(api.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200)
	if got.str("name") != "Bookmarked" || got.num("version") != 1 || got.Header.Get("ETag") != `"1"` {
		t.Fatalf("min_version=1 before any projection: %s", got.Raw)
	}
	api.expect(api.do("GET", "/v1/users/"+id+"?min_version=2", admin, nil), 404, "version-not-found")
	api.expect(api.do("GET", "/v1/users"+after+"x", admin, nil), 400, "invalid-bookmark")
	api.expect(api.do("GET", "/v1/users?after=1.e30.AAAA", admin, nil), 400, "invalid-bookmark")

	startProjector()
	list := api.expect(api.do("GET", "/v1/users?limit=200"+strings.Replace(after, "?", "&", 1), admin, nil), 200).items()
	if !slices.ContainsFunc(list, func(m map[string]any) bool { return m["id"] == id }) {
		t.Fatal("a list given the write's bookmark does not show the write")
	}
	// History is read from the event store: a bookmark is accepted and never waited for.
	api.expect(api.do("GET", "/v1/users/"+id+"/history"+after, admin, nil), 200)

	// An import names too many streams for a bookmark: it answers once the
	// read models show every row, so a list right after it is complete.
	var csvBody strings.Builder
	csvBody.WriteString("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n")
	for i := range 40 {
		fmt.Fprintf(&csvBody, "BK%03d,Bulk %d,Enrolled,MSc,Full time,2026-09-01,bulk%03d@uni.example,bulk%03d\n", i, i, i, i)
	}
	imp := api.upload(admin, "students", "students.csv", []byte(csvBody.String()), "")
	if imp.Status != 200 || imp.num("created") != 40 {
		t.Fatalf("import: %d %s", imp.Status, imp.Raw)
	}
	students := api.expect(api.do("GET", "/v1/users?role=student&q=bulk&limit=200", admin, nil), 200).items()
	if len(students) != 40 {
		t.Fatalf("the users list right after an import of 40 shows %d", len(students))
	}
}

// TestLookupByEmailShowsTheBookmark: with the API apart from the
// projectors, a lookup by e-mail given a new user's bookmark finds them:
// it waits for the read model of addresses too, which it reads first, not
// only for that of users or supervisors. In a fault trial it answered an
// empty list 13 times in 200 on a quiet system (the users read model
// showed the write, the addresses' not yet).
func TestLookupByEmailShowsTheBookmark(t *testing.T) {
	api, startProjector := startSplit(t)
	startProjector()
	admin := api.admin()
	for i := range 80 {
		email := fmt.Sprintf("lookup%d@uni.example", i)
		created := api.expect(api.do("POST", "/v1/users", admin, map[string]any{"email": email, "name": "Looked Up", "roles": []string{"supervisor"}}), 201)
		id, after := created.str("id"), "&after="+url.QueryEscape(created.Header.Get("Capstone-Bookmark"))
		for _, path := range []string{"/v1/users", "/v1/supervisors"} {
			items := api.expect(api.do("GET", path+"?email="+url.QueryEscape(email)+after, admin, nil), 200).items()
			if len(items) != 1 || items[0]["id"] != id {
				t.Fatalf("user %d: %s?email= with the creation's bookmark: %v", i, path, items)
			}
		}
	}
}

// TestRepeatedWritesShowWhatTheyFoundDone: on the all-in-one service, of
// several identical edits sent at once one stores the change and the others
// find it done and store nothing; each answers only once every read shows
// the change, so every client's read right after its answer shows it, not
// the project as it was before.
func TestRepeatedWritesShowWhatTheyFoundDone(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "again@uni.example", "Again", []string{"student"}, "a long password")
	student := s.signIn("again@uni.example", "a long password")
	id := s.expect(s.do("POST", "/v1/projects", student, map[string]any{"title": "First title"}), 201).str("id")
	rng := seeded(t, 2)
	for round := range 12 {
		title := fmt.Sprintf("Title %d-%d", round, rng.IntN(1000))
		clients := 2 + rng.IntN(7)
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := s.do("PATCH", "/v1/projects/"+id, student, map[string]any{"title": title}); r.Status != 200 {
					t.Errorf("round %d, client %d: PATCH %d %s", round, c, r.Status, r.Raw)
					return
				}
				if got := s.do("GET", "/v1/projects/"+id, student, nil).str("title"); got != title {
					t.Errorf("round %d, client %d of %d: the read right after its edit's answer shows %q, not %q", round, c, clients, got, title)
				}
			}()
		}
		wg.Wait()
	}
}

// TestNoOpWriteBookmarksWhatItFound: with the API apart from the
// projectors, a write that finds its change already made (stores nothing)
// answers with a bookmark of the version it decided on, as a write that
// stores answers with one of what it stored, so a read given it waits until
// the read models show that version rather than the resource as it was
// before what the answer says is done. A no-op on what the read models
// show already is answered at once.
func TestNoOpWriteBookmarksWhatItFound(t *testing.T) {
	api, startProjector := startSplit(t)
	api.app.API.Consistency.ReadWait = time.Second
	admin := api.admin()
	api.createUser(admin, "noop@uni.example", "No Op", []string{"student"}, "a long password")
	student := api.signIn("noop@uni.example", "a long password")
	user := api.createUser(admin, "renamed@uni.example", "Before", []string{"examiner"}, "")
	project := api.expect(api.do("POST", "/v1/projects", student, map[string]any{"title": "Before"}), 201).str("id")

	// No projector yet: one client's edit is stored, another's identical
	// one finds it made.
	edits := []struct{ path, token, field string }{
		{"/v1/users/" + user, admin, "name"},
		{"/v1/projects/" + project, student, "title"},
	}
	var bookmarks []string
	for _, e := range edits {
		stored := api.expect(api.do("PATCH", e.path, e.token, map[string]any{e.field: "After"}), 200)
		noop := api.expect(api.do("PATCH", e.path, e.token, map[string]any{e.field: "After"}), 200)
		if stored.num("version") != 2 || noop.num("version") != 2 {
			t.Fatalf("%s: the edit answered version %v, its repeat %v; want 2 and 2", e.path, stored.Body["version"], noop.Body["version"])
		}
		b := noop.Header.Get("Capstone-Bookmark")
		if b == "" {
			t.Fatalf("%s: the answer of an edit that found its change made has no Capstone-Bookmark", e.path)
		}
		r := api.expect(api.do("GET", e.path+"?after="+url.QueryEscape(b), e.token, nil), 503, "not-caught-up")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: not-caught-up without Retry-After", e.path)
		}
		bookmarks = append(bookmarks, b)
	}

	startProjector()
	for i, e := range edits {
		got := api.expect(api.do("GET", e.path+"?after="+url.QueryEscape(bookmarks[i]), e.token, nil), 200)
		if got.str(e.field) != "After" || got.num("version") != 2 {
			t.Fatalf("%s: the read given the no-op's bookmark shows %s", e.path, got.Raw)
		}
		// Once shown, a no-op's bookmark costs no wait.
		noop := api.expect(api.do("PATCH", e.path, e.token, map[string]any{e.field: "After"}), 200)
		start := time.Now()
		api.expect(api.do("GET", e.path+"?after="+url.QueryEscape(noop.Header.Get("Capstone-Bookmark")), e.token, nil), 200)
		if took := time.Since(start); took > api.app.API.Consistency.ReadWait/2 {
			t.Errorf("%s: a read given the bookmark of a no-op the read models show took %v", e.path, took)
		}
	}
}
