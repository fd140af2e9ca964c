package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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

	// outlasting posts files of more and more rows, each as post does,
	// until one takes longer than the write timeout: imports only get
	// faster, and one answered before the timeout tests nothing.
	outlasting := func(what string, post func(prefix string, rows int)) {
		for rows, attempt := 300, 0; ; rows, attempt = rows*2, attempt+1 {
			start := time.Now()
			post(fmt.Sprintf("%s%d", what, attempt), rows)
			if time.Since(start) >= writeTimeout {
				return
			}
			if rows >= 20000 {
				t.Fatalf("%s: %d rows took %v, under the write timeout %v: it tests nothing", what, rows, time.Since(start), writeTimeout)
			}
		}
	}

	outlasting("v", func(prefix string, rows int) {
		start := time.Now()
		req, err := s.request("POST", "/v1/imports/students", admin, bytes.NewReader(studentsCSV(prefix, rows)), "Content-Type", "text/csv")
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
			t.Fatalf("import of %d rows: %d %s (%v)", rows, resp.StatusCode, body, err)
		}
	})

	token, _ := lc.signIn(adminEmail, adminPassword)
	outlasting("l", func(prefix string, rows int) {
		lc.expect(lc.upload(token, "/student/info", "students.csv", studentsCSV(prefix, rows)), 200)
	})
}
