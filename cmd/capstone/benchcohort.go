package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/infra/embedded"
)

// benchCohort is `capstone bench-cohort`: generate a cohort (5,000
// students, 400 supervisors, 5 choices each by default), import it through
// the API, run the allocation, and report each import's rows/s, the
// allocation's solve and answer times, how long after its answer the read
// models show every placement, and the service's peak RSS; next to a raw
// insertOne on the same store, measured in the same run. Without --target
// it starts `capstone serve` (the all-in-one service) as a child process on
// a temporary embedded store, so that the RSS is the service's alone.
func benchCohort(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("bench-cohort", flag.ContinueOnError)
	students := fs.Int("students", 5000, "students in the cohort")
	supervisors := fs.Int("supervisors", 400, "supervisors in the cohort")
	choices := fs.Int("choices", 5, "supervisors each student ranks (1 to 5)")
	seed := fs.Uint64("seed", 1, "seed of the generated cohort and of the allocation")
	out := fs.String("out", "", "only write the cohort's CSV files (supervisors.csv, students.csv, preferences.csv) to this directory")
	target := fs.String("target", "", "base URL of a running service with an empty cohort; empty: start `capstone serve` on a temporary embedded store")
	email := fs.String("email", "", "a coordinator's e-mail (with --target)")
	password := fs.String("password", env("CAPSTONE_BENCH_PASSWORD"), "that coordinator's password (or env CAPSTONE_BENCH_PASSWORD)")
	pid := fs.Int("pid", 0, "the service's process id, for its RSS (with --target, on Linux)")
	mongoURI := fs.String("mongodb-uri", "", "the service's store, for the raw insertOne baseline (with --target)")
	database := fs.String("database", "capstone", "the service's database name")
	err := parseFlags(stdout, stderr, func(w io.Writer) error {
		fs.SetOutput(w)
		return fs.Parse(args)
	})
	if err != nil {
		return err
	}
	if *choices < 1 || *choices > 5 || *students < 1 || *supervisors < *choices {
		return errors.New("give at least one student, 1 to 5 choices and at least as many supervisors as choices")
	}
	files := generateCohort(cohortSize{Students: *students, Supervisors: *supervisors, Choices: *choices, Seed: *seed})
	if *out != "" {
		for name, b := range map[string][]byte{"supervisors.csv": files.Supervisors, "students.csv": files.Students, "preferences.csv": files.Preferences} {
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote %d supervisors (%d slots), %d students and their preferences to %s\n", *supervisors, files.Slots, *students, *out)
		return nil
	}
	if *target == "" {
		svc, err := startChildService(ctx, stderr)
		if err != nil {
			return err
		}
		defer svc.stop()
		*target, *email, *password, *pid, *mongoURI = svc.base, svc.email, svc.password, svc.pid, svc.uri
	} else if *email == "" || *password == "" {
		return errors.New("--target needs --email and --password (or CAPSTONE_BENCH_PASSWORD)")
	}
	rss := watchRSS(*pid)
	defer rss.stop()
	cl := &cohortClient{base: strings.TrimSuffix(*target, "/"), http: &http.Client{Timeout: 10 * time.Minute}}
	if err := cl.signIn(*email, *password); err != nil {
		return err
	}
	load := loadAverage()
	var rep cohortReport
	if *mongoURI != "" {
		if rep.InsertOne, err = rawInsertOne(ctx, *mongoURI, *database, 3*time.Second); err != nil {
			return fmt.Errorf("raw baseline: %w", err)
		}
	}
	for _, f := range []struct {
		kind string
		body []byte
		rows int
	}{{"supervisors", files.Supervisors, *supervisors}, {"students", files.Students, *students}, {"preferences", files.Preferences, *students}} {
		start := time.Now()
		var report struct {
			Rows   int   `json:"rows"`
			Errors []any `json:"errors"`
		}
		if err := cl.call("POST", "/v1/imports/"+f.kind, "text/csv", f.body, &report); err != nil {
			return fmt.Errorf("import %s: %w", f.kind, err)
		}
		d := time.Since(start)
		if report.Rows != f.rows || len(report.Errors) > 0 {
			return fmt.Errorf("import %s: %d rows, %d refused; want %d, none refused", f.kind, report.Rows, len(report.Errors), f.rows)
		}
		rep.Imports = append(rep.Imports, importFigure{Kind: f.kind, Rows: f.rows, Seconds: d.Seconds(), RowsPerSecond: float64(f.rows) / d.Seconds()})
		fmt.Fprintf(stderr, "imported %d %s in %.2f s\n", f.rows, f.kind, d.Seconds())
	}
	var dry, run struct {
		Assignments []any `json:"assignments"`
	}
	start := time.Now()
	if err := cl.call("POST", "/v1/allocation", "application/json", fmt.Appendf(nil, `{"dry_run":true,"seed":%d}`, *seed), &dry); err != nil {
		return fmt.Errorf("allocation (dry run): %w", err)
	}
	rep.SolveSeconds = time.Since(start).Seconds()
	start = time.Now()
	if err := cl.call("POST", "/v1/allocation", "application/json", fmt.Appendf(nil, `{"dry_run":false,"seed":%d}`, *seed), &run); err != nil {
		return fmt.Errorf("allocation: %w", err)
	}
	answered := time.Now()
	rep.AnswerSeconds = answered.Sub(start).Seconds()
	rep.Placements = len(run.Assignments)
	rep.ShownAtAnswer, err = cl.placementsShown(rep.Placements)
	if err != nil {
		return err
	}
	for shown := rep.ShownAtAnswer; !shown; {
		if time.Since(answered) > time.Minute {
			return errors.New("the read models did not show the allocation's placements within a minute")
		}
		time.Sleep(20 * time.Millisecond)
		if shown, err = cl.placementsShown(rep.Placements); err != nil {
			return err
		}
	}
	rep.VisibleSeconds = time.Since(answered).Seconds()
	rep.PeakRSSMiB = rss.stop()
	rep.Load = [2]string{load, loadAverage()}
	return rep.write(stdout)
}

type importFigure struct {
	Kind          string  `json:"kind"`
	Rows          int     `json:"rows"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
}

type cohortReport struct {
	InsertOne     float64        `json:"insert_one_per_second"`
	Imports       []importFigure `json:"imports"`
	SolveSeconds  float64        `json:"solve_seconds"`
	AnswerSeconds float64        `json:"answer_seconds"`
	Placements    int            `json:"placements"`
	// ShownAtAnswer: the read models showed every placement at the first
	// look after the answer; VisibleSeconds is from the answer until they did.
	ShownAtAnswer  bool      `json:"shown_at_answer"`
	VisibleSeconds float64   `json:"visible_seconds"`
	PeakRSSMiB     float64   `json:"peak_rss_mib"`
	Load           [2]string `json:"load_average"` // before and after
}

func (r cohortReport) write(w io.Writer) error {
	b := &bytes.Buffer{}
	fmt.Fprintf(b, "load average before / after: %s / %s\n", r.Load[0], r.Load[1])
	if r.InsertOne > 0 {
		fmt.Fprintf(b, "raw insertOne, 16 clients: %.0f/s\n", r.InsertOne)
	}
	for _, f := range r.Imports {
		fmt.Fprintf(b, "import %-12s %5d rows in %6.2f s: %6.0f rows/s", f.Kind, f.Rows, f.Seconds, f.RowsPerSecond)
		if r.InsertOne > 0 {
			fmt.Fprintf(b, " (%.2f of insertOne)", f.RowsPerSecond/r.InsertOne)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "allocation: solved (dry run) in %.2f s; applied, %d placements, answered in %.2f s\n", r.SolveSeconds, r.Placements, r.AnswerSeconds)
	fmt.Fprintf(b, "placements shown by the read models at the answer: %v; all shown %.2f s after it\n", r.ShownAtAnswer, r.VisibleSeconds)
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(b, "service peak RSS: %.0f MiB\n", r.PeakRSSMiB)
	}
	_, err := b.WriteTo(w)
	return err
}

// cohortClient is a coordinator calling the API.
type cohortClient struct {
	base, token string
	http        *http.Client
}

func (c *cohortClient) signIn(email, password string) error {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	var out struct {
		Token string `json:"token"`
	}
	if err := c.call("POST", "/v1/auth/sign-in", "application/json", body, &out); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	c.token = out.Token
	return nil
}

func (c *cohortClient) call(method, path, contentType string, body []byte, into any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %.300s", method, path, resp.StatusCode, raw)
	}
	if into == nil {
		return nil
	}
	if s, ok := into.(*[]byte); ok {
		*s = raw
		return nil
	}
	return json.Unmarshal(raw, into)
}

// placementsShown reports whether both read models a coordinator looks at
// show n placements: the assignments export (one row per placed student)
// and the supervisors' list (their students placed, in all).
func (c *cohortClient) placementsShown(n int) (bool, error) {
	var csv []byte
	if err := c.call("GET", "/v1/exports/supervisor-assignments.csv", "", nil, &csv); err != nil {
		return false, err
	}
	if rows := bytes.Count(bytes.TrimSpace(csv), []byte("\n")); rows != n { // the header's line end is not a row
		return false, nil
	}
	allocated, cursor := 0, ""
	for {
		var page struct {
			Items []struct {
				Allocated int `json:"allocated"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		if err := c.call("GET", "/v1/supervisors?limit=200&cursor="+url.QueryEscape(cursor), "", nil, &page); err != nil {
			return false, err
		}
		for _, s := range page.Items {
			allocated += s.Allocated
		}
		if cursor = page.NextCursor; cursor == "" {
			return allocated == n, nil
		}
	}
}

