package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// studentsCSV is a students import of n rows whose codes, emails and
// usernames start with prefix.
func studentsCSV(prefix string, n int) []byte {
	var b strings.Builder
	b.WriteString("Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%05d,Student %d,Enrolled,MSc,Full time,2026-09-01,%s%05d@uni.example,%s%05d\n", prefix, i, i, prefix, i, prefix, i)
	}
	return []byte(b.String())
}

// accessLines are the service's access log lines of route, decoded.
func (s *service) accessLines(route string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["message"] == "request" && line["route"] == route {
			out = append(out, line)
		}
	}
	return out
}

// httpMetric is the value of an HTTP metric's series for route and code
// on /metrics (0 if it has none).
func (s *service) httpMetric(name, route, code string) float64 {
	s.t.Helper()
	r := s.expect(s.do("GET", "/metrics", "", nil), 200)
	for line := range strings.Lines(r.Raw) {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, `route="`+route+`"`) && strings.Contains(line, `code="`+code+`"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

// TestAccessLogCoversTheSettleWait: a write's access log line and its
// request duration cover the wait for the read models before its answer,
// as the client waits for it. Here no projector runs, so an import of 40
// rows (too many streams for a bookmark) waits the whole settle bound. The
// log line and the histogram used to stop before that wait: a 20,000-row
// import was logged as done 41 seconds before its answer left.
func TestAccessLogCoversTheSettleWait(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--components", "api")
	admin := s.admin()
	const route = "/v1/imports/{kind}"

	start := time.Now()
	s.expect(s.upload(admin, "students", "students.csv", studentsCSV("sw", 40), ""), 200)
	took := time.Since(start)
	if !strings.Contains(s.logs.String(), "a write answers before the read models show it") {
		t.Fatal("the import did not wait for the read models: nothing to measure")
	}

	// What lies outside the router (reading the request, sending the
	// answer) takes far less than half the wait even on a loaded machine;
	// a duration without the wait falls short of the client's by all of it.
	least := took - settleWait/2
	var lines []map[string]any
	waitFor(t, "the import's access log line", func() bool { lines = s.accessLines(route); return len(lines) == 1 })
	logged, _ := lines[0]["duration_ms"].(float64)
	if d := time.Duration(logged * float64(time.Millisecond)); d < least {
		t.Errorf("the access log says the import took %v; the client waited %v", d, took)
	}
	sum := s.httpMetric("capstone_http_request_duration_seconds_sum", route, "200")
	if d := time.Duration(sum * float64(time.Second)); d < least {
		t.Errorf("the duration histogram says the import took %v; the client waited %v", d, took)
	}
}
