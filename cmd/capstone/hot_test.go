package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/queries"
)

// storeBacked serves s's API with every query reading the store itself,
// never memory: what a read from memory must answer, byte for byte.
func storeBacked(t *testing.T, s *service) *service {
	t.Helper()
	rm := imongo.NewReadModels(s.app.store.DB) // serves nothing from memory
	es := imongoEventStore(s)
	srv := *s.app.API
	srv.UserQ = queries.Users{Reader: rm, Streams: es}
	srv.ProjectQ = queries.Projects{Reader: rm, Streams: es}
	srv.SupervisorQ = queries.Supervisors{Reader: rm}
	srv.StudentQ = queries.Students{Reader: rm}
	srv.ExportQ = queries.Exports{Reader: rm}
	srv.MarkingQ = queries.Marking{Reader: rm}
	srv.Consistency = nil
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &service{t: t, base: hs.URL}
}

// hotCohort is a few supervisors and students, signed in, and the projects
// the students made.
type hotCohort struct {
	admin          string
	sups, studs    []string // ids
	supTok, stuTok []string
	projects       []string
	owner          map[string]int // project -> student index
}

func newHotCohort(t *testing.T, s *service, nSup, nStu int) *hotCohort {
	c := &hotCohort{admin: s.admin(), owner: map[string]int{}}
	for i := range nSup {
		email := fmt.Sprintf("sup%d@uni.example", i)
		c.sups = append(c.sups, s.createUser(c.admin, email, fmt.Sprint("Dr ", i), []string{"supervisor"}, "supervisor pw 123"))
		c.supTok = append(c.supTok, s.signIn(email, "supervisor pw 123"))
	}
	for i := range nStu {
		email := fmt.Sprintf("stu%d@uni.example", i)
		c.studs = append(c.studs, s.createUser(c.admin, email, fmt.Sprint("Stu ", i), []string{"student"}, "student pw 1234"))
		c.stuTok = append(c.stuTok, s.signIn(email, "student pw 1234"))
	}
	return c
}

// step sends one random command through s (refusals are fine: they must
// change nothing, and the reads compare that too).
func (c *hotCohort) step(t *testing.T, s *service, rng *rand.Rand) {
	i, j := rng.IntN(len(c.studs)), rng.IntN(len(c.sups))
	var pid string
	if len(c.projects) > 0 {
		pid = c.projects[rng.IntN(len(c.projects))]
	}
	var r response
	switch op := rng.IntN(9); {
	case op == 0 || pid == "":
		body := map[string]string{"title": fmt.Sprint("Project ", rng.IntN(100)), "description": "d"}
		if rng.IntN(2) == 0 {
			body["supervisor_id"] = c.sups[j]
		}
		r = s.do("POST", "/v1/projects", c.stuTok[i], body)
		if r.Status == 201 {
			c.projects = append(c.projects, r.str("id"))
			c.owner[r.str("id")] = i
		}
	case op == 1:
		r = s.do("PATCH", "/v1/projects/"+pid, c.stuTok[c.owner[pid]], map[string]string{"title": fmt.Sprint("Edited ", rng.IntN(100))})
	case op == 2:
		r = s.do("POST", "/v1/projects/"+pid+"/submit", c.stuTok[c.owner[pid]], map[string]string{"supervisor_id": c.sups[j]})
	case op == 3:
		decision := []string{"accept", "reject"}[rng.IntN(2)]
		r = s.do("POST", "/v1/projects/"+pid+"/decision", c.supTok[j], map[string]string{"decision": decision, "comment": "ok"})
	case op == 4:
		r = s.do("DELETE", "/v1/projects/"+pid, c.stuTok[c.owner[pid]], nil)
	case op == 5:
		r = s.do("PUT", "/v1/supervisors/"+c.sups[j]+"/profile", c.admin, map[string]any{"areas": []string{"ML", "Systems"}[:rng.IntN(3)],
			"info": fmt.Sprint("room ", rng.IntN(9)), "project_ideas": []any{}, "capacity": rng.IntN(4)})
	case op == 6:
		prefs := slices.Clone(c.sups)
		rng.Shuffle(len(prefs), func(a, b int) { prefs[a], prefs[b] = prefs[b], prefs[a] })
		r = s.do("PUT", "/v1/students/"+c.studs[i]+"/preferences", c.stuTok[i], map[string]any{"supervisor_ids": prefs[:rng.IntN(len(prefs)+1)]})
	case op == 7:
		r = s.do("PATCH", "/v1/users/"+c.sups[j], c.admin, map[string]string{"name": fmt.Sprint("Dr ", rng.IntN(100))})
	default:
		r = s.do("PATCH", "/v1/users/"+c.studs[i], c.admin, map[string]string{"name": fmt.Sprint("Stu ", rng.IntN(100))})
	}
	if r.Status >= 500 {
		t.Fatalf("a command answered %d: %s", r.Status, r.Raw)
	}
}

