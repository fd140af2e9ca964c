package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// gfeRanges are the source ranges of Google's front ends and health checks
// for the global external Application Load Balancer (Google's load
// balancing firewall rules page lists both).
var gfeRanges = []string{"130.211.0.0/22", "35.191.0.0/16"}

// backlogMetric is Pub/Sub's count of a subscription's undelivered messages,
// as the Custom Metrics Stackdriver Adapter names it for an External metric.
const backlogMetric = "pubsub.googleapis.com|subscription|num_undelivered_messages"

// metricsNamespace is where Google Cloud Managed Service for Prometheus runs
// its collectors, which scrape the pods' metrics port.
const metricsNamespace = "gmp-system"

var (
	subscriptionsOnce sync.Once
	subscriptionsErr  error
	subscriptionsList []string
)

// projectionSubscriptions are the Pub/Sub subscriptions the projectors
// consume: those `capstone pubsub-setup` creates, read from the binary itself
// (built once, run against Google's Pub/Sub fake), so that a projection added
// in the code and missing from the autoscaler fails here.
func projectionSubscriptions(t testing.TB) []string {
	t.Helper()
	subscriptionsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "capstone-deploy-test-")
		if err != nil {
			subscriptionsErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "capstone")
		// Built in the service's own module (the repository root), with its
		// go.mod, as the Dockerfile builds it, not with this module's.
		build := exec.Command("go", "build", "-o", bin, "./cmd/capstone")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			subscriptionsErr = fmt.Errorf("go build ./cmd/capstone: %v\n%s", err, out)
			return
		}
		emu, err := pubsub.StartEmulator("127.0.0.1:0")
		if err != nil {
			subscriptionsErr = err
			return
		}
		defer emu.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "pubsub-setup")
		cmd.Env = append(os.Environ(), "PUBSUB_PROJECT_ID=capstone-test", "PUBSUB_EMULATOR_HOST="+emu.Addr())
		out, err := cmd.Output()
		if err != nil {
			subscriptionsErr = fmt.Errorf("capstone pubsub-setup: %v", err)
			return
		}
		ready := regexp.MustCompile(`^subscription (\S+): ready$`)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				subscriptionsList = append(subscriptionsList, m[1])
			}
		}
		if len(subscriptionsList) == 0 {
			subscriptionsErr = fmt.Errorf("capstone pubsub-setup named no subscription:\n%s", out)
		}
	})
	if subscriptionsErr != nil {
		t.Fatal(subscriptionsErr)
	}
	return subscriptionsList
}

