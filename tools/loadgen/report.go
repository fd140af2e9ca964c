package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes the report for people: the ratios to the raw database
// first, then the absolute figures.
func (r Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("capstone bench: run %s against %s, %d clients (%d supervisors), %s measured\n\n",
		r.RunID, r.Target, r.Clients, r.Supervisors, r.Elapsed.Round(time.Millisecond))

	if r.Baseline == nil {
		ew.printf("service / raw database: no baseline (no MongoDB URI given)\n\n")
	} else {
		ew.printf("service / raw database, at %d clients (throughput as clients / mean latency; 1.00 = as fast as the driver alone):\n", r.Clients)
		if r.Baseline.Warning != "" {
			ew.printf("  WARNING: %s\n", r.Baseline.Warning)
		}
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tratio\tservice ops/s\traw ops/s\tservice mean\traw mean\t\n", left("", nameWidth))
		for _, key := range ratioKeys() {
			svc, raw, ok := r.ratioMeans(key)
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t%s\t%s\t\n", left(key, nameWidth), r.Ratios[key],
				fmtRate(float64(r.Clients)/svc.Seconds()), fmtRate(float64(r.Clients)/raw.Seconds()), fmtDur(svc), fmtDur(raw))
		}
		tw.Flush()
		ew.printf("\n")
	}

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tcount\tops/s\tp50\tp95\tp99\tmax\terrors\texpected\t\n", left("operation", nameWidth))
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", left(o.Name, nameWidth), o.Count, fmtRate(o.PerSec),
			fmtDur(o.P50), fmtDur(o.P95), fmtDur(o.P99), fmtDur(o.Max), o.Errors, sumValues(o.Expected))
	}
	fmt.Fprintf(tw, "%s\t%d\t%s\t\t\t\t\t%d\t\t\n", left("total", nameWidth), r.Total, fmtRate(r.TotalPerSec), r.Errors)
	tw.Flush()

	if r.Errors > 0 {
		ew.printf("\nerrors by status:\n")
		for _, o := range r.Ops {
			if o.Errors > 0 {
				ew.printf("  %-18s %s\n", o.Name, fmtCounts(o.ErrorsByStatus, statusName))
			}
		}
	}
	var expected []string
	for _, o := range r.Ops {
		if len(o.Expected) > 0 {
			expected = append(expected, fmt.Sprintf("  %-18s %s\n", o.Name, fmtCounts(o.Expected, func(s string) string { return s })))
		}
	}
	if len(expected) > 0 {
		ew.printf("\nexpected refusals (not errors):\n%s", strings.Join(expected, ""))
	}
	if r.DecideFallbacks > 0 {
		ew.printf("\n%d decisions found no proposal waiting and ran create-submit instead\n", r.DecideFallbacks)
	}

	l := r.Lag
	ew.printf("\nprojection lag (from a write's response until a GET shows its version):\n")
	ew.printf("  samples %d  p50 %s  p95 %s  p99 %s  max %s  timeouts %d  failed %d  skipped %d\n",
		l.Samples, fmtDur(l.P50), fmtDur(l.P95), fmtDur(l.P99), fmtDur(l.Max), l.Timeouts, l.Failed, l.Skipped)
	ew.printf("  (%d polling GETs, not counted as operations)\n", l.Polls)
	if l.DrainTimedOut {
		ew.printf("  after the measured phase, some clients' last writes were still not readable after %s\n", fmtDur(l.Drain))
	} else {
		ew.printf("  after the measured phase, every client's last write was readable within %s\n", fmtDur(l.Drain))
	}

	if len(r.Store) > 0 {
		ew.printf("\ndatabase commands the service sent, per operation (with the projectors' work and the lag pollers' reads):\n")
		ew.printf("  writes per operation: %.2f\n", r.StoreWritesPerOp())
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tcount\tper op\t\n", left("command collection", nameWidth))
		for _, c := range r.Store {
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t\n", left(c.Command+" "+c.Collection, nameWidth), c.Count, c.PerOp)
		}
		tw.Flush()
		var times []string
		for _, t := range r.StoreTimes {
			times = append(times, fmt.Sprintf("%s %s", t.Command, fmtDur(t.Mean)))
		}
		if len(times) > 0 {
			ew.printf("  mean round trip: %s\n", strings.Join(times, ", "))
		}
	}

	if b := r.Baseline; b != nil {
		ew.printf("\nraw database: %d clients, %s per operation, %s prefilled with %d documents of %d bytes:\n",
			b.Clients, b.Duration.Round(time.Millisecond), b.Collection, b.Prefilled, b.DocBytes)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%s\tcount\tops/s\tp50\tp95\tp99\tmax\terrors\t\n", left("operation", nameWidth))
		for _, o := range []OpStats{b.InsertOne, b.FindOne, b.HTTPFloor} {
			if o.Count == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t\n", left(o.Name, nameWidth), o.Count, fmtRate(o.PerSec),
				fmtDur(o.P50), fmtDur(o.P95), fmtDur(o.P99), fmtDur(o.Max), o.Errors)
		}
		tw.Flush()
	}
	return ew.err
}

