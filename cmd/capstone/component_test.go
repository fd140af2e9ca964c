package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestWalkthrough is the README's tour: sign in as the bootstrap coordinator,
// create a student, who proposes a project, edits it, and reads its history
// and its state before the edit.
func TestWalkthrough(t *testing.T) {
	s := startService(t)
	admin := s.admin()

	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200)
	if me.str("email") != adminEmail {
		t.Fatalf("me = %s", me.Raw)
	}
	created := s.expect(s.do("POST", "/v1/users", admin, map[string]any{
		"email": "  Ada.Lovelace@Uni.Example ", "name": " Ada Lovelace ", "roles": []string{"student"}, "password": "analytical engine",
	}), 201)
	id := created.str("id")
	if created.Header.Get("Location") != "/v1/users/"+id || created.str("email") != "ada.lovelace@uni.example" || created.str("name") != "Ada Lovelace" {
		t.Fatalf("create user: %v %s", created.Header, created.Raw)
	}
	got := s.expect(s.do("GET", fmt.Sprintf("/v1/users/%s?min_version=%d", id, created.num("version")), admin, nil), 200)
	if got.Header.Get("ETag") != fmt.Sprintf(`"%d"`, created.num("version")) {
		t.Fatalf("ETag %q after version %d", got.Header.Get("ETag"), created.num("version"))
	}

	student := s.signIn("ada.lovelace@uni.example", "analytical engine")
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]string{
		"title": "Difference engines", "description": "Build one", "aim": "Compute tables", "rationale": "Errors in tables",
	}), 201)
	pid, v1 := p.str("id"), p.num("version")
	if p.str("status") != "draft" || p.str("student_id") != id {
		t.Fatalf("project: %s", p.Raw)
	}
	s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", pid, v1), student, nil), 200)
	before := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	edited := s.expect(s.do("PATCH", "/v1/projects/"+pid, student, map[string]string{"title": "Analytical engines"},
		"If-Match", fmt.Sprintf(`"%d"`, v1)), 200)
	if edited.num("version") != v1+1 || edited.str("title") != "Analytical engines" {
		t.Fatalf("edit: %s", edited.Raw)
	}
	now := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", pid, v1+1), student, nil), 200)
	if now.str("title") != "Analytical engines" {
		t.Fatalf("after edit: %s", now.Raw)
	}
	past := s.expect(s.do("GET", "/v1/projects/"+pid+"?as_of="+before.Format(time.RFC3339Nano), student, nil), 200)
	if past.str("title") != "Difference engines" || past.num("version") != v1 {
		t.Fatalf("as_of: %s", past.Raw)
	}
	atV := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?at_version=%d", pid, v1), admin, nil), 200)
	if atV.str("title") != "Difference engines" {
		t.Fatalf("at_version: %s", atV.Raw)
	}
	hist := s.expect(s.do("GET", "/v1/projects/"+pid+"/history", student, nil, "X-Request-Id", "tour-1"), 200).items()
	if len(hist) != 2 || hist[0]["type"] != "ProjectCreated" || hist[1]["type"] != "ProjectEdited" {
		t.Fatalf("history: %v", hist)
	}
	actor, _ := hist[1]["actor"].(map[string]any)
	if actor["user_id"] != id || hist[1]["at"] == "" || hist[1]["correlation_id"] == "" {
		t.Fatalf("history entry lacks actor, time or correlation id: %v", hist[1])
	}

	var list []map[string]any
	waitFor(t, "the student's project list", func() bool { // lists are eventually consistent
		list = s.expect(s.do("GET", "/v1/projects", student, nil), 200).items()
		return len(list) == 1
	})
	if list[0]["id"] != pid {
		t.Fatalf("student's projects: %v", list)
	}
	// A second project and pagination over the student's own list.
	p2 := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Second"}), 201).str("id")
	waitFor(t, "two projects listed", func() bool { return len(s.do("GET", "/v1/projects", student, nil).items()) == 2 })
	page1 := s.expect(s.do("GET", "/v1/projects?limit=1", student, nil), 200)
	if len(page1.items()) != 1 || page1.items()[0]["id"] != pid || page1.str("next_cursor") == "" {
		t.Fatalf("first page: %s", page1.Raw)
	}
	page2 := s.expect(s.do("GET", "/v1/projects?limit=1&cursor="+page1.str("next_cursor"), student, nil), 200)
	if len(page2.items()) != 1 || page2.items()[0]["id"] != p2 || page2.str("next_cursor") != "" {
		t.Fatalf("second page: %s", page2.Raw)
	}
	if r := s.expect(s.do("GET", "/v1/projects?q=SECOND", student, nil), 200).items(); len(r) != 1 || r[0]["id"] != p2 {
		t.Fatalf("search in own list: %v", r)
	}
	// Pages of the own list (from the student's overview) are the
	// coordinator's scan: five more projects, one withdrawn, pages of 2.
	var more []string
	for i := range 5 {
		more = append(more, s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": fmt.Sprint("More ", i)}), 201).str("id"))
	}
	s.expect(s.do("DELETE", "/v1/projects/"+more[2], student, nil), 204)
	ids := func(items []map[string]any) (out []string) {
		for _, it := range items {
			out = append(out, it["id"].(string))
		}
		return out
	}
	var scanned []string
	waitFor(t, "six projects in the coordinator's scan", func() bool {
		scanned = ids(s.expect(s.do("GET", "/v1/projects?limit=100&student_id="+id, admin, nil), 200).items())
		return len(scanned) == 6
	})
	var paged []string
	waitFor(t, "the own list paged like the scan", func() bool {
		paged = nil
		for cursor, n := "", 0; n < 10; n++ {
			r := s.expect(s.do("GET", "/v1/projects?limit=2&cursor="+cursor, student, nil), 200)
			paged = append(paged, ids(r.items())...)
			if cursor = r.str("next_cursor"); cursor == "" {
				break
			}
		}
		return slices.Equal(paged, scanned)
	})
	var users []map[string]any
	waitFor(t, "the user search", func() bool {
		users = s.expect(s.do("GET", "/v1/users?role=student&q=LOVELACE", admin, nil), 200).items()
		return len(users) == 1
	})
	if users[0]["id"] != id {
		t.Fatalf("user search: %v", users)
	}

	del := s.expect(s.do("DELETE", "/v1/projects/"+pid, student, nil), 204)
	if del.Header.Get("ETag") != fmt.Sprintf(`"%d"`, v1+2) {
		t.Fatalf("withdraw ETag %q, want version %d", del.Header.Get("ETag"), v1+2)
	}
	s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", pid, v1+2), student, nil), 404, "not-found")
	s.expect(s.do("GET", "/v1/projects/"+pid+"/history", admin, nil), 200)
}