// checkGKE: container-native load balancing through a BackendConfig with a
// health check on a health route and port and a Cloud Armor policy, the GKE
// Ingress class, Autopilot-friendly resources.
func checkGKE(m *manifest, env checkEnv) []error {
	if !env.target.gke {
		return nil
	}
	var errs []error
	for _, svc := range m.Services {
		var neg struct {
			Ingress bool `json:"ingress"`
		}
		if err := json.Unmarshal([]byte(svc.Annotations["cloud.google.com/neg"]), &neg); err != nil || !neg.Ingress {
			errs = append(errs, fmt.Errorf("Service %s: no cloud.google.com/neg {\"ingress\": true} (container-native load balancing)", svc.Name))
		}
		var bc struct {
			Default string `json:"default"`
		}
		if err := json.Unmarshal([]byte(svc.Annotations["cloud.google.com/backend-config"]), &bc); err != nil || bc.Default == "" {
			errs = append(errs, fmt.Errorf("Service %s: no cloud.google.com/backend-config {\"default\": NAME}", svc.Name))
			continue
		}
		i := slices.IndexFunc(m.BackendConfigs, func(b backendConfig) bool { return b.Name == bc.Default })
		if i < 0 {
			errs = append(errs, fmt.Errorf("Service %s: BackendConfig %q is not in the manifests", svc.Name, bc.Default))
			continue
		}
		if sp := m.BackendConfigs[i].Spec.SecurityPolicy; sp == nil || sp.Name == "" {
			errs = append(errs, fmt.Errorf("BackendConfig %s: no Cloud Armor securityPolicy: nothing throttles /v1/auth/* before it reaches the pods", bc.Default))
		}
		hc := m.BackendConfigs[i].Spec.HealthCheck
		if hc == nil || !slices.Contains(healthPaths, hc.RequestPath) {
			errs = append(errs, fmt.Errorf("BackendConfig %s: the load balancer's health check is not on %v", bc.Default, healthPaths))
			continue
		}
		for i := range m.Deployments {
			d := &m.Deployments[i]
			if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); !ok {
				continue
			}
			if !slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
				return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == hc.Port })
			}) {
				errs = append(errs, fmt.Errorf("BackendConfig %s: health check port %d is not a container port of %s, which Service %s selects", bc.Default, hc.Port, d.Name, svc.Name))
			}
		}
	}
	for _, ing := range m.Ingresses {
		if class := ing.Annotations["kubernetes.io/ingress.class"]; class != "gce" {
			errs = append(errs, fmt.Errorf("Ingress %s: class %q, want gce (external Application Load Balancer)", ing.Name, class))
		}
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range containers(d) {
			req, lim := c.Resources.Requests, c.Resources.Limits
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
				if q, ok := req[r]; !ok || !q.Equal(lim[r]) {
					errs = append(errs, fmt.Errorf("%s/%s: on Autopilot set %s requests equal to limits (it bills requests and would change the limits)", d.Name, c.Name, r))
				}
			}
			cpu, mem := req[corev1.ResourceCPU], req[corev1.ResourceMemory]
			if !cpu.IsZero() {
				perCPU := float64(mem.Value()) / (1 << 30) / cpu.AsApproximateFloat64()
				if perCPU < 1 || perCPU > 6.5 {
					errs = append(errs, fmt.Errorf("%s/%s: %.2f GiB of memory per vCPU is outside Autopilot's 1 to 6.5", d.Name, c.Name, perCPU))
				}
			}
			if cpu.Cmp(resource.MustParse("250m")) < 0 {
				errs = append(errs, fmt.Errorf("%s/%s: CPU request %s below 250m, the minimum on every Autopilot compute class", d.Name, c.Name, cpu.String()))
			}
		}
	}
	return errs
}

