package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/infra/config"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

func startDemo(t *testing.T, dir string) *service {
	t.Helper()
	return startDemoLogging(t, dir, &syncBuffer{})
}

// startDemoLogging starts serve --demo on dir, with its info logs in logs.
func startDemoLogging(t *testing.T, dir string, logs *syncBuffer) *service {
	t.Helper()
	env := map[string]string{"CAPSTONE_LOG_LEVEL": "info"}
	cfg, err := config.ParseServe([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--demo"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	app, err := StartApp(ctx, cfg, newLogger(logs, cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &service{t: t, app: app, base: "http://" + app.Addr(), dataDir: dir, logs: logs}
	t.Cleanup(s.stop)
	return s
}

// TestDemo: --demo loads a cohort in which every documented sign-in works,
// and a restart with --demo stores nothing new.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	s := startDemo(t, dir)
	tokens := map[string]string{}
	for _, d := range DemoSignIns {
		tokens[d.Role] = s.signIn(d.Email, d.Password)
	}
	waitFor(t, "the supervisors list", func() bool { return len(s.do("GET", "/v1/supervisors", tokens["student"], nil).items()) == 40 })
	s.expect(s.do("GET", "/v1/users?role=student&limit=200", tokens["coordinator"], nil), 200)
	s.expect(s.do("GET", "/v1/users", tokens["supervisor"], nil), 403)
	count := func(s *service) int64 {
		n, err := s.app.store.DB.Collection(imongo.CollEvents).CountDocuments(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count(s)
	s.stop()
	s2 := startDemo(t, dir)
	if after := count(s2); after != before {
		t.Fatalf("a restart with --demo stored %d commits", after-before)
	}
}

// TestDemoLoadedOnce: the demo cohort goes into an empty store only. A
// restart with --demo keeps the passwords its users changed, a store already
// in use gets no demo users (and the log says why), and a load interrupted
// half-way is finished by the next start.
func TestDemoLoadedOnce(t *testing.T) {
	coord := DemoSignIns[0]
	dir := t.TempDir()
	s := startDemo(t, dir)
	tok := s.signIn(coord.Email, coord.Password)
	s.expect(s.do("PUT", "/v1/me/password", tok, map[string]string{"current_password": coord.Password, "new_password": "my own new password"}), 200)
	s.stop()
	logs := &syncBuffer{}
	s = startDemoLogging(t, dir, logs)
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": coord.Email, "password": coord.Password}), 401)
	s.signIn(coord.Email, "my own new password")
	if !strings.Contains(logs.String(), "loaded before") {
		t.Errorf("the log does not say the demo was left alone:\n%s", logs.String())
	}
	s.stop()

	// A store in use: no demo coordinator with a documented password appears.
	used := t.TempDir()
	startServiceIn(t, used, &syncBuffer{}).stop()
	logs = &syncBuffer{}
	s = startDemoLogging(t, used, logs)
	s.expect(s.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": coord.Email, "password": coord.Password}), 401)
	if n := len(s.expect(s.do("GET", "/v1/users?role=student", s.admin(), nil), 200).items()); n != 0 {
		t.Errorf("the demo imported %d students into a store in use", n)
	}
	if !strings.Contains(logs.String(), "already holds data") {
		t.Errorf("the log does not say why the demo was not loaded:\n%s", logs.String())
	}
	// Interrupted: the mark says the load had begun; the next start finishes it.
	if _, err := s.app.store.DB.Collection(imongo.CollSettings).UpdateOne(context.Background(), bson.D{{Key: "_id", Value: demoSetting}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: demoLoading}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s = startDemo(t, used)
	for _, d := range DemoSignIns {
		s.signIn(d.Email, d.Password)
	}
}

// TestImportCLI: `capstone import` applies a file, and --dry-run stores nothing.
func TestImportCLI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "examiners.csv")
	if err := os.WriteFile(file, fixture(t, "examiners.csv"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	args := []string{"import", "--data-dir", filepath.Join(dir, "data"), "--log-level", "error"}
	if err := run(context.Background(), append(args, "--dry-run", "examiners", file), nil, &out, &errOut, env); err != nil {
		t.Fatalf("dry run: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "created 20") || !strings.Contains(out.String(), "dry run") {
		t.Fatalf("dry run output: %s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), append(args, "examiners", file), nil, &out, &errOut, env); err != nil {
		t.Fatalf("import: %v %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "created 20") {
		t.Fatalf("import output (the dry run must not have stored anything): %s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), append(args, "examiners", file), nil, &out, &errOut, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "unchanged 20") {
		t.Fatalf("second import: %s", out.String())
	}
}

// TestDemoMarking: the demo has projects at every state of the marking,
// marked by the documented supervisor and examiner, and the documented
// student sees their released mark.
func TestDemoMarking(t *testing.T) {
	s := startDemo(t, t.TempDir())
	tokens := map[string]string{}
	for _, d := range DemoSignIns {
		tokens[d.Role] = s.signIn(d.Email, d.Password)
	}
	var counts map[string]any
	waitFor(t, "the demo's marking", func() bool {
		counts, _ = s.expect(s.do("GET", "/v1/marking", tokens["coordinator"], nil), 200).Body["counts"].(map[string]any)
		return counts["released"] == float64(1) && counts["agreed"] == float64(3)
	})
	for _, state := range []string{"to-mark", "submitted", "moderation", "agreed", "released"} {
		if n, _ := counts[state].(float64); n < 1 {
			t.Errorf("no project of the demo is in state %s: %v", state, counts)
		}
	}
	for role, want := range map[string][]string{
		"supervisor": {"released", "to-mark", "waiting", "to-mark", "moderation"},
		"examiner":   {"released", "to-mark", "to-mark", "waiting", "moderation", "agreed", "agreed", "agreed"},
	} {
		var got []string
		for _, it := range s.expect(s.do("GET", "/v1/me/marking", tokens[role], nil), 200).items() {
			got = append(got, it["state"].(string))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: states %v, want %v", role, got, want)
		}
	}
	me := s.expect(s.do("GET", "/v1/me", tokens["student"], nil), 200).str("id")
	if st := s.expect(s.do("GET", "/v1/students/"+me, tokens["student"], nil), 200); st.num("grade") != 70 {
		t.Errorf("the documented student: %s", st.Raw)
	}

	// The README's marking tour, step by step.
	sup, exam, admin := tokens["supervisor"], tokens["examiner"], tokens["coordinator"]
	byState := func(tok, state string) map[string]bool {
		out := map[string]bool{}
		for _, it := range s.expect(s.do("GET", "/v1/me/marking", tok, nil), 200).items() {
			if it["state"] == state {
				out[it["project"].(map[string]any)["id"].(string)] = true
			}
		}
		return out
	}
	var p string
	for id := range byState(sup, "to-mark") {
		if byState(exam, "to-mark")[id] {
			if p != "" {
				t.Fatalf("more than one project is to-mark in both lists")
			}
			p = id
		}
	}
	s.expect(s.do("PUT", "/v1/projects/"+p+"/mark", sup, map[string]any{"mark": 64, "feedback": "Clear aims; the evaluation could go deeper."}), 200)
	if r := s.expect(s.do("GET", "/v1/projects/"+p, exam, nil), 200); strings.Contains(r.Raw, "Clear aims") {
		t.Fatalf("the examiner sees the supervisor's mark: %s", r.Raw)
	}
	agreed := s.expect(s.do("PUT", "/v1/projects/"+p+"/mark", exam, map[string]any{"mark": 67, "feedback": "Well argued."}), 200)
	if m := agreed.Body["marking"].(map[string]any); m["agreed"].(map[string]any)["mark"] != float64(66) {
		t.Fatalf("64 and 67: %s", agreed.Raw)
	}
	overview := s.expect(s.do("GET", "/v1/marking", admin, nil), 200)
	q := overview.Body["moderation"].([]any)[0].(map[string]any)["project_id"].(string)
	s.expect(s.do("POST", "/v1/projects/"+q+"/moderation", admin, map[string]any{"mark": 60, "comment": "Read by a third marker."}), 200)
	s.expect(s.do("PUT", "/v1/marking/threshold", admin, map[string]any{"threshold": 8}), 200)
	if n := len(s.expect(s.do("POST", "/v1/marking/release", admin, nil), 200).Body["released"].([]any)); n != 5 {
		t.Errorf("the tour's release released %d marks, want the 5 agreed", n)
	}
	if csv := s.expect(s.do("GET", "/v1/exports/marks.csv", admin, nil), 200).Raw; strings.Count(csv, ",released,") != 6 {
		t.Errorf("marks.csv after the release: %s", csv)
	}
	if h := s.expect(s.do("GET", "/v1/projects/"+p+"/history", sup, nil), 200).Raw; !strings.Contains(h, "MarksAgreed") || !strings.Contains(h, "MarkReleased") {
		t.Errorf("the history: %s", h)
	}
}
