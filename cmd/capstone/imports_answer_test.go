package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/api"
)

// TestLongImportIsAnswered: an import that outlasts the server's write
// timeout, and an import's own, still gets its report, through the /v1
// route and the original frontend's upload: once its rows are stored and
// shown, its answer has time of its own to be written.
func TestLongImportIsAnswered(t *testing.T) {
	defer func(w, i time.Duration) { writeTimeout, api.ImportWriteTimeout = w, i }(writeTimeout, api.ImportWriteTimeout)
	writeTimeout, api.ImportWriteTimeout = 100*time.Millisecond, 100*time.Millisecond
	s, lc := startLegacy(t)
	admin := s.admin()

	// Enough rows to outlast the timeouts with room: 150 once took 94 ms.
	const rows = 600
	start := time.Now()
	req, err := s.request("POST", "/v1/imports/students", admin, bytes.NewReader(studentsCSV("v1s", rows)), "Content-Type", "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the import's answer was cut off after %v: %v", time.Since(start), err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rep struct{ Rows, Created int }
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &rep) != nil || rep.Rows != rows || rep.Created != rows {
		t.Fatalf("import: %d %s (%v)", resp.StatusCode, body, err)
	}
	if took := time.Since(start); took < writeTimeout {
		t.Fatalf("the import took %v, under the write timeout %v: it tests nothing", took, writeTimeout)
	}

	token, _ := lc.signIn(adminEmail, adminPassword)
	start = time.Now()
	lc.expect(lc.upload(token, "/student/info", "students.csv", studentsCSV("lgs", rows)), 200)
	if took := time.Since(start); took < writeTimeout {
		t.Fatalf("the upload took %v, under the write timeout %v: it tests nothing", took, writeTimeout)
	}
}
