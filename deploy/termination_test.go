package deploy

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shutdownGo is the file of cmd/capstone that holds shutdownTimeout, the
// bound on everything `capstone serve` does after SIGTERM.
const shutdownGo = "../cmd/capstone/shutdown.go"

// The margins the termination check asks for, besides shutdownTimeout.
const (
	// shutdownMargin is left after shutdownTimeout for the process to log
	// and exit before the kubelet's SIGKILL.
	shutdownMargin = 5 * time.Second
	// endpointRemoval is how long a pod behind the load balancer keeps
	// serving new requests after it starts terminating (its preStop sleep):
	// the NEG controller detaches a terminating pod's endpoint from the
	// network endpoint group asynchronously, and the Google Front Ends stop
	// sending to it only once that change has reached them.
	endpointRemoval = 30 * time.Second
	// negTerminationGrace is the termination grace period Google's
	// container-native load balancing guide asks of workloads behind a NEG
	// so that a rollout does not disrupt the service.
	negTerminationGrace = 60 * time.Second
	// storeFailover is how long readiness (and the load balancer's health
	// check) must tolerate a failing store before a pod is taken out: a
	// MongoDB Atlas primary election has a median of at most 12 s, and the
	// driver waits up to 30 s (its server selection timeout) for the new
	// primary. Shorter, every pod turns unready at once during a failover,
	// and the load balancer answers 502 to everyone instead of some
	// requests waiting a few seconds.
	storeFailover = 30 * time.Second
)

// readShutdownTimeout reads shutdownTimeout from cmd/capstone.
func readShutdownTimeout(t testing.TB) time.Duration {
	t.Helper()
	src, err := os.ReadFile(shutdownGo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := shutdownTimeoutIn(string(src))
	if err != nil {
		t.Fatalf("%s: %v", shutdownGo, err)
	}
	return d
}

// shutdownTimeoutIn finds `const shutdownTimeout = N * time.Unit` (or a
// bare time.Unit) in a Go file. Any other form is an error rather than a
// guess, so that a rewrite of the constant makes this test be looked at.
func shutdownTimeoutIn(src string) (time.Duration, error) {
	f, err := parser.ParseFile(token.NewFileSet(), shutdownGo, src, 0)
	if err != nil {
		return 0, err
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name == "shutdownTimeout" && i < len(vs.Values) {
					return durationExpr(vs.Values[i])
				}
			}
		}
	}
	return 0, errors.New("no const shutdownTimeout")
}

var timeUnits = map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute}

func durationExpr(e ast.Expr) (time.Duration, error) {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return durationExpr(e.X)
	case *ast.SelectorExpr:
		if pkg, ok := e.X.(*ast.Ident); ok && pkg.Name == "time" {
			if u, ok := timeUnits[e.Sel.Name]; ok {
				return u, nil
			}
		}
	case *ast.BasicLit:
		if e.Kind == token.INT {
			n, err := strconv.ParseInt(e.Value, 0, 64)
			return time.Duration(n), err
		}
	case *ast.BinaryExpr:
		if e.Op == token.MUL {
			x, err := durationExpr(e.X)
			if err != nil {
				return 0, err
			}
			y, err := durationExpr(e.Y)
			return x * y, err
		}
	}
	return 0, fmt.Errorf("shutdownTimeout is not N * time.Second (or Millisecond, Minute)")
}

// preStopSleep is the length of a container's preStop sleep (0 without a
// preStop hook). Another kind of hook cannot be timed, so it is an error.
func preStopSleep(c *corev1.Container) (time.Duration, error) {
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
		return 0, nil
	}
	if c.Lifecycle.PreStop.Sleep == nil {
		return 0, errors.New("the preStop hook is not a sleep action (the image has no shell), so its length is unknown")
	}
	return time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second, nil
}

// behindIngress reports whether a Deployment's pods are a backend of an
// Ingress (through a Service the Ingress routes to).
func behindIngress(m *manifest, d *appsv1.Deployment) bool {
	for _, ing := range m.Ingresses {
		var names []string
		if ing.Spec.DefaultBackend != nil && ing.Spec.DefaultBackend.Service != nil {
			names = append(names, ing.Spec.DefaultBackend.Service.Name)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				if p.Backend.Service != nil {
					names = append(names, p.Backend.Service.Name)
				}
			}
		}
		for _, name := range names {
			svc := m.service(name)
			if svc == nil {
				continue
			}
			if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); ok {
				return true
			}
		}
	}
	return false
}

// ridesOutFailover checks that a check run every period seconds gives up
// only after failures in a row (each 0 meaning the given default) lasting at
// least storeFailover.
func ridesOutFailover[N ~int32](period, failures, defPeriod, defFailures N) error {
	if period == 0 {
		period = defPeriod
	}
	if failures == 0 {
		failures = defFailures
	}
	if tolerated := time.Duration(period*failures) * time.Second; tolerated < storeFailover {
		return fmt.Errorf("gives up after %s (%ds x %d): a store failover (up to %s)", tolerated, period, failures, storeFailover)
	}
	return nil
}

