package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The fault-injection suite drives a recorded load through faults, on the
// several-processes topology and on the all-in-one service, and checks
// every acknowledged write: in the history (the event store), in the read
// models, and the read models against a rebuild. Run it with
//
//	go test ./cmd/capstone -run TestFaults -v              # the short suite (CI)
//	go test ./cmd/capstone -run TestFaults -v -faults.long # every fault, more load
var faultsLong = flag.Bool("faults.long", false, "run the long fault-injection suite (every fault, more load)")

// convergeWithin is the promise: read models show every acknowledged write
// and equal a rebuild this soon after a fault clears.
const convergeWithin = 10 * time.Second

// truthWait bounds how long checkAll reads the store's latest aims (every
// project's history), which is the harness's work, not the service's
// convergence.
const truthWait = 5 * time.Minute

// faultClient is a student writing through the API the way a careful client
// does: a create carries an Idempotency-Key and is retried with it until it
// gets a definite answer; an edit is retried until acknowledged.
type faultClient struct {
	bases   func() []string // the API addresses to try, in turn
	token   string
	student string
	rng     *rand.Rand
	tag     string

	mu      sync.Mutex
	created map[string]string // title -> id, acknowledged creates
	aims    map[string]string // id -> last acknowledged aim
	edits   map[string][]string
	seq     int
}

// call sends one request to the first API that answers; err is set when
// none answers.
func (c *faultClient) call(method, path string, body any, headers ...string) (int, map[string]any, error) {
	raw, _ := json.Marshal(body)
	var lastErr error
	for _, base := range c.bases() {
		req, _ := http.NewRequest(method, "http://"+base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.token)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := faultHTTP.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		out := map[string]any{}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out, nil
	}
	return 0, nil, lastErr
}

var faultHTTP = &http.Client{Timeout: 15 * time.Second}

// projects reads every project the client may see, page by page: a
// client of a long run makes far more than one page of them.
func (c *faultClient) projects() (int, []any, error) {
	var all []any
	cursor := ""
	for {
		status, page, err := c.call("GET", "/v1/projects?limit=200&cursor="+url.QueryEscape(cursor), nil)
		if err != nil || status != 200 {
			return status, all, err
		}
		items, _ := page["items"].([]any)
		all = append(all, items...)
		if cursor, _ = page["next_cursor"].(string); cursor == "" {
			return status, all, nil
		}
	}
}

// history reads a project's whole history, page by page.
func (c *faultClient) history(id string) (int, []any, error) {
	var all []any
	cursor := ""
	for {
		status, page, err := c.call("GET", "/v1/projects/"+id+"/history?limit=200&cursor="+url.QueryEscape(cursor), nil)
		if err != nil || status != 200 {
			return status, all, err
		}
		evs, _ := page["items"].([]any)
		all = append(all, evs...)
		if cursor, _ = page["next_cursor"].(string); cursor == "" {
			return status, all, nil
		}
	}
}

