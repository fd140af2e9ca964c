package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestUploadOutlastsTheWriteTimeout: an upload's answer, which comes once
// every row is applied, is sent even when that takes longer than the
// server's write timeout, through the buffer that holds a write's answer
// until the read models show it.
func TestUploadOutlastsTheWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bufferFor(w, w)
		defer buf.release()
		body, err := csvBody(buf, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		raw, _ := io.ReadAll(body)
		time.Sleep(3 * writeTimeout) // the rows being applied
		_, _ = buf.Write(raw)
		buf.flush(w)
	}))
	srv.Config.WriteTimeout = writeTimeout
	srv.Start()
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/csv", strings.NewReader("Name,QM Email\nA,a@uni.example\n"))
	if err != nil {
		t.Fatalf("the answer was cut off: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(got), "Name,QM Email") {
		t.Fatalf("answer %d %q, %v", resp.StatusCode, got, err)
	}
}
