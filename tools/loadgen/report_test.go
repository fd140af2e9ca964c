package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	ms := time.Millisecond
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{[]time.Duration{7 * ms}, 50, 7 * ms},
		{[]time.Duration{7 * ms}, 99, 7 * ms},
		{hundred, 50, 50 * ms},
		{hundred, 95, 95 * ms},
		{hundred, 99, 99 * ms},
		{hundred, 100, 100 * ms},
		{hundred, 0.1, 1 * ms},
		{[]time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms}, 50, 2 * ms}, // nearest rank: ceil(0.5*4) = 2nd
		{[]time.Duration{1 * ms, 2 * ms, 3 * ms, 4 * ms}, 51, 3 * ms},
		{[]time.Duration{1 * ms, 2 * ms, 3 * ms}, 99, 3 * ms},
	} {
		if got := percentile(c.in, c.p); got != c.want {
			t.Errorf("p%v of %d values: %s, want %s", c.p, len(c.in), got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	a, b := recorder{}, recorder{}
	for i := 100; i >= 1; i-- { // unsorted, split over two clients
		rc := a
		if i%2 == 0 {
			rc = b
		}
		rc.op("x").add(time.Duration(i) * time.Millisecond)
	}
	a.op("x").fail(500) // answered (its latency is among the 100)
	b.op("x").fail(500)
	b.op("x").fail(0) // no answer: counted, no latency
	b.op("x").expect("capacity-reached")
	s := summarize("x", mergeRecorders([]recorder{a, b})["x"], 2*time.Second)
	if s.Count != 101 || s.Errors != 3 || s.ErrorsByStatus[500] != 2 || s.ErrorsByStatus[0] != 1 || s.Expected["capacity-reached"] != 1 {
		t.Fatalf("%+v", s)
	}
	if s.P50 != 50*time.Millisecond || s.P95 != 95*time.Millisecond || s.P99 != 99*time.Millisecond ||
		s.Max != 100*time.Millisecond || s.Mean != 50500*time.Microsecond || s.PerSec != 50.5 {
		t.Fatalf("%+v", s)
	}
	if z := summarize("none", nil, time.Second); z.Count != 0 || z.P99 != 0 || z.ErrorsByStatus == nil {
		t.Fatalf("%+v", z)
	}
}

func sampleReport() Report {
	op := func(name string, n int, p50 time.Duration) OpStats {
		return OpStats{Name: name, Count: n, PerSec: float64(n) / 10, P50: p50, P95: 2 * p50, P99: 3 * p50, Max: 4 * p50, Mean: p50,
			ErrorsByStatus: map[int]int{}, Expected: map[string]int{}}
	}
	rep := Report{Target: "http://127.0.0.1:8080", RunID: "abcd1234", Clients: 16, Supervisors: 4, Elapsed: 10 * time.Second,
		Ops: []OpStats{op(OpGetProject, 20000, 4*time.Millisecond), op(OpEditProject, 3000, 40*time.Millisecond),
			op(OpCreateSubmit, 1000, 60*time.Millisecond), op(OpDecide, 1000, 80*time.Millisecond)},
		Lag: LagStats{Samples: 120, P50: 3 * time.Millisecond, P95: 9 * time.Millisecond, P99: 15 * time.Millisecond, Max: 20 * time.Millisecond, Skipped: 7}}
	rep.Ops[1].Errors, rep.Ops[1].ErrorsByStatus = 3, map[int]int{500: 2, 412: 1}
	rep.Ops[3].Expected = map[string]int{codeCapacityReached: 5, codeAlreadyPlaced: 2}
	for _, o := range rep.Ops {
		rep.Total += o.Count
		rep.Errors += o.Errors
	}
	rep.TotalPerSec = float64(rep.Total) / 10
	return rep
}

func withBaseline(rep Report) Report {
	b := &Baseline{Clients: 16, Duration: 5 * time.Second, Collection: "capstone.bench_raw", Prefilled: 10000, DocBytes: 301,
		InsertOne: OpStats{Name: RawInsertOne, Count: 50000, PerSec: 10000, P50: 2 * time.Millisecond, Mean: 10 * time.Millisecond},
		FindOne:   OpStats{Name: RawFindOne, Count: 80000, PerSec: 16000, P50: time.Millisecond, Mean: 2 * time.Millisecond},
		HTTPFloor: OpStats{Name: RawHTTPFloor, Count: 90000, PerSec: 18000, P50: time.Millisecond, Mean: time.Millisecond}}
	rep.Baseline = b
	rep.Ratios = ratios(rep, b)
	return rep
}

func TestRatios(t *testing.T) {
	rep := withBaseline(sampleReport())
	// Writes: (3000*40 + 1000*60 + 1000*80) / 5000 = 52 ms mean.
	// get-project's mean is 4 ms; findOne's 2 ms, plus 1 ms of HTTP: 3 ms.
	want := map[string]float64{"get-project/findOne": 0.5, "get-project/http+findOne": 0.75, "write-commands/insertOne": 10.0 / 52,
		"edit-project/insertOne": 0.25, "create-submit/insertOne": 10.0 / 60, "decide/insertOne": 0.125}
	for k, v := range want {
		if got := rep.Ratios[k]; got < v-1e-9 || got > v+1e-9 {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if len(rep.Ratios) != len(want) {
		t.Errorf("ratios %v", rep.Ratios)
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := withBaseline(sampleReport()).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)
	ratio, ops := strings.Index(out, "get-project/findOne"), strings.Index(out, "operation ")
	if ratio < 0 || ops < 0 || ratio > ops {
		t.Fatalf("the ratios must come first")
	}
	for _, want := range []string{
		"run abcd1234 against http://127.0.0.1:8080, 16 clients (4 supervisors), 10s measured",
		"0.50", "0.19", // get-project/findOne, write-commands/insertOne
		"4,000", "8,000", // clients / mean latency: 16 / 4 ms and 16 / 2 ms
		"4.00ms  8.00ms  12.0ms  16.0ms", // a row's percentiles
		"edit-project       412: 1, 500: 2",
		"decide             capacity-reached: 5, student-already-placed: 2",
		"samples 120  p50 3.00ms  p95 9.00ms  p99 15.0ms  max 20.0ms  timeouts 0  failed 0  skipped 7",
		"raw database: 16 clients, 5s per operation, capstone.bench_raw prefilled with 10000 documents of 301 bytes",
		"16,000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}

	buf.Reset()
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "no baseline") || strings.Contains(buf.String(), "prefilled") {
		t.Errorf("without a baseline:\n%s", buf.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := withBaseline(sampleReport()).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		RunID    string             `json:"run_id"`
		Clients  int                `json:"clients"`
		ElapsedS float64            `json:"elapsed_s"`
		Total    int                `json:"total"`
		Ratios   map[string]float64 `json:"ratios"`
		Ops      []struct {
			Name           string         `json:"name"`
			Count          int            `json:"count"`
			P50            float64        `json:"p50_ms"`
			P99            float64        `json:"p99_ms"`
			ErrorsByStatus map[string]int `json:"errors_by_status"`
			Expected       map[string]int `json:"expected"`
		} `json:"ops"`
		Lag struct {
			Samples int     `json:"samples"`
			P95     float64 `json:"p95_ms"`
		} `json:"lag"`
		Baseline *struct {
			DocBytes int `json:"doc_bytes"`
			FindOne  struct {
				PerSec float64 `json:"per_sec"`
				P50    float64 `json:"p50_ms"`
			} `json:"find_one"`
		} `json:"baseline"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got.RunID != "abcd1234" || got.Clients != 16 || got.ElapsedS != 10 || got.Total != 25000 || len(got.Ops) != 4 ||
		got.Ops[0].Name != OpGetProject || got.Ops[0].P50 != 4 || got.Ops[0].P99 != 12 ||
		got.Ops[1].ErrorsByStatus["500"] != 2 || got.Ops[3].Expected[codeCapacityReached] != 5 ||
		got.Ratios["get-project/findOne"] != 0.5 || got.Lag.Samples != 120 || got.Lag.P95 != 9 ||
		got.Baseline == nil || got.Baseline.DocBytes != 301 || got.Baseline.FindOne.PerSec != 16000 || got.Baseline.FindOne.P50 != 1 {
		t.Fatalf("%+v\n%s", got, buf.String())
	}

	buf.Reset()
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"baseline": null`) || !strings.Contains(buf.String(), `"ratios": null`) {
		t.Errorf("without a baseline:\n%s", buf.String())
	}
}

func TestFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 420 * time.Microsecond: "0.42ms", 12345 * time.Microsecond: "12.3ms",
		250 * time.Millisecond: "250ms", 12 * time.Second: "12.0s"} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%s) = %q, want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{3.14: "3.1", 99.94: "99.9", 100: "100", 2218.4: "2,218", 1234567: "1,234,567"} {
		if got := fmtRate(v); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", v, got, want)
		}
	}
}