// checkTermination: every `serve` process gets its preStop, the code's
// shutdownTimeout and a margin within its termination grace period; pods
// behind the load balancer keep serving while their endpoint is removed
// (and, on GKE, get the grace Google asks for container-native load
// balancing, with a load balancer drain no longer than the process's);
// readiness and the load balancer's health check ride out a store failover.
func checkTermination(m *manifest, env checkEnv) []error {
	var errs []error
	if env.shutdown <= 0 {
		return []error{errors.New("shutdownTimeout unknown")}
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		pod := &d.Spec.Template.Spec
		grace := 30 * time.Second // the Kubernetes default
		if pod.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		}
		lb := behindIngress(m, d)
		for j := range pod.Containers {
			c := &pod.Containers[j]
			if subcommand(c) != "serve" {
				continue
			}
			where := d.Name + "/" + c.Name
			sleep, err := preStopSleep(c)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			if need := sleep + env.shutdown + shutdownMargin; grace < need {
				errs = append(errs, fmt.Errorf("%s: terminationGracePeriodSeconds %s < preStop %s + shutdownTimeout %s (cmd/capstone) + %s: the process is killed before it has drained",
					where, grace, sleep, env.shutdown, shutdownMargin))
			}
			if lb && sleep < endpointRemoval {
				errs = append(errs, fmt.Errorf("%s: preStop sleep %s < %s: the load balancer still sends requests to a pod that has stopped accepting them (502)", where, sleep, endpointRemoval))
			}
			if lb && env.target.gke && grace < negTerminationGrace {
				errs = append(errs, fmt.Errorf("%s: terminationGracePeriodSeconds %s < %s, the least Google's container-native load balancing guide asks of pods behind a NEG", where, grace, negTerminationGrace))
			}
			if p := c.ReadinessProbe; p != nil {
				if err := ridesOutFailover(p.PeriodSeconds, p.FailureThreshold, 10, 3); err != nil {
					errs = append(errs, fmt.Errorf("%s: readiness %w would make every pod unready at once", where, err))
				}
			}
		}
	}
	if !env.target.gke {
		return errs
	}
	for _, bc := range m.BackendConfigs {
		if hc := bc.Spec.HealthCheck; hc != nil {
			if err := ridesOutFailover(hc.CheckIntervalSec, hc.UnhealthyThreshold, 5, 2); err != nil {
				errs = append(errs, fmt.Errorf("BackendConfig %s: the health check %w would take every backend out at once", bc.Name, err))
			}
		}
		if cd := bc.Spec.ConnectionDraining; cd == nil || cd.DrainingTimeoutSec == 0 {
			errs = append(errs, fmt.Errorf("BackendConfig %s: no connection draining: requests in flight on a removed endpoint are cut at once", bc.Name))
		} else if drain := time.Duration(cd.DrainingTimeoutSec) * time.Second; drain > env.shutdown {
			errs = append(errs, fmt.Errorf("BackendConfig %s: the load balancer drains for %s, longer than the process waits for requests in flight (shutdownTimeout %s)", bc.Name, drain, env.shutdown))
		}
	}
	return errs
}

func TestShutdownTimeoutFromSource(t *testing.T) {
	for src, want := range map[string]time.Duration{
		"package main\nimport \"time\"\nconst shutdownTimeout = 25 * time.Second\n":                    25 * time.Second,
		"package main\nimport \"time\"\nconst (\n\tx = 1\n\tshutdownTimeout = time.Minute\n)\n":        time.Minute,
		"package main\nimport \"time\"\nconst shutdownTimeout = (1500 * time.Millisecond)\n":           1500 * time.Millisecond,
		"package main\nimport \"time\"\nconst shutdownTimeout = 2 * 10 * time.Second // comment\n":     20 * time.Second,
		"package main\nimport \"time\"\nconst shutdownTimeout = time.Duration(20) * time.Second\n":     -1,
		"package main\nimport \"time\"\nvar shutdownTimeout = 20 * time.Second\n":                      -1,
		"package main\nimport \"time\"\nconst drainTimeout = 20 * time.Second\n":                       -1,
		"package main\nimport \"time\"\nconst shutdownTimeout = 20 * time.Second + time.Millisecond\n": -1,
	} {
		got, err := shutdownTimeoutIn(src)
		if want < 0 {
			if err == nil {
				t.Errorf("%q: read %s, want an error", src, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %s, %v; want %s", src, got, err, want)
		}
	}
}

// TestTerminationFollowsShutdownTimeout: a longer shutdownTimeout in the
// code, with the manifests left as they are, fails the check.
func TestTerminationFollowsShutdownTimeout(t *testing.T) {
	src, err := os.ReadFile(shutdownGo)
	if err != nil {
		t.Fatal(err)
	}
	now := readShutdownTimeout(t)
	longer := strings.Replace(string(src), fmt.Sprintf("= %d * time.Second", int(now/time.Second)), fmt.Sprintf("= %d * time.Second", int(now/time.Second)+30), 1)
	d, err := shutdownTimeoutIn(longer)
	if err != nil || d != now+30*time.Second {
		t.Fatalf("could not lengthen shutdownTimeout in %s (%s, %v): has its form changed?", shutdownGo, d, err)
	}
	for _, tg := range targets {
		errs := checkTermination(renderDecode(t, tg), checkEnv{target: tg, shutdown: d})
		if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), "shutdownTimeout "+d.String()) }) {
			t.Errorf("%s: shutdownTimeout %s passed with the manifests' grace periods: %v", tg.name, d, errs)
		}
	}
}
