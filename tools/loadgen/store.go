package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StoreCount is how many database commands of one kind on one collection
// the service sent during the measured phase (and the drain after it, so
// that the projectors' work for the phase is included), read from its
// /metrics counter capstone_store_commands_total before and after.
type StoreCount struct {
	Command, Collection string
	Count               float64
	PerOp               float64 // Count / operations measured
}

// writeCommands are the database commands that write, and the embedded
// store's own transactions, which the service counts with them under these
// names.
var writeCommands = []string{"insert", "update", "delete", "findAndModify", "stagedMove", "emptyCollection"}

// storeCommandsMetric is the counter [StoreCount] is read from.
const storeCommandsMetric = "capstone_store_commands_total"

// scrapeStore reads the store command counters from the target's /metrics,
// keyed by "command collection"; ok is false if there are none (an older
// service, or /metrics not served).
func (r *runner) scrapeStore(ctx context.Context) (storeScrape, bool) {
	rep, err := r.api.do(ctx, http.MethodGet, "/metrics", "", nil, -1)
	if err != nil || rep.status != http.StatusOK {
		return storeScrape{}, false
	}
	s := parseStore(rep.body)
	return s, len(s.counts) > 0
}

// storeScrape is what one scrape of /metrics says about the store: the
// command counts by [command, collection], and the round-trip histogram's
// [sum, count] by command.
type storeScrape struct {
	counts map[[2]string]float64
	times  map[string][2]float64
}

// parseStore reads, from the Prometheus text format, lines such as
//
//	capstone_store_commands_total{collection="events",command="insert"} 42
//	capstone_store_command_duration_seconds_sum{command="insert"} 0.8
//	capstone_store_command_duration_seconds_count{command="insert"} 200
func parseStore(body []byte) storeScrape {
	s := storeScrape{counts: map[[2]string]float64{}, times: map[string][2]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, v, ok := sample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case storeCommandsMetric:
			s.counts[[2]string{labels["command"], labels["collection"]}] += v
		case storeDurationMetric + "_sum", storeDurationMetric + "_count":
			e := s.times[labels["command"]]
			if strings.HasSuffix(name, "_sum") {
				e[0] += v
			} else {
				e[1] += v
			}
			s.times[labels["command"]] = e
		}
	}
	return s
}

// MetricSum is the sum of metric name's samples, whatever their labels, in
// a /metrics body, and whether it has any: what capstone bench and
// capstone bench-cohort read of a service's process (its CPU time, its
// resident memory) and of its work.
func MetricSum(body []byte, name string) (sum float64, found bool) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if n, _, v, ok := sample(sc.Text()); ok && n == name {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

// sample splits a sample line, name{k="v",...} value (or name value), into
// its parts.
func sample(line string) (name string, labels map[string]string, v float64, ok bool) {
	if strings.HasPrefix(line, "#") {
		return "", nil, 0, false
	}
	name, rest, braces := strings.Cut(line, "{")
	list, value := "", ""
	if braces {
		if list, value, ok = strings.Cut(rest, "} "); !ok {
			return "", nil, 0, false
		}
	} else if name, value, ok = strings.Cut(line, " "); !ok { // no labels: "name value"
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil {
		return "", nil, 0, false
	}
	labels = map[string]string{}
	for kv := range strings.SplitSeq(list, ",") {
		if kv == "" {
			continue
		}
		k, val, _ := strings.Cut(kv, "=")
		if val, err := strconv.Unquote(val); err == nil {
			labels[k] = val
		}
	}
	return name, labels, v, true
}

// StoreTime is the mean round trip of one kind of database command during
// the measured phase, from capstone_store_command_duration_seconds.
type StoreTime struct {
	Command string
	Count   float64
	Mean    time.Duration
}

// storeTimes is the mean round trip per command between two scrapes.
func storeTimes(before, after map[string][2]float64) []StoreTime {
	var out []StoreTime
	for c, a := range after {
		if n := a[1] - before[c][1]; n > 0 {
			out = append(out, StoreTime{Command: c, Count: n, Mean: time.Duration((a[0] - before[c][0]) / n * float64(time.Second))})
		}
	}
	slices.SortFunc(out, func(a, b StoreTime) int { return strings.Compare(a.Command, b.Command) })
	return out
}

// storeDurationMetric is the histogram [StoreTime] is read from.
const storeDurationMetric = "capstone_store_command_duration_seconds"

// storeDelta is after minus before, per operation, largest first.
func storeDelta(before, after map[[2]string]float64, ops int) []StoreCount {
	var out []StoreCount
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			s := StoreCount{Command: k[0], Collection: k[1], Count: d}
			if ops > 0 {
				s.PerOp = d / float64(ops)
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b StoreCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Command+" "+a.Collection, b.Command+" "+b.Collection)
	})
	return out
}

// StoreWritesPerOp is the database writes per measured operation, from
// [Report.Store]; 0 without store figures.
func (r Report) StoreWritesPerOp() float64 {
	n := 0.0
	for _, s := range r.Store {
		if slices.Contains(writeCommands, s.Command) {
			n += s.PerOp
		}
	}
	return n
}
