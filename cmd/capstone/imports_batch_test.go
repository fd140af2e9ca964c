package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/tools/cohortbench"
)

// TestImportBatchedKeepsEachRow: a supervisors file sets its capacities in
// a commit per hundred rows, not one per row, and keeps everything a row
// had on its own: its result (a refused row is reported with its reason,
// and the others are applied), its own CapacitySet and UserCreated in the
// history with the coordinator as actor, and the cohort's rules (a
// capacity below the students placed is refused). Imported again, the file
// changes nothing.
func TestImportBatchedKeepsEachRow(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	me := s.expect(s.do("GET", "/v1/me", admin, nil), 200).str("id")
	s.expect(s.upload(admin, "supervisors", "s.csv", []byte("Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n,Busy,,,busy@uni.example,,2\n"), ""), 200)
	s.expect(s.upload(admin, "students", "s.csv", []byte("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n,Placed,,,,,placed@uni.example,\n"), ""), 200)
	s.expect(s.upload(admin, "supervisor-assignments", "a.csv", []byte("Student Id,Student Email,Student Name,Supervisor Id,Supervisor Email,Supervisor Name\n,placed@uni.example,Placed,,busy@uni.example,Busy\n"), ""), 200)

	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	const n = 150
	var b strings.Builder
	b.WriteString("Supervisor Code,Name,Position,Department,QM Email,Username,Slots\n")
	slots := map[string]int{}
	badLine := map[int]string{}
	for i := range n {
		line := i + 2
		switch i {
		case 40: // placed with: refused below its one student
			fmt.Fprintf(&b, ",Busy,,,busy@uni.example,,0\n")
			badLine[line] = "capacity cannot be lower"
		case 111: // a coordinator's account: refused
			fmt.Fprintf(&b, ",Coord,,,%s,,3\n", adminEmail)
			badLine[line] = "coordinator"
		default:
			email := fmt.Sprintf("batch%03d@uni.example", i)
			slots[email] = rng.IntN(20)
			fmt.Fprintf(&b, ",Supervisor %d,,,%s,,%d\n", i, email, slots[email])
		}
	}
	cohortCommits := func() int64 {
		n, err := s.app.store.DB.Collection(imongo.CollEvents).CountDocuments(context.Background(), bson.D{{Key: "stream_id", Value: events.CohortStreamID}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := cohortCommits()
	rep := s.expect(s.upload(admin, "supervisors", "s.csv", []byte(b.String()), ""), 200)
	if rep.num("rows") != n || rep.num("created") != int64(len(slots)) || rep.num("updated") != 0 {
		t.Fatalf("report: %.500s", rep.Raw)
	}
	errs := rep.Body["errors"].([]any)
	if len(errs) != len(badLine) {
		t.Fatalf("refused rows %v, want lines %v", errs, badLine)
	}
	for _, e := range errs {
		e := e.(map[string]any)
		if want := badLine[int(e["line"].(float64))]; want == "" || !strings.Contains(e["message"].(string), want) {
			t.Errorf("refused row %v, want lines %v", e, badLine)
		}
	}
	if commits := cohortCommits() - before; commits > (n+99)/100 {
		t.Errorf("the file's capacities took %d commits on the cohort stream, want at most %d", commits, (n+99)/100)
	}

	board, _, err := s.app.Cohort.Board(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	es := imongoEventStore(s)
	capacitySet := map[string]events.Actor{}
	commits, err := es.ReadStream(context.Background(), events.CohortStreamID, events.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commits {
		for _, e := range c.Events {
			if d, ok := e.Data.(*events.CapacitySet); ok {
				capacitySet[d.SupervisorID] = e.Actor
			}
		}
	}
	for email, want := range slots {
		u, err := s.app.Users.FindByEmail(context.Background(), email)
		if err != nil {
			t.Fatalf("%s: %v", email, err)
		}
		id := u.State.ID
		if got, ok := board.Capacity[id]; !ok || got != want {
			t.Errorf("%s: capacity %d (set %v), want %d", email, got, ok, want)
		}
		if capacitySet[id].UserID != me {
			t.Errorf("%s: the CapacitySet's actor is %+v, want the coordinator %s", email, capacitySet[id], me)
		}
		history, err := es.ReadStream(context.Background(), id, events.ReadOptions{})
		if err != nil || len(history) == 0 || history[0].Events[0].Type != "UserCreated" || history[0].Events[0].Actor.UserID != me {
			t.Errorf("%s: history %v, %v: want its UserCreated by the coordinator", email, history, err)
		}
	}
	busy, err := s.app.Users.FindByEmail(context.Background(), "busy@uni.example")
	if err != nil || board.Capacity[busy.State.ID] != 2 {
		t.Errorf("the refused capacity changed the board: %d, %v", board.Capacity[busy.State.ID], err)
	}

	before = cohortCommits()
	again := s.expect(s.upload(admin, "supervisors", "s.csv", []byte(b.String()), ""), 200)
	if again.num("unchanged") != int64(len(slots)) || cohortCommits() != before {
		t.Errorf("imported again: %.300s; %d new cohort commits", again.Raw, cohortCommits()-before)
	}
}

// TestImportOutlastsTheWriteTimeout: the service's own handler, under a
// server whose write timeout is shorter than an import, still sends the
// import's answer: an import extends its deadline through every layer of
// the handler.
func TestImportOutlastsTheWriteTimeout(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	short := httptest.NewUnstartedServer(s.app.http.Handler)
	short.Config.WriteTimeout = 100 * time.Millisecond
	short.Start()
	defer short.Close()
	file := cohortbench.Generate(cohortbench.Size{Students: 300, Supervisors: 5, Choices: 1, Seed: 5}).Students
	req, _ := http.NewRequest("POST", short.URL+"/v1/imports/students", bytes.NewReader(file))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+admin)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the answer was cut off after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	var rep struct {
		Created int `json:"created"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 || rep.Created != 300 {
		t.Fatalf("answer %d, created %d, %v", resp.StatusCode, rep.Created, err)
	}
	if d := time.Since(start); d < short.Config.WriteTimeout {
		t.Logf("the import took %v, within the write timeout: nothing was tested", d)
	}
}