// step makes one write and records it once acknowledged. It returns false
// if the write got an answer that no fault explains (a 5xx other than 503
// or 507, or a refusal of a valid request).
func (c *faultClient) step(deadline time.Time) (ok bool, detail string) {
	c.mu.Lock()
	c.seq++
	n := c.seq
	var ids []string
	for _, id := range c.created {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	sort.Strings(ids)
	if len(ids) == 0 || c.rng.IntN(3) == 0 {
		title := fmt.Sprintf("%s create %d", c.tag, n)
		key := fmt.Sprintf("%s-%d", c.tag, n)
		for time.Now().Before(deadline.Add(time.Minute)) { // an ambiguous create is resolved, however long the fault
			status, body, err := c.call("POST", "/v1/projects", map[string]string{"title": title}, "Idempotency-Key", key)
			switch {
			case err != nil || status == 503 || status == 507 || status == 502 || status == 504:
				time.Sleep(200 * time.Millisecond)
				continue
			case status == 201:
				c.mu.Lock()
				c.created[title] = fmt.Sprint(body["id"])
				c.mu.Unlock()
				return true, ""
			default:
				return false, fmt.Sprintf("create answered %d %v", status, body)
			}
		}
		return true, "" // never resolved: not acknowledged
	}
	id := ids[c.rng.IntN(len(ids))]
	aim := fmt.Sprintf("%s aim %d", c.tag, n)
	status, body, err := c.call("PATCH", "/v1/projects/"+id, map[string]string{"aim": aim})
	switch {
	case err != nil || status == 503 || status == 507 || status == 502 || status == 504:
		return true, "" // not acknowledged: it may or may not be stored
	case status == 200:
		c.mu.Lock()
		c.aims[id] = aim
		c.edits[id] = append(c.edits[id], aim)
		c.mu.Unlock()
		return true, ""
	case status == 409 || status == 412:
		return true, "" // a race with this client's own retried edit
	}
	return false, fmt.Sprintf("edit answered %d %v", status, body)
}

// faultLoad runs the clients until stop is closed, recording what is
// acknowledged; unexplained answers are collected.
type faultLoad struct {
	clients []*faultClient
	stop    chan struct{}
	wg      sync.WaitGroup
	writes  atomic.Int64
	bad     atomic.Int64
	badMu   sync.Mutex
	badSeen []string
}

func (l *faultLoad) start() {
	l.stop = make(chan struct{})
	for _, c := range l.clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ok, detail := c.step(time.Now())
				l.writes.Add(1)
				if !ok {
					l.bad.Add(1)
					l.badMu.Lock()
					if len(l.badSeen) < 5 {
						l.badSeen = append(l.badSeen, detail)
					}
					l.badMu.Unlock()
				}
				time.Sleep(time.Duration(5+c.rng.IntN(20)) * time.Millisecond)
			}
		}()
	}
}

func (l *faultLoad) halt() {
	close(l.stop)
	l.wg.Wait()
}

// faultReport is what one phase found.
type faultReport struct {
	Fault      string
	Acked      int
	Lost       int
	Duplicated int
	Converged  time.Duration
	Verified   bool
	Unexplain  int64
}