// dnsName is a fully qualified domain name a certificate can be issued for.
var dnsName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// checkTLS: on GKE every Ingress serves HTTPS with a Google-managed
// certificate for a domain, on a reserved address (the one its DNS record
// names), and plain HTTP is either closed or redirected to HTTPS with a code
// that keeps the method (a 301 or 302 turns a POST into a GET).
func checkTLS(m *manifest, env checkEnv) []error {
	if !env.target.gke {
		return nil
	}
	var errs []error
	for _, ing := range m.Ingresses {
		certs := strings.TrimSpace(ing.Annotations["networking.gke.io/managed-certificates"])
		if certs == "" {
			errs = append(errs, fmt.Errorf("Ingress %s: no networking.gke.io/managed-certificates: the load balancer serves plain HTTP only", ing.Name))
		}
		for _, name := range strings.Split(certs, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			i := slices.IndexFunc(m.ManagedCertificates, func(c managedCertificate) bool { return c.Name == name })
			if i < 0 {
				errs = append(errs, fmt.Errorf("Ingress %s: ManagedCertificate %q is not in the manifests", ing.Name, name))
				continue
			}
			if len(m.ManagedCertificates[i].Spec.Domains) == 0 {
				errs = append(errs, fmt.Errorf("ManagedCertificate %s: no domain", name))
			}
			for _, d := range m.ManagedCertificates[i].Spec.Domains {
				if !dnsName.MatchString(d) {
					errs = append(errs, fmt.Errorf("ManagedCertificate %s: %q is not a domain name", name, d))
				}
			}
		}
		if ing.Annotations["kubernetes.io/ingress.global-static-ip-name"] == "" {
			errs = append(errs, fmt.Errorf("Ingress %s: no kubernetes.io/ingress.global-static-ip-name: the address would change and the certificate's DNS record with it", ing.Name))
		}
		if ing.Annotations["kubernetes.io/ingress.allow-http"] == "false" {
			continue
		}
		name := ing.Annotations["networking.gke.io/v1beta1.FrontendConfig"]
		i := slices.IndexFunc(m.FrontendConfigs, func(f frontendConfig) bool { return f.Name == name })
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("Ingress %s: plain HTTP is open and not redirected (no FrontendConfig, and kubernetes.io/ingress.allow-http is not \"false\")", ing.Name))
		case i < 0:
			errs = append(errs, fmt.Errorf("Ingress %s: FrontendConfig %q is not in the manifests", ing.Name, name))
		default:
			r := m.FrontendConfigs[i].Spec.RedirectToHTTPS
			if r == nil || !r.Enabled {
				errs = append(errs, fmt.Errorf("FrontendConfig %s: HTTP is not redirected to HTTPS", name))
			} else if r.ResponseCodeName != "PERMANENT_REDIRECT" && r.ResponseCodeName != "TEMPORARY_REDIRECT" {
				errs = append(errs, fmt.Errorf("FrontendConfig %s: redirect code %q may turn a POST into a GET; want PERMANENT_REDIRECT (308)", name, r.ResponseCodeName))
			}
		}
	}
	return errs
}

// checkEdge: on GKE the API believes X-Forwarded-For from Google's front ends
// and the load balancer's own address only (which the front end appends last),
// so that it throttles and audits the real client, and nobody else can name
// an address for it.
func checkEdge(m *manifest, env checkEnv) []error {
	if !env.target.gke {
		return nil
	}
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		if !behindIngress(m, d) {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			where := d.Name + "/" + c.Name
			vars, _, _ := containerEnv(m, &c)
			prefixes, err := config.ParsePrefixes(vars["CAPSTONE_TRUSTED_PROXIES"])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: CAPSTONE_TRUSTED_PROXIES: %w", where, err))
				continue
			}
			var hosts int
			for _, p := range prefixes {
				switch {
				case slices.Contains(gfeRanges, p.String()):
				case p.IsSingleIP():
					hosts++
				default:
					errs = append(errs, fmt.Errorf("%s: CAPSTONE_TRUSTED_PROXIES trusts %s, which is neither a Google front-end range nor the load balancer's address: clients there could choose the address they are throttled under", where, p))
				}
			}
			for _, r := range gfeRanges {
				if !slices.Contains(prefixes, netip.MustParsePrefix(r)) {
					errs = append(errs, fmt.Errorf("%s: CAPSTONE_TRUSTED_PROXIES lacks the front-end range %s: requests through it would all have the front end's address", where, r))
				}
			}
			if hosts == 0 {
				errs = append(errs, fmt.Errorf("%s: CAPSTONE_TRUSTED_PROXIES lacks the load balancer's own address, which the front end appends after the client's: every client would have that address", where))
			}
		}
	}
	return errs
}

