package loadgen

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStoreDeltaFromMetrics(t *testing.T) {
	before := parseStore([]byte(`# HELP capstone_store_commands_total Database commands sent.
# TYPE capstone_store_commands_total counter
capstone_store_commands_total{collection="events",command="insert"} 10
capstone_store_commands_total{collection="projects",command="find"} 5
capstone_store_command_failures_total{command="insert"} 3
`))
	after := parseStore([]byte(`capstone_store_commands_total{collection="events",command="insert"} 110
capstone_store_commands_total{collection="projects",command="find"} 5
capstone_store_commands_total{collection="projects",command="update"} 1e+02
capstone_store_commands_total{collection="",command="getMore"} 2
capstone_store_commands_total{collection="outbox",command="delete"} 25
not_ours{collection="x",command="insert"} 7
`))
	got := storeDelta(before.counts, after.counts, 100)
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

func TestStoreTimesFromMetrics(t *testing.T) {
	before := parseStore([]byte(`capstone_store_command_duration_seconds_bucket{command="insert",le="0.001"} 3
capstone_store_command_duration_seconds_sum{command="insert"} 0.5
capstone_store_command_duration_seconds_count{command="insert"} 100
`))
	after := parseStore([]byte(`capstone_store_command_duration_seconds_sum{command="insert"} 0.8
capstone_store_command_duration_seconds_count{command="insert"} 200
capstone_store_command_duration_seconds_sum{command="find"} 0.002
capstone_store_command_duration_seconds_count{command="find"} 4
`))
	got := storeTimes(before.times, after.times)
	want := []StoreTime{{Command: "find", Count: 4, Mean: 500 * time.Microsecond}, {Command: "insert", Count: 100, Mean: 3 * time.Millisecond}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Duration) bool { return (a - b).Abs() < time.Microsecond })); diff != "" {
		t.Errorf("times (-want +got):\n%s", diff)
	}
}

// TestMetricSum: a metric's samples are added up whatever their labels; a
// metric whose name only begins another's, comments and a metric absent
// are told apart.
func TestMetricSum(t *testing.T) {
	body := []byte(`# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_cpu_seconds_total_extra 100
capstone_events_appended_total{stream_type="user"} 3
capstone_events_appended_total{stream_type="cohort",note="a, b"} 4
`)
	for _, c := range []struct {
		name  string
		sum   float64
		found bool
	}{{"process_cpu_seconds_total", 12.5, true}, {"capstone_events_appended_total", 7, true}, {"process_resident_memory_bytes", 0, false}} {
		if sum, found := MetricSum(body, c.name); sum != c.sum || found != c.found {
			t.Errorf("MetricSum(%s) = %v, %v; want %v, %v", c.name, sum, found, c.sum, c.found)
		}
	}
}
