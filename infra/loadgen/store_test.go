package loadgen

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStoreDeltaFromMetrics(t *testing.T) {
	before := parseStoreCounts([]byte(`# HELP capstone_store_commands_total Database commands sent.
# TYPE capstone_store_commands_total counter
capstone_store_commands_total{collection="events",command="insert"} 10
capstone_store_commands_total{collection="projects",command="find"} 5
capstone_store_command_failures_total{command="insert"} 3
`))
	after := parseStoreCounts([]byte(`capstone_store_commands_total{collection="events",command="insert"} 110
capstone_store_commands_total{collection="projects",command="find"} 5
capstone_store_commands_total{collection="projects",command="update"} 1e+02
capstone_store_commands_total{collection="",command="getMore"} 2
capstone_store_commands_total{collection="outbox",command="delete"} 25
not_ours{collection="x",command="insert"} 7
`))
	got := storeDelta(before, after, 100)
	want := []StoreCount{
		{Command: "insert", Collection: "events", Count: 100, PerOp: 1},
		{Command: "update", Collection: "projects", Count: 100, PerOp: 1},
		{Command: "delete", Collection: "outbox", Count: 25, PerOp: 0.25},
		{Command: "getMore", Count: 2, PerOp: 0.02},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delta (-want +got):\n%s", diff)
	}
	if w := (Report{Store: got}).StoreWritesPerOp(); w != 2.25 {
		t.Errorf("writes per op = %v, want 2.25", w)
	}
}
