package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
	"github.com/capstone-pms/capstone/projections/status"
)

// TestRebuildEqualsLive: the live read models equal a rebuild from the
// event store; a rebuild switched over while writes go on loses none of
// them, and queries then serve the rebuilt collections.
func TestRebuildEqualsLive(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	importFixtureCohort(t, s, admin)
	stu := s.createUser(admin, "replay@uni.example", "Replay", []string{"student"}, "replay password 1")
	tok := s.signIn("replay@uni.example", "replay password 1")
	pid := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Before"}), 201).str("id")
	s.expect(s.do("PATCH", "/v1/projects/"+pid, tok, map[string]string{"title": "After"}), 200)
	s.expect(s.do("POST", "/v1/allocation", admin, map[string]any{"dry_run": false, "seed": 7}), 200)

	quiet := func() {
		waitFor(t, "the projections to catch up", func() bool {
			res, err := s.app.Rebuild(ctx, nil, true, nil)
			return err == nil && len(res.Differences) == 0
		})
	}
	quiet()

	// Rebuild and switch over while students keep editing.
	var stop atomic.Bool
	var wg sync.WaitGroup
	edits := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if s.do("PATCH", "/v1/projects/"+pid, tok, map[string]string{"aim": fmt.Sprint("aim ", i)}).Status == 200 {
				edits++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Users created after the scan and before the switch reach only the old
	// collections: the catch-up must bring them over (no later commit would).
	var late []string
	res, err := s.app.Rebuild(ctx, nil, false, func(p rebuild.Progress) {
		if p.Phase == "rebuild-done" {
			for i := range 3 {
				late = append(late, s.createUser(admin, fmt.Sprintf("late%d@uni.example", i), "Late", []string{"examiner"}, ""))
			}
			time.Sleep(300 * time.Millisecond) // projected into the old collection
		}
	})
	stop.Store(true)
	wg.Wait()
	if err != nil || !res.Switched {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	if edits == 0 {
		t.Fatal("no write happened during the rebuild")
	}
	quiet()
	for _, n := range projections.Names() {
		if got := newReadModels(s).Physical(ctx, n); got != res.Collections[n] {
			t.Fatalf("%s is served from %s, not the rebuilt %s", n, got, res.Collections[n])
		}
	}
	hist := walkPages(t, s, tok, "/v1/projects/"+pid+"/history", "version", 200)
	last := hist[len(hist)-1]
	got := s.expect(s.do("GET", fmt.Sprintf("/v1/projects/%s?min_version=%v", pid, last), tok, nil), 200)
	if fmt.Sprint(got.num("version")) != last {
		t.Fatalf("after the switch: version %d, history ends at %v", got.num("version"), last)
	}
	s.expect(s.do("GET", "/v1/students/"+stu, tok, nil), 200)
	for _, id := range late {
		s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 200)
	}
}

// TestVerifyAfterCLIImport: the cohort imported with the CLI into a fresh
// data dir (its commits wait in the outbox), then served until the relay
// has published them all, verifies equal to a rebuild, in the service and
// with `capstone replay --verify` once it has stopped. The relay publishes
// many commits at once, so the projectors meet the cohort's commits out of
// order and fill gaps: this reported versions.cohort 48 vs 46.
func TestVerifyAfterCLIImport(t *testing.T) {
	if testing.Short() {
		t.Skip("imports a cohort and waits for the relay")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	env := func(string) string { return "" }
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"examiners", "examiners.csv"},
		{"students", "students.csv"}, {"preferences", "preferences.csv"}, {"supervisor-assignments", "supervisor_assignment.csv"},
		{"examiner-assignments", "secondary_examiner_assignment.csv"}, {"final-grades", "final_grades.csv"}} {
		path := filepath.Join(dir, f.file)
		if err := os.WriteFile(path, fixture(t, f.file), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"import", "--data-dir", data, "--log-level", "error", f.kind, path}, nil, &out, &errOut, env); err != nil {
			t.Fatalf("import %s: %v\n%s", f.kind, err, errOut.String())
		}
	}
	s := startServiceIn(t, data, &syncBuffer{})
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		backlog, err := s.app.store.DB.Collection(outbox.Collection).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if backlog == 0 {
			res, err := s.app.Rebuild(ctx, nil, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Differences) == 0 {
				break
			}
			if time.Now().After(deadline) {
				for n, ids := range res.Differences {
					t.Errorf("%s: %d documents differ from a rebuild, e.g. %s\n live:    %s\n rebuilt: %s", n, len(ids), ids[0], res.Sample[n][0], res.Sample[n][1])
				}
				t.FailNow()
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("the relay left %d commits in the outbox", backlog)
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.stop()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"replay", "--verify", "--data-dir", data, "--log-level", "error"}, nil, &out, &errOut, env); err != nil {
		t.Fatalf("replay --verify: %v\n%s", err, out.String())
	}
}