// checkAll waits until the read models show every acknowledged write, then
// checks the history and a rebuild; cleared is when the fault cleared.
func checkAll(t testing.TB, name string, cleared time.Time, load *faultLoad, admin *faultClient) faultReport {
	t.Helper()
	rep := faultReport{Fault: name, Unexplain: load.bad.Load()}
	for _, c := range load.clients {
		rep.Acked += len(c.created)
		for _, e := range c.edits {
			rep.Acked += len(e)
		}
	}
	// The store is final once the load has stopped: the latest aim of each
	// project with an acknowledged edit is read from its history once, while
	// the lists are polled. Each poll is judged against it once it is known,
	// so that neither the reading of the histories nor a poll's own length
	// (both grow with the history) counts as the service's convergence.
	truth := make(chan []map[string]string, 1)
	go func() {
		var aims []map[string]string
		for _, c := range load.clients {
			latest := map[string]string{}
			for id := range c.aims {
				latest[id] = latestAim(c, id, cleared.Add(3*convergeWithin))
			}
			aims = append(aims, latest)
		}
		truth <- aims
	}()
	shows := func(lists [][]any, aims []map[string]string) (bool, string) {
		for i, c := range load.clients {
			byTitle := map[string][]string{}
			listed := map[string]string{}
			for _, it := range lists[i] {
				m, _ := it.(map[string]any)
				byTitle[fmt.Sprint(m["title"])] = append(byTitle[fmt.Sprint(m["title"])], fmt.Sprint(m["id"]))
				listed[fmt.Sprint(m["id"])] = fmt.Sprint(m["aim"])
			}
			for title, id := range c.created {
				if ids := byTitle[title]; len(ids) != 1 || ids[0] != id {
					return false, fmt.Sprintf("%s: list has %v for %q, acknowledged %s", c.tag, ids, title, id)
				}
			}
			if len(lists[i]) != len(c.created) {
				return false, fmt.Sprintf("%s: %d projects listed, %d acknowledged", c.tag, len(lists[i]), len(c.created))
			}
			for id, latest := range aims[i] {
				// The read model must show the latest aim the store has.
				if listed[id] != latest {
					return false, fmt.Sprintf("%s: project %s shows aim %q, the store %q", c.tag, id, listed[id], latest)
				}
			}
		}
		return true, ""
	}
	type poll struct {
		lists [][]any
		at    time.Duration // since cleared, when the poll ended
	}
	var (
		aims    []map[string]string
		polls   []poll
		why     string
		shown   [][]any // the first poll that showed everything
		shownAt time.Duration
	)
	for shown == nil {
		p, ok := poll{}, true
		for _, c := range load.clients {
			status, items, err := c.projects()
			if err != nil || status != 200 {
				why, ok = fmt.Sprint("list: ", status, err), false
				break
			}
			p.lists = append(p.lists, items)
		}
		p.at = time.Since(cleared)
		if ok {
			polls = append(polls, p)
		}
		if aims == nil {
			select {
			case aims = <-truth:
			default:
			}
		}
		if aims != nil {
			for _, p := range polls {
				if ok, w := shows(p.lists, aims); ok {
					shown, shownAt = p.lists, p.at
					break
				} else {
					why = w
				}
			}
			polls = nil
		}
		// Until the store's aims are known, no poll can be judged: the
		// polls are kept, with their times, and judged once they are. So
		// the wait is bounded from when they are known (reading a long
		// run's histories, while the polls share the cores, has taken over
		// 30 s at load 10), not from when the fault cleared.
		if shown == nil && aims == nil && time.Since(cleared) > truthWait {
			rep.Converged = time.Since(cleared)
			t.Errorf("%s: the store's latest aims were not read within %s", name, truthWait)
			break
		}
		if shown == nil && aims != nil && time.Since(cleared) > 3*convergeWithin {
			rep.Converged = time.Since(cleared)
			t.Errorf("%s: read models did not show every acknowledged write: %s", name, why)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep.Converged = max(rep.Converged, shownAt)
	// Writes that were stored but never acknowledged (an edit cut off by the
	// fault) reach the read models by the catch-up too: a rebuild is equal
	// once they have, which must also be within convergeWithin (checked
	// before the histories, whose reading is no part of the convergence).
	// A rebuild takes longer the longer the history (15 s after 9,000
	// writes on a busy machine), so the read models are compared with it
	// as they were when it began: the load's projects, with their
	// versions, are the same at its end as at its beginning (only the load
	// writes, and only projects), so what was equal at its end was so at
	// its beginning, and at the poll above that showed them so too.
	for {
		began, before := time.Since(cleared), projectVersions(load)
		diffs, err := verifyRebuild(admin)
		if err == nil && len(diffs) == 0 && before != "" && projectVersions(load) == before {
			rep.Verified = true
			if before != versionsOf(shown) {
				rep.Converged = max(rep.Converged, began) // they moved after that poll
			}
			break
		}
		if time.Since(cleared) > 3*convergeWithin {
			t.Errorf("%s: read models differ from a rebuild: %v %.500v", name, err, diffs)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every acknowledged write is in the history, once.
	for _, c := range load.clients {
		for title, id := range c.created {
			status, evs, err := c.history(id)
			if err != nil || status != 200 || len(evs) == 0 {
				rep.Lost++
				continue
			}
			first, _ := evs[0].(map[string]any)
			if d, _ := first["data"].(map[string]any); first["type"] != "ProjectCreated" || d["title"] != title {
				rep.Lost++
			}
			seen := map[string]bool{}
			for _, e := range evs {
				m, _ := e.(map[string]any)
				if d, _ := m["data"].(map[string]any); m["type"] == "ProjectEdited" {
					seen[fmt.Sprint(d["aim"])] = true
				}
			}
			for _, aim := range c.edits[id] {
				if !seen[aim] {
					rep.Lost++
				}
			}
		}
		// Duplicates: a title (one key) that made more than one project.
		status, items, _ := c.projects()
		if status == 200 {
			count := map[string]int{}
			for _, it := range items {
				m, _ := it.(map[string]any)
				count[fmt.Sprint(m["title"])]++
			}
			for _, n := range count {
				if n > 1 {
					rep.Duplicated += n - 1
				}
			}
		}
	}
	return rep
}

// projectVersions lists every project of the load's clients with its
// version as the read models show it ("" if a list failed).
func projectVersions(load *faultLoad) string {
	var lists [][]any
	for _, c := range load.clients {
		status, items, err := c.projects()
		if err != nil || status != 200 {
			return ""
		}
		lists = append(lists, items)
	}
	return versionsOf(lists)
}

// versionsOf lists the projects of the clients' lists with their versions.
func versionsOf(lists [][]any) string {
	var b strings.Builder
	for _, items := range lists {
		for _, it := range items {
			m, _ := it.(map[string]any)
			fmt.Fprintf(&b, "%v@%v ", m["id"], m["version"])
		}
	}
	return b.String()
}

// latestAim is the project's last aim in the store, read from its history
// (retried until deadline; "" if it could not be read).
func latestAim(c *faultClient, id string, deadline time.Time) string {
	for {
		status, evs, err := c.history(id)
		if err == nil && status == 200 {
			latest := ""
			for _, e := range evs {
				m, _ := e.(map[string]any)
				if m["type"] == "ProjectEdited" {
					d, _ := m["data"].(map[string]any)
					latest = fmt.Sprint(d["aim"])
				}
			}
			return latest
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verifyRebuild runs a verifying rebuild through the admin API and returns
// the documents (per read model) that differ from it. It asks one process
// for the rebuild and for its outcome: a process reports the rebuilds it
// ran, and another one's answer is whatever rebuild that one ran last (an
// earlier phase's, equal or not).
func verifyRebuild(anyAPI *faultClient) (map[string]any, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		base := anyAPI.bases()[0]
		admin := &faultClient{bases: func() []string { return []string{base} }, token: anyAPI.token}
		status, body, err := admin.call("POST", "/v1/admin/projections/rebuild", map[string]any{"verify": true})
		if err != nil || status == 409 {
			time.Sleep(300 * time.Millisecond)
			continue
		}
		if status != 202 {
			return nil, fmt.Errorf("verify rebuild answered %d %v", status, body)
		}
		for time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			status, body, err := admin.call("GET", "/v1/admin/projections", nil)
			if err != nil || status != 200 {
				continue
			}
			rb, _ := body["rebuild"].(map[string]any)
			if rb == nil || rb["finished_at"] == nil {
				continue
			}
			if e, _ := rb["error"].(string); e != "" {
				return nil, fmt.Errorf("verify rebuild failed: %s", e)
			}
			diffs := map[string]any{}
			d, _ := rb["differences"].(map[string]any)
			for name, ids := range d {
				if l, _ := ids.([]any); len(l) > 0 {
					diffs[name] = l
				}
			}
			return diffs, nil
		}
	}
	return nil, fmt.Errorf("the verifying rebuild did not finish")
}

func newFaultClients(t *testing.T, bases func() []string, admin *faultClient, n int) []*faultClient {
	t.Helper()
	var out []*faultClient
	for i := range n {
		email := fmt.Sprintf("fault%d-%d@uni.example", i, rand.Uint32())
		status, body, err := admin.call("POST", "/v1/users", map[string]any{"email": email, "name": fmt.Sprint("Fault ", i),
			"roles": []string{"student"}, "password": "fault student password"}, "Idempotency-Key", fmt.Sprintf("u-%d-%d", i, rand.Uint32()))
		if err != nil || status != 201 {
			t.Fatalf("create student: %d %v %v", status, body, err)
		}
		c := &faultClient{bases: bases, student: fmt.Sprint(body["id"]), rng: rand.New(rand.NewPCG(uint64(i), rand.Uint64())),
			tag: fmt.Sprintf("c%d", i), created: map[string]string{}, aims: map[string]string{}, edits: map[string][]string{}}
		status, body, err = c.call("POST", "/v1/auth/sign-in", map[string]string{"email": email, "password": "fault student password"})
		if err != nil || status != 200 {
			t.Fatalf("sign in: %d %v %v", status, body, err)
		}
		c.token = fmt.Sprint(body["token"])
		out = append(out, c)
	}
	return out
}

func signInAdmin(t *testing.T, bases func() []string) *faultClient {
	t.Helper()
	admin := &faultClient{bases: bases, rng: rand.New(rand.NewPCG(1, 2))}
	status, body, err := admin.call("POST", "/v1/auth/sign-in", map[string]string{"email": adminEmail, "password": adminPassword})
	if err != nil || status != 200 {
		t.Fatalf("sign in: %d %v %v", status, body, err)
	}
	admin.token = fmt.Sprint(body["token"])
	return admin
}

// faultPhase runs the load, injects a fault after a while, clears it, and
// checks everything once the load stops.
type faultPhase struct {
	name  string
	fault func()
	clear func()
}

func runPhases(t *testing.T, load *faultLoad, admin *faultClient, phases []faultPhase, loadFor time.Duration) []faultReport {
	t.Helper()
	var reports []faultReport
	for _, ph := range phases {
		load.bad.Store(0)
		load.start()
		time.Sleep(loadFor / 2)
		ph.fault()
		ph.clear()
		time.Sleep(loadFor / 2)
		load.halt()
		cleared := time.Now()
		rep := checkAll(t, ph.name, cleared, load, admin)
		if rep.Unexplain > 0 {
			t.Errorf("%s: %d writes got answers no fault explains, e.g. %v", ph.name, rep.Unexplain, load.badSeen)
		}
		if rep.Lost > 0 || rep.Duplicated > 0 || !rep.Verified || rep.Converged > convergeWithin {
			t.Errorf("%s: %d lost, %d duplicated, converged in %s (want 0, 0, within %s), rebuild equal: %v",
				ph.name, rep.Lost, rep.Duplicated, rep.Converged.Round(10*time.Millisecond), convergeWithin, rep.Verified)
		}
		t.Logf("%s: %d acknowledged, %d lost, %d duplicated, converged in %.2fs, rebuild equal %v",
			rep.Fault, rep.Acked, rep.Lost, rep.Duplicated, rep.Converged.Seconds(), rep.Verified)
		reports = append(reports, rep)
	}
	return reports
}

func printReports(t *testing.T, topology string, reps []faultReport) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-32s %8s %6s %11s %11s %14s\n", topology, "fault", "acked", "lost", "duplicated", "converged", "rebuild-equal")
	for _, r := range reps {
		fmt.Fprintf(&b, "%-32s %8d %6d %11d %10.2fs %14v\n", r.Fault, r.Acked, r.Lost, r.Duplicated, r.Converged.Seconds(), r.Verified)
	}
	t.Log("\n" + b.String())
	fmt.Println(b.String())
}

// TestFaultsSeveralProcesses: the store, the Pub/Sub emulator, two APIs, a
// relay and two projectors as separate processes of the built binary.
func TestFaultsSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs seven processes under faults")
	}
	dir := t.TempDir()
	if d := os.Getenv("CAPSTONE_FAULTS_DIR"); d != "" {
		dir = d // kept, with every process's log
	}
	c := &cluster{t: t, bin: buildBinary(t), dir: dir, procs: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	t.Cleanup(c.stopAll)
	c.mongo, c.pubsub = freeAddr(t), freeAddr(t)
	startEmulator := func() {
		// The port may take a moment to be free again after a kill.
		for try := 0; ; try++ {
			c.start("emulator", nil, "pubsub-emulator", "--addr", c.pubsub)
			cmd := c.proc("emulator")
			exited := make(chan struct{})
			go func() { _, _ = cmd.Process.Wait(); close(exited) }()
			up := false
			for range 50 {
				if conn, err := net.DialTimeout("tcp", c.pubsub, 100*time.Millisecond); err == nil {
					conn.Close()
					up = true
					break
				}
				select {
				case <-exited:
				case <-time.After(100 * time.Millisecond):
					continue
				}
				break
			}
			if up || try == 20 {
				return
			}
		}
	}
	c.startStore()
	startEmulator()
	time.Sleep(time.Second)
	c.serveAll()
	bases := func() []string {
		if rand.IntN(2) == 0 {
			return []string{c.addrs["api1"], c.addrs["api2"]}
		}
		return []string{c.addrs["api2"], c.addrs["api1"]}
	}
	admin := signInAdmin(t, bases)
	load := &faultLoad{clients: newFaultClients(t, bases, admin, 6)}
	restart := func(name, components string) func() {
		return func() { c.serve(name, components) }
	}
	kill := func(name string) func() { return func() { c.kill(name) } }
	phases := []faultPhase{
		{"kill -9 api1", kill("api1"), restart("api1", "api")},
		{"kill -9 projector, back after 5 s", kill("proj1"), func() { time.Sleep(5 * time.Second); c.serve("proj1", "projector") }},
		{"kill -9 relay", kill("relay"), restart("relay", "relay")},
		{"SIGTERM api2 under load", func() { c.terminate("api2") }, restart("api2", "api")},
		// Last: Google's Pub/Sub fake, restarted under load, may not answer a
		// process that starts afterwards for a while (its admin calls time
		// out), which a real Pub/Sub does not do; the running processes
		// converge regardless, from the event store.
		{"Pub/Sub restarted empty", kill("emulator"), func() { startEmulator(); time.Sleep(500 * time.Millisecond) }},
	}
	if *faultsLong {
		phases = append(phases,
			faultPhase{"Pub/Sub paused 10 s", func() {
				_ = c.proc("emulator").Process.Signal(syscall.SIGSTOP)
				time.Sleep(10 * time.Second)
				_ = c.proc("emulator").Process.Signal(syscall.SIGCONT)
			}, func() {}},
			faultPhase{"kill -9 store", kill("store"), func() { c.startStore(); time.Sleep(time.Second) }},
			faultPhase{"kill -9 both projectors", func() { c.kill("proj1"); c.kill("proj2") }, func() {
				c.serve("proj1", "projector")
				c.serve("proj2", "projector")
			}},
			faultPhase{"SIGTERM a projector, Pub/Sub gone", func() { c.kill("emulator"); c.terminate("proj2") },
				func() { startEmulator(); time.Sleep(500 * time.Millisecond); c.serve("proj2", "projector") }},
		)
	}
	loadFor := 6 * time.Second
	if *faultsLong {
		loadFor = 20 * time.Second
	}
	printReports(t, "several processes (store, Pub/Sub, 2 APIs, relay, 2 projectors)", runPhases(t, load, admin, phases, loadFor))
}

// TestFaultsAllInOne: the all-in-one service on its embedded store, killed
// with SIGKILL under load and restarted on the same data.
func TestFaultsAllInOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it under load")
	}
	c := &cluster{t: t, bin: buildBinary(t), dir: t.TempDir(), procs: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	t.Cleanup(c.stopAll)
	data := filepath.Join(c.dir, "data")
	c.env = []string{"CAPSTONE_DATA_DIR=" + data, "CAPSTONE_LOG_LEVEL=warn", loadOpenProjects,
		"CAPSTONE_BOOTSTRAP_EMAIL=" + adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD=" + adminPassword}
	c.serve("service", "api,projector,relay")
	bases := func() []string { return []string{c.addrs["service"]} }
	admin := signInAdmin(t, bases)
	load := &faultLoad{clients: newFaultClients(t, bases, admin, 6)}
	kills := 2
	loadFor := 6 * time.Second
	if *faultsLong {
		kills, loadFor = 5, 20*time.Second
	}
	var phases []faultPhase
	for i := range kills {
		phases = append(phases, faultPhase{fmt.Sprintf("kill -9 the service (%d)", i+1), func() { c.kill("service") },
			func() { c.serve("service", "api,projector,relay") }})
	}
	phases = append(phases, faultPhase{"SIGTERM under load", func() { c.terminate("service") },
		func() { c.serve("service", "api,projector,relay") }})
	printReports(t, "all-in-one service (embedded store, in-process bus)", runPhases(t, load, admin, phases, loadFor))
	_ = os.Remove(data)
}

func (c *cluster) proc(name string) *exec.Cmd {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name]
}

// terminate sends SIGTERM and fails the test unless the process exits within
// its shutdown bound.
func (c *cluster) terminate(name string) {
	start := time.Now()
	cmd := c.proc(name)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if d := time.Since(start); d > shutdownTimeout+2*time.Second {
		c.t.Errorf("%s took %s to exit after SIGTERM (bound %s)", name, d, shutdownTimeout)
	}
}
