package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// TestStoreDownIsRetryLater: a request the store cannot be reached for
// (the store process killed) is answered 503 store-unavailable with a
// Retry-After, not 500: a write's outcome is then unknown, and the client
// is told to retry it as it was. The same keyed create succeeds, once, when
// the store is back.
func TestStoreDownIsRetryLater(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills its store")
	}
	c := &cluster{t: t, bin: buildBinary(t), dir: t.TempDir(), procs: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	t.Cleanup(c.stopAll)
	c.mongo = freeAddr(t)
	c.startStore()
	c.env = []string{"MONGODB_URI=mongodb://" + c.mongo + "/", "CAPSTONE_JWT_SECRET=a-test-secret-that-is-long-enough-0123456789",
		"CAPSTONE_LOG_LEVEL=warn"}
	c.serve("api", "all", "CAPSTONE_BOOTSTRAP_EMAIL="+adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD="+adminPassword)
	admin := signInAdmin(t, func() []string { return []string{c.addrs["api"]} })

	create := func() (*http.Response, map[string]any) {
		body, _ := json.Marshal(map[string]any{"email": "down@uni.example", "name": "Down", "roles": []string{"student"}})
		req, _ := http.NewRequest("POST", "http://"+c.addrs["api"]+"/v1/users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "store-down-1")
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	c.kill("store")
	resp, body := create()
	if resp.StatusCode != http.StatusServiceUnavailable || body["code"] != "store-unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with the store down: %d %v, Retry-After %q; want 503 store-unavailable with a Retry-After",
			resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}

	c.startStore()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, body = create()
		if resp.StatusCode == http.StatusCreated {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("with the store back: %d %v", resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	id := body["id"]
	if resp, body = create(); resp.StatusCode != http.StatusCreated || body["id"] != id {
		t.Fatalf("the key's retry answered %d %v, want 201 with id %v", resp.StatusCode, body, id)
	}
}
