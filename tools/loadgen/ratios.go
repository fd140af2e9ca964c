package loadgen

import (
	"strings"
	"time"
)

// ratioKeys are the ratios a report with a baseline has, in table order.
func ratioKeys() []string {
	keys := []string{OpGetProject + "/" + RawFindOne, OpGetProject + "/" + RawHTTPFindOne, OpListSupervisors + "/" + RawFindOne,
		"write-commands/" + RawInsertOne}
	for _, name := range writeOps {
		keys = append(keys, name+"/"+RawInsertOne)
	}
	return keys
}

// ratioMeans returns the mean latencies of the service's side and the raw
// side of a ratio key; ok is false without a baseline or samples.
func (r Report) ratioMeans(key string) (svc, raw time.Duration, ok bool) {
	if r.Baseline == nil {
		return 0, 0, false
	}
	name, rawName, _ := strings.Cut(key, "/")
	switch rawName {
	case RawFindOne:
		raw = r.Baseline.FindOne.Mean
	case RawInsertOne:
		raw = r.Baseline.InsertOne.Mean
	case RawHTTPFindOne:
		// HTTP and the store share the cores: their costs add up.
		if r.Baseline.HTTPFloor.Mean > 0 {
			raw = r.Baseline.HTTPFloor.Mean + r.Baseline.FindOne.Mean
		}
	}
	if name == "write-commands" {
		var sum float64
		var n int
		for _, w := range writeOps {
			s := r.Op(w)
			answered := s.Count - s.ErrorsByStatus[0] // the mean is over answers
			sum += float64(s.Mean) * float64(answered)
			n += answered
		}
		if n > 0 {
			svc = time.Duration(sum / float64(n))
		}
	} else {
		svc = r.Op(name).Mean
	}
	return svc, raw, svc > 0 && raw > 0
}

// ratios computes service / raw for the operations the baseline matches, as
// throughputs at equal concurrency by Little's law (clients / mean latency),
// which is the inverse ratio of the mean latencies.
func ratios(rep Report, b *Baseline) map[string]float64 {
	rep.Baseline = b
	out := map[string]float64{}
	for _, key := range ratioKeys() {
		if svc, raw, ok := rep.ratioMeans(key); ok {
			out[key] = float64(raw) / float64(svc)
		}
	}
	return out
}