// checkBacklog: on GKE each Deployment of projectors scales on the backlog of
// every subscription it consumes (the External metric the Custom Metrics
// Stackdriver Adapter serves), averaged over its replicas, with CPU as a
// second signal; locally, where no adapter runs, an HPA has no External
// metric (it would never get a value).
func checkBacklog(m *manifest, env checkEnv) []error {
	var errs []error
	for _, h := range m.HPAs {
		d := m.deployment(h.Spec.ScaleTargetRef.Name)
		if d == nil {
			continue // checkScaling reports it
		}
		external := map[string]autoscalingv2.MetricTarget{} // subscription -> target
		cpu := false
		for _, mt := range h.Spec.Metrics {
			switch {
			case mt.Type == autoscalingv2.ExternalMetricSourceType && mt.External != nil:
				if !env.target.gke {
					errs = append(errs, fmt.Errorf("HPA %s: External metric %s in the %s overlay, where no metrics adapter serves it", h.Name, mt.External.Metric.Name, env.target.name))
					continue
				}
				sub := ""
				if mt.External.Metric.Selector != nil {
					sub = mt.External.Metric.Selector.MatchLabels["resource.labels.subscription_id"]
				}
				if mt.External.Metric.Name != backlogMetric || sub == "" {
					errs = append(errs, fmt.Errorf("HPA %s: External metric %s %v is not %s of one subscription", h.Name, mt.External.Metric.Name, mt.External.Metric.Selector, backlogMetric))
					continue
				}
				if !slices.Contains(env.subscriptions, sub) {
					errs = append(errs, fmt.Errorf("HPA %s: scales on subscription %s, which capstone pubsub-setup does not create (%v)", h.Name, sub, env.subscriptions))
				}
				external[sub] = mt.External.Target
			case mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU:
				cpu = true
			}
		}
		if !env.target.gke || !runsComponent(d, "projector") {
			continue
		}
		for _, sub := range env.subscriptions {
			target, ok := external[sub]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("HPA %s: does not scale %s on the backlog of subscription %s; add to its spec.metrics in deploy/%s/projector-hpa-patch.yaml:\n%s",
					h.Name, d.Name, sub, gkeOverlay, backlogMetricYAML(sub, external)))
			case target.Type != autoscalingv2.AverageValueMetricType || target.AverageValue == nil || target.AverageValue.Sign() <= 0:
				errs = append(errs, fmt.Errorf("HPA %s: the backlog of %s is not an AverageValue target (undelivered messages per replica)", h.Name, sub))
			}
		}
		if !cpu {
			errs = append(errs, fmt.Errorf("HPA %s: no CPU metric beside the backlog", h.Name))
		}
	}
	return errs
}

// backlogMetricYAML is the HPA metric that scales on sub's backlog, written
// as the patch writes the others (with the first other subscription's
// target), so that the failure a new projection causes says exactly what to
// add.
func backlogMetricYAML(sub string, others map[string]autoscalingv2.MetricTarget) string {
	perReplica := "100"
	for _, o := range slices.Sorted(maps.Keys(others)) {
		if t := others[o]; t.AverageValue != nil {
			perReplica = t.AverageValue.String()
			break
		}
	}
	return fmt.Sprintf(`    - type: External
      external:
        metric:
          name: %s
          selector:
            matchLabels:
              resource.labels.subscription_id: %s
        target:
          type: AverageValue
          averageValue: "%s"
`, backlogMetric, sub, perReplica)
}

// peerIsGFE reports whether a NetworkPolicy peer is exactly one of Google's
// front-end ranges.
func peerIsGFE(p networkingv1.NetworkPolicyPeer) bool {
	return p.IPBlock != nil && len(p.IPBlock.Except) == 0 && slices.Contains(gfeRanges, p.IPBlock.CIDR) && p.PodSelector == nil && p.NamespaceSelector == nil
}

// peerIsMetricsCollector reports whether a peer is the Managed Prometheus
// collectors' namespace (and nothing wider).
func peerIsMetricsCollector(p networkingv1.NetworkPolicyPeer) bool {
	return p.IPBlock == nil && p.NamespaceSelector != nil && len(p.NamespaceSelector.MatchExpressions) == 0 &&
		len(p.NamespaceSelector.MatchLabels) == 1 && p.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == metricsNamespace
}