// TestVerifyComparesMeaning: verify reports a document that says something
// else, and not one whose bookkeeping alone differs (its revision, the
// positions it records per stream, a projection's checkpoint).
func TestVerifyComparesMeaning(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	for _, f := range []struct{ kind, file string }{{"supervisors", "supervisors.csv"}, {"students", "students.csv"}, {"supervisor-assignments", "supervisor_assignment.csv"}} {
		s.expect(s.upload(admin, f.kind, f.file, fixture(t, f.file), ""), 200)
	}
	waitFor(t, "the projections to catch up", func() bool {
		res, err := s.app.Rebuild(ctx, nil, true, nil)
		return err == nil && len(res.Differences) == 0
	})
	rm := newReadModels(s)
	students := s.app.store.DB.Collection(rm.Physical(ctx, projections.CollStudents))
	var docs []bson.M
	cur, err := students.Find(ctx, bson.D{{Key: "supervisor_id", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: ""}}}})
	if err != nil || cur.All(ctx, &docs) != nil || len(docs) < 2 {
		t.Fatalf("allocated students: %d, %v", len(docs), err)
	}
	bump := func(filter bson.D, field string) {
		t.Helper()
		if _, err := students.UpdateOne(ctx, filter, bson.D{{Key: "$inc", Value: bson.D{{Key: field, Value: 5}}}}); err != nil {
			t.Fatal(err)
		}
	}
	bump(bson.D{{Key: "_id", Value: docs[0]["_id"]}}, projections.PositionsField+"."+events.CohortStreamID)
	bump(bson.D{{Key: "_id", Value: docs[0]["_id"]}}, "_rev")
	bump(bson.D{{Key: "_id", Value: "checkpoint:students:" + events.CohortStreamID}}, "version")
	res, err := s.app.Rebuild(ctx, []string{projections.CollStudents}, true, nil)
	if err != nil || len(res.Differences) != 0 {
		t.Fatalf("bookkeeping alone reported as a difference: %v %v %v", res.Differences, res.Sample, err)
	}
	if _, err := students.UpdateOne(ctx, bson.D{{Key: "_id", Value: docs[1]["_id"]}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "Someone Else"}}}}); err != nil {
		t.Fatal(err)
	}
	res, err = s.app.Rebuild(ctx, []string{projections.CollStudents}, true, nil)
	if err != nil || !slices.Equal(res.Differences[projections.CollStudents], []string{fmt.Sprint(docs[1]["_id"])}) {
		t.Fatalf("a changed name: differences %v, want exactly %v (%v)", res.Differences, docs[1]["_id"], err)
	}
}

// TestRebuildProgressNeverPassesItsTotal: every progress a rebuild reports,
// through all its phases and while writes go on, has no more commits than
// its total. (The catch-up goes over the seconds before the rebuild again;
// counted against the rebuild's total, it read "777 / 773".)
func TestRebuildProgressNeverPassesItsTotal(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	tok := ""
	for i := range 12 { // recent commits, which the catch-up goes over again
		s.createUser(admin, fmt.Sprintf("progress%d@uni.example", i), "Progress", []string{"student"}, "progress password")
		if i == 0 {
			tok = s.signIn("progress0@uni.example", "progress password")
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // and writes while it runs
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			s.do("POST", "/v1/projects", tok, map[string]string{"title": fmt.Sprint("During ", i)})
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var reports []rebuild.Progress
	_, err := s.app.Rebuild(context.Background(), nil, false, func(p rebuild.Progress) { reports = append(reports, p) })
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]bool{}
	for _, p := range reports {
		phases[p.Phase] = true
		if int64(p.Commits) > p.Total || p.Total <= 0 {
			t.Errorf("progress %s: %d / %d", p.Phase, p.Commits, p.Total)
		}
	}
	last := reports[len(reports)-1]
	if last.Phase != "done" || int64(last.Commits) != last.Total || !phases["catch-up-done"] || !phases["rebuild-done"] {
		t.Fatalf("reports: %+v", reports)
	}
}

// TestRebuildCatchesUpWhatItsScanMissed: users created after a rebuild's
// scan and before its switch reach only the old collections; whichever way
// the catch-up finds them (the commit log; a scan by time when the log was
// trimmed past the rebuild's start; after waiting for another process that
// projects to see the switch), they are in the rebuilt read models.
func TestRebuildCatchesUpWhatItsScanMissed(t *testing.T) {
	for _, way := range []string{"log", "trimmed log", "another process"} {
		t.Run(way, func(t *testing.T) {
			s := startService(t)
			admin := s.admin()
			ctx := context.Background()
			s.createUser(admin, "early@uni.example", "Early", []string{"examiner"}, "")
			if way == "another process" {
				other := status.Record{ID: "users@another-process", Projection: "users", UpdatedAt: time.Now()}
				if err := imongo.NewProjectionStatus(s.app.store.DB).Save(ctx, other); err != nil {
					t.Fatal(err)
				}
			}
			var late []string
			res, err := s.app.Rebuild(ctx, nil, false, func(p rebuild.Progress) {
				if p.Phase != "rebuild-done" {
					return
				}
				for i := range 3 {
					late = append(late, s.createUser(admin, fmt.Sprintf("late%d@uni.example", i), "Late", []string{"examiner"}, ""))
				}
				if way == "trimmed log" {
					if _, err := trimLogToItsEnd(ctx, s); err != nil {
						t.Error(err)
					}
				}
			})
			if err != nil || !res.Switched {
				t.Fatalf("rebuild: %+v %v", res, err)
			}
			for _, id := range late {
				s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 200)
			}
			if res, err := s.app.Rebuild(ctx, nil, true, nil); err != nil || len(res.Differences) > 0 {
				t.Fatalf("the rebuilt read models differ from a rebuild: %v %v", res.Differences, err)
			}
		})
	}
}