// nameWidth is the width of the tables' first column, which is left-aligned
// by padding while tabwriter aligns the figures to the right.
const nameWidth = len("write-commands/insertOne")

func left(s string, w int) string { return fmt.Sprintf("%-*s", w, s) }

// WriteJSON writes the report as one indented JSON document (see
// [Report.MarshalJSON]).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// The JSON shapes: snake_case, durations in milliseconds (fractional) or
// seconds, as their names say.
type (
	jsonReport struct {
		RunID           string             `json:"run_id"`
		Target          string             `json:"target"`
		Clients         int                `json:"clients"`
		Supervisors     int                `json:"supervisors"`
		ElapsedS        float64            `json:"elapsed_s"`
		Total           int                `json:"total"`
		Errors          int                `json:"errors"`
		TotalPerSec     float64            `json:"total_per_sec"`
		Ratios          map[string]float64 `json:"ratios"`
		Ops             []jsonOp           `json:"ops"`
		Lag             jsonLag            `json:"lag"`
		DecideFallbacks int                `json:"decide_fallbacks"`
		Baseline        *jsonBaseline      `json:"baseline"`
		Store           []jsonStore        `json:"store_commands"`
		StoreTimes      map[string]float64 `json:"store_mean_ms"`
		StoreWritesPer  float64            `json:"store_writes_per_op"`
		Windows         []jsonWindow       `json:"windows,omitempty"`
		Soak            *jsonSoak          `json:"soak,omitempty"`
	}
	jsonWindow struct {
		StartS    float64 `json:"start_s"`
		EndS      float64 `json:"end_s"`
		Total     int     `json:"total"`
		Errors    int     `json:"errors"`
		PerSec    float64 `json:"per_sec"`
		P50       float64 `json:"p50_ms"`
		P99       float64 `json:"p99_ms"`
		WriteP99  float64 `json:"write_p99_ms"`
		ListP50   float64 `json:"list_p50_ms"`
		RSS       int64   `json:"resident_bytes"`
		Events    int64   `json:"events"`
		DataBytes int64   `json:"data_bytes"`
		CPUPerOp  float64 `json:"cpu_per_op_ms"`
	}
	jsonSoak struct {
		OK     bool        `json:"ok"`
		Checks []jsonCheck `json:"checks"`
	}
	jsonCheck struct {
		Name     string `json:"name"`
		OK       bool   `json:"ok"`
		Measured bool   `json:"measured"`
		Detail   string `json:"detail"`
	}
	jsonStore struct {
		Command    string  `json:"command"`
		Collection string  `json:"collection"`
		Count      float64 `json:"count"`
		PerOp      float64 `json:"per_op"`
	}
	jsonOp struct {
		Name           string         `json:"name"`
		Count          int            `json:"count"`
		Errors         int            `json:"errors"`
		ErrorsByStatus map[int]int    `json:"errors_by_status"`
		Expected       map[string]int `json:"expected"`
		PerSec         float64        `json:"per_sec"`
		P50            float64        `json:"p50_ms"`
		P95            float64        `json:"p95_ms"`
		P99            float64        `json:"p99_ms"`
		Max            float64        `json:"max_ms"`
		Mean           float64        `json:"mean_ms"`
	}
	jsonLag struct {
		Samples  int     `json:"samples"`
		P50      float64 `json:"p50_ms"`
		P95      float64 `json:"p95_ms"`
		P99      float64 `json:"p99_ms"`
		Max      float64 `json:"max_ms"`
		Timeouts int     `json:"timeouts"`
		Failed   int     `json:"failed"`
		Skipped  int     `json:"skipped"`
		DrainMS  float64 `json:"drain_ms"`
		Drained  bool    `json:"drained"`
		Polls    int     `json:"polls"`
	}
	jsonBaseline struct {
		Clients    int     `json:"clients"`
		DurationS  float64 `json:"duration_s"`
		Collection string  `json:"collection"`
		Prefilled  int     `json:"prefilled"`
		DocBytes   int     `json:"doc_bytes"`
		InsertOne  jsonOp  `json:"insert_one"`
		FindOne    jsonOp  `json:"find_one"`
		HTTPFloor  jsonOp  `json:"http_floor"`
		Warning    string  `json:"warning,omitempty"`
	}
)