// TestConcurrentCreatesOneEmail: 20 creates racing for one e-mail (in
// different cases), exactly one 201, the rest 409 email-taken (invariant "rules across streams hold").
func TestConcurrentCreatesOneEmail(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := "twin@uni.example"
			if i%2 == 1 {
				email = "Twin@Uni.Example"
			}
			statuses[i] = s.do("POST", "/v1/users", admin, map[string]any{"email": email, "name": fmt.Sprint("Twin ", i), "roles": []string{"student"}})
		}()
	}
	wg.Wait()
	created := 0
	for _, r := range statuses {
		switch {
		case r.Status == 201:
			created++
		case r.Status == 409 && r.str("code") == "email-taken":
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Raw)
		}
	}
	if created != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", created)
	}
	waitFor(t, "the user list", func() bool {
		return len(s.do("GET", "/v1/users?q=twin@", admin, nil).items()) >= 1
	})
	time.Sleep(100 * time.Millisecond)
	if items := s.do("GET", "/v1/users?q=twin@", admin, nil).items(); len(items) != 1 {
		t.Fatalf("%d users hold the e-mail: %v", len(items), items)
	}
}

// TestConcurrentEditsOneIfMatch: 20 edits sent with the same If-Match,
// exactly one wins and the others get 412; nothing is overwritten (invariant "one writer wins").
func TestConcurrentEditsOneIfMatch(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "stu@uni.example", "Stu", []string{"student"}, "student password")
	student := s.signIn("stu@uni.example", "student password")
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": "Race"}), 201)
	const n = 20
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.do("PATCH", "/v1/projects/"+p.str("id"), student, map[string]string{"title": fmt.Sprint("Title ", i)}, "If-Match", `"1"`)
		}()
	}
	wg.Wait()
	won := ""
	for _, r := range results {
		switch r.Status {
		case 200:
			if won != "" {
				t.Fatalf("two edits won: %q and %q", won, r.str("title"))
			}
			won = r.str("title")
		case 412:
			if r.str("code") != "precondition-failed" {
				t.Fatalf("412 with code %q", r.str("code"))
			}
		default:
			t.Fatalf("unexpected %d %s", r.Status, r.Raw)
		}
	}
	if won == "" {
		t.Fatal("no edit won")
	}
	hist := s.expect(s.do("GET", "/v1/projects/"+p.str("id")+"/history", student, nil), 200).items()
	if len(hist) != 2 {
		t.Fatalf("history has %d events, want 2", len(hist))
	}
	final := s.expect(s.do("GET", "/v1/projects/"+p.str("id")+"?min_version=2", student, nil), 200)
	if final.str("title") != won {
		t.Fatalf("stored title %q, the winner was %q", final.str("title"), won)
	}
}