// TestRebuildOnAQuietLogReadsTheStoreOnce: on a quiet service the
// catch-up trims the commit log to its end; a rebuild begun then, seconds
// after the last writes, finds nothing before its mark that may still have
// been in flight, and its catch-up reads nothing more. It used to find no
// entry left before the window to show where the window began, and scan
// the whole event store a second time (with a count of it beside).
func TestRebuildOnAQuietLogReadsTheStoreOnce(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	for i := range 5 {
		s.createUser(admin, fmt.Sprintf("quiet%d@uni.example", i), "Quiet", []string{"examiner"}, "")
	}
	// What the catch-up does once every projection has read the log: the
	// writes above were answered once the read models showed them.
	tail, err := trimLogToItsEnd(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if trimmed, err := outbox.NewCommitLog(s.app.store.DB).Trimmed(ctx); err != nil || trimmed != tail || tail < 5 {
		t.Fatalf("the log is trimmed to %d of %d (%v)", trimmed, tail, err)
	}
	var scanned []int
	res, err := s.app.Rebuild(ctx, nil, false, func(p rebuild.Progress) {
		if p.Phase == "catch-up-done" {
			scanned = append(scanned, p.Commits)
		}
	})
	if err != nil || !res.Switched {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	if len(scanned) != 1 || scanned[0] != 0 {
		t.Fatalf("the catch-up went over %v commits; nothing was appended during the rebuild", scanned)
	}
	if res, err := s.app.Rebuild(ctx, nil, true, nil); err != nil || len(res.Differences) > 0 {
		t.Fatalf("the rebuilt read models differ from a rebuild: %v %v", res.Differences, err)
	}
}

// TestRebuildCatchUpByTimePassesWhatItsScanHanded: a rebuild whose
// catch-up cannot read the commit log (trimmed meanwhile, or none) scans
// the commits recorded since a few seconds before it began; of those, what
// its own scan handed over is passed, not applied a second time (each a
// read of the document it belongs to). After writes a moment before, it
// applied each of them twice.
func TestRebuildCatchUpByTimePassesWhatItsScanHanded(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	users := 10 + rand.IntN(20)
	for i := range users {
		s.createUser(admin, fmt.Sprintf("twice%d@uni.example", i), "Twice", []string{"examiner"}, "")
	}
	stored, err := s.app.store.DB.Collection(imongo.CollEvents).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	byTime := *s.app.rebuilder
	byTime.Recent = nil // no log: the catch-up scans by time
	var caughtUp []int
	res, err := byTime.Run(ctx, nil, false, func(p rebuild.Progress) {
		if p.Phase == "catch-up-done" {
			caughtUp = append(caughtUp, p.Commits)
		}
	})
	if err != nil || !res.Switched {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	if len(caughtUp) != 1 || caughtUp[0] < users {
		t.Fatalf("the catch-up went over %v commits, not the %d writes of the seconds before", caughtUp, users)
	}
	if int64(res.Commits) != stored {
		t.Fatalf("the rebuild applied %d commits of %d stored: its catch-up applied again what its scan had", res.Commits, stored)
	}
	if res, err := s.app.Rebuild(ctx, nil, true, nil); err != nil || len(res.Differences) > 0 {
		t.Fatalf("the rebuilt read models differ from a rebuild: %v %v", res.Differences, err)
	}
}

// trimLogToItsEnd trims the service's commit log up to its last entry,
// whose position it returns.
func trimLogToItsEnd(ctx context.Context, s *service) (int64, error) {
	l := outbox.NewCommitLog(s.app.store.DB)
	tail, err := l.Tail(ctx)
	if err == nil {
		_, err = l.Trim(ctx, tail, int(tail))
	}
	return tail, err
}

// TestRebuildFromCommitsStoredOutOfOrder: a scan hands commits over in the
// order the store keeps them; should a stream's commits come out of version
// order, the rebuild fills the gap from the stream and still equals the
// live read models.
func TestRebuildFromCommitsStoredOutOfOrder(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	ctx := context.Background()
	s.createUser(admin, "order@uni.example", "Order", []string{"student"}, "order password 1")
	tok := s.signIn("order@uni.example", "order password 1")
	pid := s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Order 0"}), 201).str("id")
	edits := 2 + rand.IntN(5)
	for i := range edits {
		s.expect(s.do("PATCH", "/v1/projects/"+pid, tok, map[string]string{"title": fmt.Sprint("Order ", i+1)}), 200)
	}
	// Store the project's commits again, newest first.
	coll := s.app.store.DB.Collection(imongo.CollEvents)
	cur, err := coll.Find(ctx, bson.D{{Key: "stream_id", Value: pid}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil || len(docs) != edits+1 {
		t.Fatalf("%d commits of the project, %v", len(docs), err)
	}
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "stream_id", Value: pid}}); err != nil {
		t.Fatal(err)
	}
	for _, d := range slices.Backward(docs) {
		if _, err := coll.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var versions []int64
	if _, err := imongoEventStore(s).Scan(ctx, time.Time{}, func(c events.Commit) error {
		if c.StreamID == pid {
			versions = append(versions, c.FirstVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if slices.IsSorted(versions) {
		t.Fatalf("the scan gave the project's commits in order (%v): the test tests nothing", versions)
	}
	res, err := s.app.Rebuild(ctx, []string{"projects"}, true, nil)
	if err != nil || len(res.Differences) > 0 {
		t.Fatalf("a rebuild from commits out of order differs: %v %v", res.Differences, err)
	}
	if _, err := s.app.Rebuild(ctx, []string{"projects"}, false, nil); err != nil {
		t.Fatal(err)
	}
	got := s.expect(s.do("GET", "/v1/projects/"+pid, tok, nil), 200)
	if got.str("title") != fmt.Sprint("Order ", edits) || got.num("version") != int64(edits+1) {
		t.Fatalf("after the rebuild: %s", got.Raw)
	}
}

// TestRebuildInterruptedAfterItsSwitchIsFinished: a rebuild whose process
// stops after its switch, before its catch-up, leaves the switched read
// models without what was appended while it ran; a projector process
// finishes that catch-up from the rebuild's record, drops the old
// collections, and the read models then equal a rebuild.
func TestRebuildInterruptedAfterItsSwitchIsFinished(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "before@uni.example", "Before", []string{"examiner"}, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var late []string
	res, err := s.app.Rebuild(ctx, nil, false, func(p rebuild.Progress) {
		switch p.Phase {
		case "rebuild-done":
			for i := range 2 + rand.IntN(3) {
				late = append(late, s.createUser(admin, fmt.Sprintf("late%d@uni.example", i), "Late", []string{"examiner"}, ""))
			}
		case "switched":
			cancel() // the process stops here
		}
	})
	if err == nil || !res.Switched {
		t.Fatalf("the rebuild was not stopped after its switch: %+v %v", res, err)
	}
	for _, id := range late {
		s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 404) // what the switch lost
	}
	bg := context.Background()
	if n, err := s.app.rebuilder.Resume(bg, time.Hour); err != nil || n != 0 {
		t.Fatalf("a catch-up beaten a moment ago was taken over: %d, %v", n, err)
	}
	if n, err := s.app.rebuilder.Resume(bg, 0); err != nil || n != 1 {
		t.Fatalf("Resume finished %d catch-ups, %v; want 1", n, err)
	}
	for _, id := range late {
		s.expect(s.do("GET", "/v1/users/"+id, admin, nil), 200)
	}
	if n, err := s.app.rebuilder.Resume(bg, 0); err != nil || n != 0 {
		t.Fatalf("a finished catch-up was finished again: %d, %v", n, err)
	}
	names, err := s.app.store.DB.ListCollectionNames(bg, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range projections.Names() {
		if slices.Contains(names, n) && res.Collections[n] != n {
			t.Errorf("the old collection %s was not dropped", n)
		}
	}
	if v, err := s.app.Rebuild(bg, nil, true, nil); err != nil || len(v.Differences) > 0 {
		t.Fatalf("after the catch-up, the read models differ from a rebuild: %v %v", v.Differences, err)
	}
}