// MarshalJSON encodes the report with snake_case names and durations in
// milliseconds ("p50_ms") or seconds ("elapsed_s"); "ratios" and "baseline"
// are null without a baseline.
func (r Report) MarshalJSON() ([]byte, error) {
	out := jsonReport{RunID: r.RunID, Target: r.Target, Clients: r.Clients, Supervisors: r.Supervisors,
		ElapsedS: r.Elapsed.Seconds(), Total: r.Total, Errors: r.Errors, TotalPerSec: r.TotalPerSec, Ratios: r.Ratios,
		Ops: make([]jsonOp, len(r.Ops)), DecideFallbacks: r.DecideFallbacks,
		Lag: jsonLag{Samples: r.Lag.Samples, P50: ms(r.Lag.P50), P95: ms(r.Lag.P95), P99: ms(r.Lag.P99), Max: ms(r.Lag.Max),
			Timeouts: r.Lag.Timeouts, Failed: r.Lag.Failed, Skipped: r.Lag.Skipped, DrainMS: ms(r.Lag.Drain), Drained: !r.Lag.DrainTimedOut, Polls: r.Lag.Polls}}
	for i, o := range r.Ops {
		out.Ops[i] = jsonOpOf(o)
	}
	out.Store = []jsonStore{}
	for _, c := range r.Store {
		out.Store = append(out.Store, jsonStore{Command: c.Command, Collection: c.Collection, Count: c.Count, PerOp: c.PerOp})
	}
	out.StoreWritesPer = r.StoreWritesPerOp()
	out.StoreTimes = map[string]float64{}
	for _, t := range r.StoreTimes {
		out.StoreTimes[t.Command] = ms(t.Mean)
	}
	for _, w := range r.Windows {
		out.Windows = append(out.Windows, jsonWindow{StartS: w.Start.Seconds(), EndS: w.End.Seconds(), Total: w.Total, Errors: w.Errors,
			PerSec: w.PerSec, P50: ms(w.P50), P99: ms(w.P99), WriteP99: ms(w.WriteP99), ListP50: ms(w.ListP50), RSS: w.RSS,
			Events: w.Events, DataBytes: w.DataBytes, CPUPerOp: ms(w.CPUPerOp)})
	}
	if len(r.Windows) > 0 {
		v := Judge(r.Windows)
		out.Soak = &jsonSoak{OK: v.OK, Checks: []jsonCheck{}}
		for _, c := range v.Checks {
			out.Soak.Checks = append(out.Soak.Checks, jsonCheck{Name: c.Name, OK: c.OK, Measured: c.Measured, Detail: c.Detail})
		}
	}
	if b := r.Baseline; b != nil {
		out.Baseline = &jsonBaseline{Clients: b.Clients, DurationS: b.Duration.Seconds(), Collection: b.Collection,
			Prefilled: b.Prefilled, DocBytes: b.DocBytes, InsertOne: jsonOpOf(b.InsertOne), FindOne: jsonOpOf(b.FindOne), HTTPFloor: jsonOpOf(b.HTTPFloor),
			Warning: b.Warning}
	}
	return json.Marshal(out)
}

func jsonOpOf(o OpStats) jsonOp {
	j := jsonOp{Name: o.Name, Count: o.Count, Errors: o.Errors, ErrorsByStatus: o.ErrorsByStatus, Expected: o.Expected,
		PerSec: o.PerSec, P50: ms(o.P50), P95: ms(o.P95), P99: ms(o.P99), Max: ms(o.Max), Mean: ms(o.Mean)}
	if j.ErrorsByStatus == nil {
		j.ErrorsByStatus = map[int]int{}
	}
	if j.Expected == nil {
		j.Expected = map[string]int{}
	}
	return j
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fmtDur prints a latency in milliseconds with about three significant
// digits, or in seconds from 10 s.
func fmtDur(d time.Duration) string {
	m := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "0"
	case m < 10:
		return fmt.Sprintf("%.2fms", m)
	case m < 100:
		return fmt.Sprintf("%.1fms", m)
	case m < 10_000:
		return fmt.Sprintf("%.0fms", m)
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// fmtRate prints a rate per second with thousands separators, and one
// decimal below 100.
func fmtRate(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func statusName(s int) string {
	if s == 0 {
		return "no answer"
	}
	return strconv.Itoa(s)
}

// fmtCounts prints "k: n" pairs in key order.
func fmtCounts[K int | string](m map[K]int, name func(K) string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", name(k), m[k]))
	}
	return strings.Join(parts, ", ")
}

func sumValues[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