// portIs reports whether a NetworkPolicy port is exactly container port name
// of c (by name or number).
func portIs(p networkingv1.NetworkPolicyPort, c *corev1.Container, name string) bool {
	num, ok := portNamed(c, name)
	if !ok || p.Port == nil || p.EndPort != nil {
		return false
	}
	return (p.Port.Type == intstr.String && p.Port.StrVal == name) || (p.Port.Type == intstr.Int && p.Port.IntVal == num)
}

// checkNetwork: on GKE every pod is isolated for ingress by a NetworkPolicy;
// the pods behind the load balancer accept connections only from Google's
// front ends and health checks, both, on the port their Service targets, and
// the other pods accept none; the Managed Prometheus collectors reach every
// pod on its metrics port, and nothing else. The kubelet's probes come from the pod's own
// node, which NetworkPolicies always allow.
func checkNetwork(m *manifest, env checkEnv) []error {
	if !env.target.gke {
		return nil
	}
	var errs []error
	for _, np := range m.NetworkPolicies {
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			errs = append(errs, fmt.Errorf("NetworkPolicy %s: policyTypes %v lacks Ingress", np.Name, np.Spec.PolicyTypes))
		}
		if !slices.ContainsFunc(m.Deployments, func(d appsv1.Deployment) bool { ok, _ := selects(&np.Spec.PodSelector, &d); return ok }) {
			errs = append(errs, fmt.Errorf("NetworkPolicy %s: selects no pods of the manifests", np.Name))
		}
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		var rules []networkingv1.NetworkPolicyIngressRule
		isolated := false
		for _, np := range m.NetworkPolicies {
			if ok, _ := selects(&np.Spec.PodSelector, d); ok && slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				isolated = true
				rules = append(rules, np.Spec.Ingress...)
			}
		}
		if !isolated {
			errs = append(errs, fmt.Errorf("Deployment %s: no NetworkPolicy isolates its pods: anything in the cluster can connect to them", d.Name))
			continue
		}
		c := &d.Spec.Template.Spec.Containers[0]
		lb := behindIngress(m, d)
		target := ""
		if lb {
			for _, svc := range m.Services {
				if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); ok && len(svc.Spec.Ports) > 0 {
					target = svc.Spec.Ports[0].TargetPort.String()
				}
			}
		}
		gfeAllowed := map[string]bool{}
		collectorAllowed := false
		for _, r := range rules {
			if len(r.From) == 0 {
				errs = append(errs, fmt.Errorf("Deployment %s: a NetworkPolicy rule allows every source", d.Name))
				continue
			}
			if len(r.Ports) == 0 {
				errs = append(errs, fmt.Errorf("Deployment %s: a NetworkPolicy rule allows every port", d.Name))
				continue
			}
			for _, p := range r.Ports {
				for _, peer := range r.From {
					switch {
					case peerIsMetricsCollector(peer) && portIs(p, c, "metrics"):
						collectorAllowed = true
					case lb && peerIsGFE(peer) && portIs(p, c, target):
						gfeAllowed[peer.IPBlock.CIDR] = true
					default:
						errs = append(errs, fmt.Errorf("Deployment %s: a NetworkPolicy lets %s reach port %s", d.Name, peerString(peer), p.Port.String()))
					}
				}
			}
		}
		if !collectorAllowed {
			errs = append(errs, fmt.Errorf("Deployment %s: the metrics collectors (namespace %s) may not reach its metrics port: nothing would be scraped", d.Name, metricsNamespace))
		}
		if lb {
			for _, r := range gfeRanges {
				if !gfeAllowed[r] {
					errs = append(errs, fmt.Errorf("Deployment %s: the load balancer's range %s may not reach port %s: its requests and health checks would be dropped", d.Name, r, target))
				}
			}
		}
	}
	return errs
}

func peerString(p networkingv1.NetworkPolicyPeer) string {
	var parts []string
	if p.IPBlock != nil {
		parts = append(parts, "ipBlock "+p.IPBlock.CIDR)
	}
	if p.NamespaceSelector != nil {
		parts = append(parts, "namespaces "+metav1.FormatLabelSelector(p.NamespaceSelector))
	}
	if p.PodSelector != nil {
		parts = append(parts, "pods "+metav1.FormatLabelSelector(p.PodSelector))
	}
	return strings.Join(parts, " and ")
}

