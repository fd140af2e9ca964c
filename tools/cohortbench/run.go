package cohortbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/tools/loadgen"
)

// lookEvery is how often the read models are looked at for the placements:
// each look reads every student (the export), so looking much more often
// would take the cores the projection needs.
const lookEvery = 250 * time.Millisecond

// Options are a run's service and cohort.
type Options struct {
	// Target is the service's base URL; Email and Password a coordinator's.
	Target, Email, Password string
	// PID is the service's process id, for its RSS (0: not measured).
	PID int
	// MongoURI and Database are the service's store, for the raw insertOne
	// baseline (empty: none).
	MongoURI, Database string
	Files              Files
	// Seed is the allocation's.
	Seed uint64
	// Log is told of each step as it ends.
	Log io.Writer
}

// Run imports the cohort's files through the API, runs the allocation
// (a dry run for the solve time, then a real one), waits until the read
// models show every placement, and reports the figures.
func Run(ctx context.Context, o Options) (Report, error) {
	var rep Report
	seed, stderr, files := o.Seed, o.Log, o.Files
	rss := watchRSS(o.PID)
	defer rss.stop()
	cl := &cohortClient{base: strings.TrimSuffix(o.Target, "/"), http: &http.Client{Timeout: 10 * time.Minute}}
	if err := cl.signIn(o.Email, o.Password); err != nil {
		return rep, err
	}
	load := loadAverage()
	if o.MongoURI != "" {
		var err error
		if rep.InsertOne, err = rawInsertOne(ctx, o.MongoURI, o.Database, 3*time.Second); err != nil {
			return rep, fmt.Errorf("raw baseline: %w", err)
		}
	}
	for _, f := range []struct {
		kind string
		body []byte
		rows int
	}{{"supervisors", files.Supervisors, files.Size.Supervisors}, {"students", files.Students, files.Size.Students}, {"preferences", files.Preferences, files.Size.Students}} {
		cpu, measured := cl.cpuSeconds()
		start := time.Now()
		var report struct {
			Rows   int   `json:"rows"`
			Errors []any `json:"errors"`
		}
		if err := cl.call("POST", "/v1/imports/"+f.kind, "text/csv", f.body, &report); err != nil {
			return rep, fmt.Errorf("import %s: %w", f.kind, err)
		}
		d := time.Since(start)
		if report.Rows != f.rows || len(report.Errors) > 0 {
			return rep, fmt.Errorf("import %s: %d rows, %d refused; want %d, none refused", f.kind, report.Rows, len(report.Errors), f.rows)
		}
		fig := importFigure{Kind: f.kind, Rows: f.rows, Seconds: d.Seconds(), RowsPerSecond: float64(f.rows) / d.Seconds()}
		if after, ok := cl.cpuSeconds(); measured && ok && after >= cpu {
			fig.CPUSeconds = after - cpu
		}
		rep.Imports = append(rep.Imports, fig)
		fmt.Fprintf(stderr, "imported %d %s in %.2f s\n", f.rows, f.kind, d.Seconds())
	}
	var dry, run struct {
		Assignments []any `json:"assignments"`
	}
	start := time.Now()
	if err := cl.call("POST", "/v1/allocation", "application/json", fmt.Appendf(nil, `{"dry_run":true,"seed":%d}`, seed), &dry); err != nil {
		return rep, fmt.Errorf("allocation (dry run): %w", err)
	}
	rep.SolveSeconds = time.Since(start).Seconds()
	start = time.Now()
	if err := cl.call("POST", "/v1/allocation", "application/json", fmt.Appendf(nil, `{"dry_run":false,"seed":%d}`, seed), &run); err != nil {
		return rep, fmt.Errorf("allocation: %w", err)
	}
	answered := time.Now()
	rep.AnswerSeconds = answered.Sub(start).Seconds()
	rep.Placements = len(run.Assignments)
	// Visible is when the look that first saw every placement began: they
	// were shown by then (0 when the first look, at the answer, saw them).
	for look := 0; ; look++ {
		began := time.Now()
		shown, err := cl.placementsShown(rep.Placements, stderr)
		if err != nil {
			return rep, err
		}
		if shown {
			rep.ShownAtAnswer = look == 0
			if look > 0 {
				rep.VisibleSeconds = began.Sub(answered).Seconds()
			}
			break
		}
		if time.Since(answered) > 5*time.Minute {
			return rep, errors.New("the read models did not show the allocation's placements within 5 minutes")
		}
		time.Sleep(lookEvery)
	}
	rep.PeakRSSMiB = rss.stop()
	rep.Load = [2]string{load, loadAverage()}
	return rep, nil
}

type importFigure struct {
	Kind          string  `json:"kind"`
	Rows          int     `json:"rows"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
	// CPUSeconds is the service's CPU time (user and system) over the
	// import, from its /metrics (0 when it does not show it): on a shared
	// machine, whose load moves the wall time from run to run, the figure
	// to compare builds by.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// Report is a run's figures.
type Report struct {
	InsertOne     float64        `json:"insert_one_per_second"`
	Imports       []importFigure `json:"imports"`
	SolveSeconds  float64        `json:"solve_seconds"`
	AnswerSeconds float64        `json:"answer_seconds"`
	Placements    int            `json:"placements"`
	// ShownAtAnswer: the read models showed every placement at the first
	// look after the answer; else VisibleSeconds is from the answer until
	// the look that saw them all began.
	ShownAtAnswer  bool      `json:"shown_at_answer"`
	VisibleSeconds float64   `json:"visible_seconds"`
	PeakRSSMiB     float64   `json:"peak_rss_mib"`
	Load           [2]string `json:"load_average"` // before and after
}

// Write prints the report.
func (r Report) Write(w io.Writer) error {
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
		if f.CPUSeconds > 0 {
			fmt.Fprintf(b, "; service CPU %.2f s, %.2f ms a row", f.CPUSeconds, 1000*f.CPUSeconds/float64(f.Rows))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "allocation: solved (dry run) in %.2f s; applied, %d placements, answered in %.2f s\n", r.SolveSeconds, r.Placements, r.AnswerSeconds)
	if r.ShownAtAnswer {
		b.WriteString("every placement shown by the read models at the answer\n")
	} else {
		fmt.Fprintf(b, "every placement shown by the read models %.2f s after the answer\n", r.VisibleSeconds)
	}
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

// cpuSeconds is the CPU time the service's process has used so far, from
// its /metrics (process_cpu_seconds_total, as capstone bench reads it),
// and whether it showed it: /metrics answers a client on the service's
// own machine.
func (c *cohortClient) cpuSeconds() (float64, bool) {
	var body []byte
	if err := c.call("GET", "/metrics", "", nil, &body); err != nil {
		return 0, false
	}
	return loadgen.MetricSum(body, "process_cpu_seconds_total")
}

// placementsShown reports whether both read models a coordinator looks at
// show n placements: the assignments export (one row per placed student)
// and the supervisors' list (their students placed, in all).
func (c *cohortClient) placementsShown(n int, log io.Writer) (bool, error) {
	var csv []byte
	if err := c.call("GET", "/v1/exports/supervisor-assignments.csv", "", nil, &csv); err != nil {
		return false, err
	}
	if rows := bytes.Count(bytes.TrimSpace(csv), []byte("\n")); rows != n { // the header's line end is not a row
		fmt.Fprintf(log, "the assignments export shows %d of %d placements\n", rows, n)
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
			if allocated != n {
				fmt.Fprintf(log, "the supervisors list shows %d of %d placements\n", allocated, n)
			}
			return allocated == n, nil
		}
	}
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
