package deploy

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	alertsPath = "monitoring/alerts.yaml"
	metricsDir = "../infra/metrics"
)

// alertRules is Prometheus's rule file format, as much as alerts.yaml uses.
type alertRules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

var (
	exportedMetric = regexp.MustCompile(`Name:\s+"(capstone_[a-z0-9_]+)"`)
	namedMetric    = regexp.MustCompile(`\bcapstone_[a-z0-9_]+`)
)

// exportedMetrics are the metric names infra/metrics registers.
func exportedMetrics() (map[string]bool, error) {
	entries, err := os.ReadDir(metricsDir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(metricsDir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		for _, m := range exportedMetric.FindAllStringSubmatch(string(src), -1) {
			names[m[1]] = true
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no capstone_* metric found in " + metricsDir)
	}
	return names, nil
}

// checkAlerts: the rules decode strictly, each has a name, a duration of at
// least a minute and a summary, names only metrics the binary exports (a
// histogram's _bucket, _sum and _count included), and the relay's backlog and
// the projections' lag are alerted on.
func checkAlerts(data []byte, exported map[string]bool) []error {
	var r alertRules
	if err := strictUnmarshal(data, &r); err != nil {
		return []error{err}
	}
	var errs []error
	watched := map[string]bool{}
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" || rule.Expr == "" || rule.Annotations["summary"] == "" {
				errs = append(errs, fmt.Errorf("rule %q: an alert needs a name, an expr and a summary", rule.Alert))
			}
			if d, err := time.ParseDuration(rule.For); err != nil || d < time.Minute {
				errs = append(errs, fmt.Errorf("rule %s: for %q: want a duration of at least 1m, so that one scrape does not page anyone", rule.Alert, rule.For))
			}
			for _, name := range namedMetric.FindAllString(rule.Expr, -1) {
				base := name
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(name, suffix); ok && exported[b] {
						base = b
					}
				}
				if !exported[base] {
					errs = append(errs, fmt.Errorf("rule %s: %s is not a metric the binary exports (%s)", rule.Alert, name, metricsDir))
				}
				watched[base] = true
			}
		}
	}
	for _, must := range []string{"capstone_relay_backlog", "capstone_projection_lag_seconds"} {
		if !watched[must] {
			errs = append(errs, fmt.Errorf("no alert on %s", must))
		}
	}
	return errs
}

func TestAlerts(t *testing.T) {
	data, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := exportedMetrics()
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkAlerts(data, exported) {
		t.Error(err)
	}
	for _, mu := range []struct{ name, old, new, want string }{
		{"metric renamed", "capstone_relay_backlog{", "capstone_outbox_backlog{", "capstone_outbox_backlog is not a metric"},
		{"no lag alert", "rate(capstone_projection_lag_seconds_bucket", "rate(capstone_http_request_duration_seconds_bucket", "no alert on capstone_projection_lag_seconds"},
		{"pages on one scrape", "for: 10m", "for: 0s", "at least 1m"},
		{"misspelt field", "    rules:", "    rule:", "unknown field"},
	} {
		t.Run(mu.name, func(t *testing.T) {
			if !strings.Contains(string(data), mu.old) {
				t.Fatalf("%s has no %q to mutate", alertsPath, mu.old)
			}
			errs := checkAlerts([]byte(strings.Replace(string(data), mu.old, mu.new, 1)), exported)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), mu.want) }) {
				t.Fatalf("no error containing %q: %v", mu.want, errs)
			}
		})
	}
}
