package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// TestBenchCommand: `capstone bench` against a fresh in-process service
// reports every operation, no errors, the projection lag and the ratios to
// the raw driver.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a load test")
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "--clients", "4", "--duration", "3s", "--baseline", "1s", "--json"},
		nil, &out, &errOut, func(string) string { return "" })
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out.String())
	}
	ratios, _ := rep["ratios"].(map[string]any)
	if ratios["get-project/findOne"] == nil || ratios["write-commands/insertOne"] == nil {
		t.Fatalf("ratios: %v", rep["ratios"])
	}
	// The service prepared the baseline's collection with the embedded
	// store's _id index fix, so findOne is a fair baseline.
	if b, _ := rep["baseline"].(map[string]any); b == nil || b["warning"] != nil {
		t.Fatalf("baseline: %v", rep["baseline"])
	}
	if rep["errors"].(float64) != 0 || rep["total"].(float64) < 10 {
		t.Fatalf("report: errors %v, total %v\n%s", rep["errors"], rep["total"], out.String())
	}
	// The store figures come from the service's own /metrics: every command
	// appends a commit, so there is at least one insert into events per
	// write, and some writes per operation overall.
	stored := map[string]float64{}
	store, _ := rep["store_commands"].([]any)
	for _, s := range store {
		s := s.(map[string]any)
		stored[s["command"].(string)+" "+s["collection"].(string)] = s["count"].(float64)
	}
	if stored["insert events"] < 1 || stored["find projects"] < 1 || rep["store_writes_per_op"].(float64) <= 0 {
		t.Errorf("store commands %v, writes per op %v", stored, rep["store_writes_per_op"])
	}
	t.Logf("bench JSON: %.600s", out.String())
}