// TestRestartKeepsData: everything, including the signing secret, survives a restart.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := startServiceIn(t, dir, &syncBuffer{})
	admin := s.admin()
	id := s.createUser(admin, "keep@uni.example", "Keeper", []string{"supervisor"}, "keeper password")
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version=2", admin, nil), 200)
	s.stop()

	s2 := startServiceIn(t, dir, &syncBuffer{})
	got := s2.expect(s2.do("GET", "/v1/users/"+id, admin, nil), 200) // the old token still verifies
	if got.str("email") != "keep@uni.example" {
		t.Fatalf("after restart: %s", got.Raw)
	}
	s2.signIn("keep@uni.example", "keeper password")
	if n := len(s2.expect(s2.do("GET", "/v1/users", admin, nil), 200).items()); n != 2 {
		t.Fatalf("%d users after restart, want 2 (the bootstrap coordinator is not created twice)", n)
	}
}

// TestDurableBeforeResponse: a 201 means the commit is in the store; a
// refused command stores nothing (invariant "durable before answered").
func TestDurableBeforeResponse(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	count := func() int64 {
		n, err := s.app.store.DB.Collection(imongo.CollEvents).CountDocuments(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	id := s.createUser(admin, "durable@uni.example", "Durable", []string{"examiner"}, "")
	var doc bson.M
	err := s.app.store.DB.Collection(imongo.CollEvents).FindOne(context.Background(), bson.D{{Key: "_id", Value: id + ":000000000001"}}).Decode(&doc)
	if err != nil {
		t.Fatalf("the user's first commit is not in the store after 201: %v", err)
	}
	afterCreate := count()
	if afterCreate != before+2 { // the e-mail claim and the user
		t.Fatalf("%d commits after one create, want %d", afterCreate, before+2)
	}
	bad := []any{
		map[string]any{"email": "not-an-email", "name": "X", "roles": []string{"student"}},
		map[string]any{"email": "x@uni.example", "name": "", "roles": []string{"student"}},
		map[string]any{"email": "x@uni.example", "name": "X", "roles": []string{"wizard"}},
		map[string]any{"email": "x@uni.example", "name": "X", "roles": []string{"student"}, "password": "short"},
		map[string]any{"email": "durable@uni.example", "name": "Again", "roles": []string{"student"}},
	}
	for _, b := range bad {
		if r := s.do("POST", "/v1/users", admin, b); r.Status < 400 || r.Status >= 500 {
			t.Fatalf("bad create answered %d: %s", r.Status, r.Raw)
		}
	}
	s.expect(s.do("PATCH", "/v1/users/"+id, admin, map[string]any{"roles": []string{}}), 400, "invalid")
	if n := count(); n != afterCreate {
		t.Fatalf("refused commands stored %d commits", n-afterCreate)
	}
}

// TestEventsCarryActorAndRequestID (invariant "every change is attributed").
func TestEventsCarryActorAndRequestID(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	adminID := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	r := s.expect(s.do("POST", "/v1/users", admin, map[string]any{"email": "who@uni.example", "name": "Who", "roles": []string{"student"}},
		"X-Request-Id", "req-who-1"), 201)
	p := s.expect(s.do("PATCH", "/v1/users/"+r.str("id"), admin, map[string]any{"name": "Whom"}, "X-Request-Id", "req-who-2"), 200)
	hist := s.expect(s.do("GET", "/v1/users/"+r.str("id")+"/history", admin, nil), 200).items()
	if len(hist) != 2 {
		t.Fatalf("history %v", hist)
	}
	for i, answer := range []response{r, p} {
		// The server's own id is the correlation id; the client's is only echoed.
		want := answer.Header.Get("X-Request-Id")
		if client := fmt.Sprintf("req-who-%d", i+1); want == "" || want == client || answer.Header.Get("X-Client-Request-Id") != client {
			t.Errorf("answer %d: X-Request-Id %q, X-Client-Request-Id %q; want the server's own id and the client's %s echoed apart",
				i, want, answer.Header.Get("X-Client-Request-Id"), client)
		}
		actor, _ := hist[i]["actor"].(map[string]any)
		if hist[i]["correlation_id"] != want || actor["user_id"] != adminID {
			t.Errorf("event %d: correlation %v actor %v, want %s by %s", i, hist[i]["correlation_id"], actor, want, adminID)
		}
		if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(hist[i]["at"])); err != nil || time.Since(at) > time.Minute {
			t.Errorf("event %d: at %v", i, hist[i]["at"])
		}
	}
}

// TestNoSecretsAnywhere: no response, log line or stored event carries a
// password or its hash, whether it was set through /v1, by an import of
// /v1 or of the original routes, or tried at either sign-in.
func TestNoSecretsAnywhere(t *testing.T) {
	s, lc := startLegacy(t)
	admin := s.admin()
	const pw = "Sup3r-Secret-Passw0rd"
	id := s.createUser(admin, "secret@uni.example", "Secret", []string{"student"}, pw)
	tok := s.signIn("secret@uni.example", pw)
	s.expect(s.do("PUT", "/v1/me/password", tok, map[string]string{"current_password": pw, "new_password": pw + "-2"}), 200)
	s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "secret@uni.example", "password": pw})
	var seen strings.Builder
	// Passwords from files: a /v1 import that sets them, and the original upload.
	const filePw, legacyPw, weakPw = "Imp0rted-Secret-One", "Leg4cy-Secret-Two", "Wk-S3cr"
	students := "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"
	seen.WriteString(s.upload(admin, "students", "s.csv", []byte(students+"S1,Imp One,E,P,R,D,imp1@uni.example,imp1,"+filePw+"\n"+
		"S2,Imp Two,E,P,R,D,imp2@uni.example,imp2,"+weakPw+"\n"), "?passwords=true").Raw)
	legacyAdmin, _ := lc.signIn(adminEmail, adminPassword)
	seen.WriteString(lc.upload(legacyAdmin, "/student/info", "students.csv", []byte(students+"S3,Leg Three,E,P,R,D,leg3@uni.example,leg3,"+legacyPw+"\n"+
		"S4,Leg Four,E,P,R,D,leg4@uni.example,leg4,"+weakPw+"\n")).Raw)
	for _, in := range []struct {
		email, password string
		status          int
	}{{"imp1@uni.example", filePw, 200}, {"leg3@uni.example", legacyPw, 200}, {"leg3@uni.example", legacyPw + "?", 401}} {
		v1 := s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": in.email, "password": in.password})
		for _, r := range []lresp{lc.do("POST", "/sign-in", "", map[string]string{"email": in.email, "password": in.password}),
			{Status: v1.Status, Raw: v1.Raw}} {
			if r.Status != in.status {
				t.Errorf("signing in as %s: %d, want %d", in.email, r.Status, in.status)
			}
			seen.WriteString(r.Raw)
		}
	}
	imp := s.expect(s.do("GET", "/v1/users?email=imp1@uni.example", admin, nil), 200).items()[0]["id"]
	for _, path := range []string{"/v1/users/" + id, "/v1/users/" + id + "/history", "/v1/users", "/v1/me", fmt.Sprint("/v1/users/", imp, "/history")} {
		seen.WriteString(s.do("GET", path, admin, nil).Raw)
	}
	for _, path := range []string{"/student/all", "/supervisor/all"} {
		seen.WriteString(lc.do("GET", path, legacyAdmin, nil).Raw)
	}
	cur, err := s.app.store.DB.Collection(imongo.CollEvents).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(context.Background(), &all); err != nil {
		t.Fatal(err)
	}
	seen.WriteString(fmt.Sprint(all))
	seen.WriteString(s.logs.String())
	for _, secret := range []string{pw, filePw, legacyPw, weakPw, "$2a$", "$2b$"} {
		if strings.Contains(seen.String(), secret) {
			t.Fatalf("%q appears in a response, the event store or the logs", secret)
		}
	}
	if !strings.Contains(fmt.Sprint(all), "UserPasswordSet") {
		t.Fatal("the password change was not recorded as an event")
	}
}