// metricsPath is where the binary serves its metrics.
const metricsPath = "/metrics"

// checkMetrics: every `serve` process serves its metrics on a listener of
// their own (CAPSTONE_METRICS_ADDR), on all interfaces so that the
// collectors reach it, on the container port named metrics, which is not
// the port the probes and the Service use; no Service exposes that port, so
// the Ingress cannot route to it. On GKE one PodMonitoring per component
// scrapes it, and the NetworkPolicies let the collectors reach it.
func checkMetrics(m *manifest, env checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for j := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[j]
			if subcommand(c) != "serve" {
				continue
			}
			where := d.Name + "/" + c.Name
			vars, _, _ := containerEnv(m, c)
			addr := vars["CAPSTONE_METRICS_ADDR"]
			host, port, err := net.SplitHostPort(addr)
			metrics, ok := portNamed(c, "metrics")
			http, _ := portNamed(c, "http")
			switch {
			case addr == "":
				errs = append(errs, fmt.Errorf("%s: no CAPSTONE_METRICS_ADDR: /metrics would be served on the API port, which the Ingress routes", where))
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: CAPSTONE_METRICS_ADDR %q is not host:port", where, addr))
			case !ok:
				errs = append(errs, fmt.Errorf("%s: no container port named metrics", where))
			case port != strconv.Itoa(int(metrics)):
				errs = append(errs, fmt.Errorf("%s: metrics are served on port %s, but the container port named metrics is %d", where, port, metrics))
			case metrics == http:
				errs = append(errs, fmt.Errorf("%s: the metrics port is the HTTP port", where))
			case !slices.Contains([]string{"", "0.0.0.0", "::"}, host):
				errs = append(errs, fmt.Errorf("%s: metrics listen on %s only, which the collectors cannot reach", where, addr))
			}
			for _, svc := range m.Services {
				if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); !ok {
					continue
				}
				for _, p := range svc.Spec.Ports {
					if (p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == "metrics") || (p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == metrics) {
						errs = append(errs, fmt.Errorf("Service %s exposes the metrics port of %s: whatever routes to the Service (the Ingress) could reach /metrics", svc.Name, d.Name))
					}
				}
			}
		}
		if !env.target.gke || subcommand(&d.Spec.Template.Spec.Containers[0]) != "serve" {
			continue
		}
		var scraped int
		for _, pm := range m.PodMonitorings {
			ok, err := selects(&pm.Spec.Selector, d)
			if err != nil || !ok {
				continue
			}
			scraped++
			for _, e := range pm.Spec.Endpoints {
				path := e.Path
				if path == "" {
					path = metricsPath
				}
				if e.Port.String() != "metrics" || path != metricsPath {
					errs = append(errs, fmt.Errorf("PodMonitoring %s: scrapes %s on port %s, want %s on port metrics", pm.Name, path, e.Port.String(), metricsPath))
				}
			}
			if len(pm.Spec.Endpoints) == 0 {
				errs = append(errs, fmt.Errorf("PodMonitoring %s: no endpoint", pm.Name))
			}
		}
		if scraped != 1 {
			errs = append(errs, fmt.Errorf("Deployment %s: %d PodMonitorings scrape its pods, want 1", d.Name, scraped))
		}
	}
	for _, pm := range m.PodMonitorings {
		if !slices.ContainsFunc(m.Deployments, func(d appsv1.Deployment) bool { ok, _ := selects(&pm.Spec.Selector, &d); return ok }) {
			errs = append(errs, fmt.Errorf("PodMonitoring %s: selects no pods of the manifests", pm.Name))
		}
	}
	return errs
}