// reads are the GETs served from the hot read models, as their callers.
func (c *hotCohort) reads(rng *rand.Rand) []conditionalRead {
	out := []conditionalRead{{"/v1/supervisors", c.stuTok[0]}, {"/v1/users?role=student", c.admin}, {"/v1/users", c.admin},
		{fmt.Sprintf("/v1/users?limit=%d&q=%s", 1+rng.IntN(4), []string{"stu", "DR", "1", "x"}[rng.IntN(4)]), c.admin},
		{"/v1/projects", c.admin}, {"/v1/projects?status=" + []string{"draft", "submitted", "accepted"}[rng.IntN(3)], c.admin},
		{fmt.Sprintf("/v1/projects?limit=%d&q=edited", 1+rng.IntN(3)), c.admin}}
	for j, id := range c.sups {
		out = append(out, conditionalRead{"/v1/projects", c.supTok[j]}, conditionalRead{"/v1/projects?supervisor_id=" + id, c.admin},
			conditionalRead{"/v1/supervisors/" + id + "/supervisees", c.supTok[j]})
	}
	for _, limit := range []int{1 + rng.IntN(3), 50} {
		out = append(out, conditionalRead{fmt.Sprintf("/v1/supervisors?limit=%d", limit), c.stuTok[rng.IntN(len(c.stuTok))]})
	}
	for j, id := range c.sups {
		out = append(out, conditionalRead{"/v1/supervisors/" + id, c.stuTok[0]}, conditionalRead{"/v1/users/" + id, c.supTok[j]},
			conditionalRead{"/v1/me", c.supTok[j]})
	}
	for i, id := range c.studs {
		out = append(out, conditionalRead{"/v1/students/" + id, c.stuTok[i]}, conditionalRead{"/v1/students/" + id, c.admin},
			conditionalRead{"/v1/users/" + id, c.admin})
	}
	for _, pid := range c.projects {
		out = append(out, conditionalRead{"/v1/projects/" + pid, c.stuTok[c.owner[pid]]}, conditionalRead{"/v1/projects/" + pid, c.admin},
			conditionalRead{"/v1/projects/" + pid + "?min_version=1", c.supTok[rng.IntN(len(c.supTok))]})
	}
	return out
}

// sameAnswers fails the test unless every read answers the same status,
// ETag and bytes from memory (mem) and from the store (store).
func sameAnswers(t *testing.T, mem, store *service, reads []conditionalRead, when string) {
	t.Helper()
	for _, rd := range reads {
		m, s := mem.do("GET", rd.path, rd.token, nil), store.do("GET", rd.path, rd.token, nil)
		if m.Status != s.Status || m.Raw != s.Raw || m.Header.Get("ETag") != s.Header.Get("ETag") {
			t.Fatalf("%s: GET %s differs\n memory: %d %s %s\n store:  %d %s %s", when, rd.path,
				m.Status, m.Header.Get("ETag"), m.Raw, s.Status, s.Header.Get("ETag"), s.Raw)
		}
	}
}

// quietly sends a request from a goroutine other than the test's, where a
// failure cannot stop the test: what it answers is not looked at.
func quietly(s *service, method, path, token string, body any) {
	req, err := s.request(method, path, token, body)
	if err != nil {
		return
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestHotReadsMatchTheStore: through random commands on the all-in-one
// service, every read served from memory (the supervisors, users and
// projects lists and pages of them, supervisors, students, users and
// projects by id) answers byte for byte what the same read answers from
// the store.
func TestHotReadsMatchTheStore(t *testing.T) {
	s := startService(t)
	store := storeBacked(t, s)
	c := newHotCohort(t, s, 3, 4)
	rng := rand.New(rand.NewPCG(7, 16))
	for step := range 60 {
		c.step(t, s, rng)
		sameAnswers(t, s, store, c.reads(rng), fmt.Sprint("after step ", step))
	}
}

// TestHotReadsAfterRebuild: a rebuild switches the read models to fresh
// collections while writes and reads go on; memory then holds nothing the
// store does not (the rebuild's catch-up writes through a store of its
// own, and memory must see those writes too).
func TestHotReadsAfterRebuild(t *testing.T) {
	s := startService(t)
	store := storeBacked(t, s)
	c := newHotCohort(t, s, 3, 4)
	rng := rand.New(rand.NewPCG(8, 16))
	for range 20 {
		c.step(t, s, rng)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // writes on, through the switch
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			j := n % len(c.sups)
			quietly(s, "PUT", "/v1/supervisors/"+c.sups[j]+"/profile", c.admin, map[string]any{"areas": []string{}, "info": fmt.Sprint("write ", n), "capacity": n % 5})
			pid := c.projects[n%len(c.projects)]
			quietly(s, "PATCH", "/v1/projects/"+pid, c.stuTok[c.owner[pid]], map[string]string{"title": fmt.Sprint("Write ", n)})
		}
	}()
	go func() { // and reads fill memory from whichever collection is live
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, rd := range c.reads(rand.New(rand.NewPCG(1, 1))) {
				quietly(s, "GET", rd.path, rd.token, nil)
			}
		}
	}()
	s.expect(s.do("POST", "/v1/admin/projections/rebuild", c.admin, map[string]any{}), 202)
	done := awaitRebuild(t, s, c.admin)
	time.Sleep(500 * time.Millisecond) // writes go on past the rebuild's catch-up
	close(stop)
	wg.Wait()
	if rb, _ := done.Body["rebuild"].(map[string]any); rb == nil || rb["phase"] != "done" || rb["error"] != nil {
		t.Fatalf("the rebuild: %s", done.Raw)
	}
	sameAnswers(t, s, store, c.reads(rng), "after the rebuild")
}