// TestReadModelsEqualRebuild: after a burst of concurrent writes, each read
// model document equals the fold of its stream (invariant "read models converge", in-process bus).
func TestReadModelsEqualRebuild(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "conv@uni.example", "Conv", []string{"student"}, "converge password")
	student := s.signIn("conv@uni.example", "converge password")
	var ids []string
	for i := range 5 {
		ids = append(ids, s.expect(s.do("POST", "/v1/projects", student, map[string]string{"title": fmt.Sprint("P", i)}), 201).str("id"))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				id := ids[(w+j)%len(ids)]
				s.do("PATCH", "/v1/projects/"+id, student, map[string]string{"aim": fmt.Sprint("aim ", w, j)})
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		hist := walkPages(t, s, student, "/v1/projects/"+id+"/history", "version", 200)
		last, _ := strconv.ParseInt(hist[len(hist)-1], 10, 64)
		live := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%d", id, last), student, nil), 200)
		rebuilt := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?at_version=%d", id, last), student, nil), 200)
		for _, f := range []string{"title", "aim", "status", "version"} {
			if fmt.Sprint(live.Body[f]) != fmt.Sprint(rebuilt.Body[f]) {
				t.Fatalf("project %s field %s: live %v, rebuilt %v", id, f, live.Body[f], rebuilt.Body[f])
			}
		}
	}
}

// TestDeletedUserIsLockedOut: deleting a user stops sign-in and their token,
// keeps their history, and frees the e-mail for a new account.
func TestDeletedUserIsLockedOut(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	id := s.createUser(admin, "gone@uni.example", "Gone", []string{"student"}, "gone password 1")
	tok := s.signIn("gone@uni.example", "gone password 1")
	s.expect(s.do("GET", "/v1/me", tok, nil), 200)
	del := s.expect(s.do("DELETE", "/v1/users/"+id, admin, nil), 204)
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "gone@uni.example", "password": "gone password 1"}), 401, "invalid-credentials")
	waitFor(t, "the token to stop working", func() bool { return s.do("GET", "/v1/me", tok, nil).Status == http.StatusUnauthorized })
	s.expect(s.do("GET", "/v1/users/"+id+"/history", admin, nil), 200)
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version="+strings.Trim(del.Header.Get("ETag"), `"`), admin, nil), 404)
	again := s.createUser(admin, "gone@uni.example", "Back Again", []string{"student"}, "")
	if again == id {
		t.Fatal("a new account reused the deleted id")
	}
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	s.expect(s.do("DELETE", "/v1/users/"+me, admin, nil), 422, "cannot-delete-self")
}