// childService is `capstone serve` run by bench-cohort.
type childService struct {
	base, email, password, uri string
	pid                        int
	stop                       func()
}

// startChildService starts this binary's `serve` on a free port and a
// temporary data directory, with a coordinator, and waits until it is ready.
func startChildService(ctx context.Context, stderr io.Writer) (*childService, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "capstone-cohort")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	svc := &childService{base: "http://" + addr, email: "bench@capstone.example", password: rand.Text(),
		uri: embedded.SocketURI(filepath.Join(dir, "store.sock"))}
	cmd := exec.CommandContext(ctx, exe, "serve", "--addr", addr, "--data-dir", dir)
	cmd.Env = append(os.Environ(), "CAPSTONE_BOOTSTRAP_EMAIL="+svc.email, "CAPSTONE_BOOTSTRAP_PASSWORD="+svc.password,
		"CAPSTONE_LOG_LEVEL=warn", "CAPSTONE_DEMO=false")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	svc.pid = cmd.Process.Pid
	svc.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(svc.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			svc.stop()
			return nil, errors.New("the service did not get ready within a minute")
		}
	}
	fmt.Fprintf(stderr, "benchmarking a fresh all-in-one service (pid %d) on %s\n", svc.pid, svc.base)
	return svc, nil
}

// rssWatch samples a process's resident set, for its peak.
type rssWatch struct {
	peak atomic.Int64 // KiB
	done chan struct{}
	once sync.Once
	pid  int
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{done: make(chan struct{}), pid: pid}
	if pid <= 0 {
		return w
	}
	go func() {
		for {
			if kib := procStatusKiB(pid, "VmRSS:"); kib > w.peak.Load() {
				w.peak.Store(kib)
			}
			select {
			case <-w.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the peak in MiB: the kernel's
// high-water mark (VmHWM) when it is readable, else the samples' highest.
func (w *rssWatch) stop() float64 {
	w.once.Do(func() { close(w.done) })
	peak := w.peak.Load()
	if w.pid > 0 {
		peak = max(peak, procStatusKiB(w.pid, "VmHWM:"))
	}
	return float64(peak) / 1024
}

// procStatusKiB reads a field of /proc/PID/status in KiB (0 if unreadable).
func procStatusKiB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// loadAverage is the machine's 1, 5 and 15 minute load ("?" if unknown).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// benchRawCollection is the scratch collection of the raw baseline, in the
// service's database; it is dropped after.
const benchRawCollection = "bench_cohort_raw"

// rawInsertOne is the store's insertOne rate from 16 clients for d, on the
// service's store.
func rawInsertOne(ctx context.Context, uri, database string, d time.Duration) (float64, error) {
	cl, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(24))
	if err != nil {
		return 0, err
	}
	defer cl.Disconnect(context.WithoutCancel(ctx))
	coll := cl.Database(database).Collection(benchRawCollection)
	var n atomic.Int64
	var failed atomic.Value
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				doc := bson.D{{Key: "_id", Value: uuid.Must(uuid.NewV7()).String()}, {Key: "title", Value: "a baseline row"},
					{Key: "email", Value: "someone@cohort.example.ac.uk"}, {Key: "at", Value: time.Now().UTC()}}
				if _, err := coll.InsertOne(ctx, doc); err != nil {
					failed.Store(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	_ = coll.Drop(context.WithoutCancel(ctx))
	if err, ok := failed.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / d.Seconds(), nil
}
