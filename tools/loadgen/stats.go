package loadgen

import (
	"math"
	"slices"
	"time"
)

// opRec accumulates one operation's outcomes for one client; the clients'
// records are merged after the run, so recording takes no lock.
type opRec struct {
	lat      []time.Duration // every response with a status, errors included
	errors   map[int]int     // by HTTP status; 0 is a transport or driver error
	expected map[string]int  // refusals the mix expects, by problem code
}

func (r *opRec) add(lat time.Duration) { r.lat = append(r.lat, lat) }

func (r *opRec) fail(status int) { addTo(&r.errors, status, 1) }

func (r *opRec) expect(code string) { addTo(&r.expected, code, 1) }

func (r *opRec) merge(o *opRec) {
	r.lat = append(r.lat, o.lat...)
	for k, v := range o.errors {
		addTo(&r.errors, k, v)
	}
	for k, v := range o.expected {
		addTo(&r.expected, k, v)
	}
}

// addTo adds n to (*m)[k], making the map on first use.
func addTo[K comparable](m *map[K]int, k K, n int) {
	if *m == nil {
		*m = map[K]int{}
	}
	(*m)[k] += n
}

// recorder is one client's records, by operation name.
type recorder map[string]*opRec

func (rc recorder) op(name string) *opRec {
	r := rc[name]
	if r == nil {
		r = &opRec{}
		rc[name] = r
	}
	return r
}

// mergeRecorders folds the clients' records into one.
func mergeRecorders(all []recorder) recorder {
	out := recorder{}
	for _, rc := range all {
		for name, r := range rc {
			out.op(name).merge(r)
		}
	}
	return out
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. It is 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// mean returns the arithmetic mean of lat, 0 for none.
func mean(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return sum / time.Duration(len(lat))
}

// summarize turns one operation's records into its statistics over elapsed.
func summarize(name string, r *opRec, elapsed time.Duration) OpStats {
	s := OpStats{Name: name, ErrorsByStatus: map[int]int{}, Expected: map[string]int{}}
	if r == nil {
		return s
	}
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	s.Count = len(lat)
	for status, n := range r.errors {
		s.ErrorsByStatus[status] += n
		s.Errors += n
		if status == 0 { // no response, so no latency: count it all the same
			s.Count += n
		}
	}
	for code, n := range r.expected {
		s.Expected[code] += n
	}
	if elapsed > 0 {
		s.PerSec = float64(s.Count) / elapsed.Seconds()
	}
	s.P50, s.P95, s.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	if len(lat) > 0 {
		s.Max = lat[len(lat)-1]
	}
	s.Mean = mean(lat)
	return s
}

// lagStats summarizes projection-lag samples.
func lagStats(samples []time.Duration, timeouts, skipped int) LagStats {
	lat := slices.Clone(samples)
	slices.Sort(lat)
	l := LagStats{Samples: len(lat), Timeouts: timeouts, Skipped: skipped,
		P50: percentile(lat, 50), P95: percentile(lat, 95), P99: percentile(lat, 99)}
	if len(lat) > 0 {
		l.Max = lat[len(lat)-1]
	}
	return l
}
