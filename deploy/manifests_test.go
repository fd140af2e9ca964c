package deploy

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
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
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/capstone-pms/capstone/infra/config"
)

const (
	namespace  = "capstone"
	secretName = "capstone-secrets"
	repoRoot   = ".."
	configGo   = "../infra/config/config.go"
	gkeOverlay = "k8s/overlays/gke"
)

// healthPaths are the routes the binary serves for probes (api/server.go).
var healthPaths = []string{"/healthz", "/readyz"}

// arImage is an image in Artifact Registry by digest:
// LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:DIGEST. A tag can be
// moved to another image; a digest names one image for good.
var arImage = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*-docker\.pkg\.dev/[a-z][a-z0-9-]{4,28}[a-z0-9]/[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._/-]*@sha256:[a-f0-9]{64}$`)

// smReference is a Secret Manager version the binary reads at start-up;
// PROJECT_ID is the placeholder cloudbuild.yaml replaces.
var smReference = regexp.MustCompile(`^sm://projects/([a-z][a-z0-9-]{4,28}[a-z0-9]|PROJECT_ID)/secrets/[A-Za-z0-9_-]{1,255}/versions/(latest|[1-9][0-9]*)$`)

// A target is one rendering of the manifests.
type target struct {
	name string
	gke  bool
	dir  func(t testing.TB) string
}

var targets = []target{
	{name: "local", dir: func(testing.TB) string { return "k8s/overlays/local" }},
	{name: "gke", gke: true, dir: func(testing.TB) string { return gkeOverlay }},
}

// render runs kustomize in-process on dir, as `kubectl apply -k dir` would.
func render(dir string) ([]byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs splits a YAML stream into its documents.
func splitDocs(stream []byte) [][]byte {
	var docs [][]byte
	for _, part := range docSeparator.Split(string(stream), -1) {
		if strings.TrimSpace(part) != "" {
			docs = append(docs, []byte(part))
		}
	}
	return docs
}

var renderCache sync.Map // target name -> [][]byte

// renderedDocs renders a target once per test binary.
func renderedDocs(t testing.TB, tg target) [][]byte {
	t.Helper()
	if v, ok := renderCache.Load(tg.name); ok {
		return v.([][]byte)
	}
	out, err := render(tg.dir(t))
	if err != nil {
		t.Fatalf("kustomize build of %s: %v", tg.name, err)
	}
	docs := splitDocs(out)
	renderCache.Store(tg.name, docs)
	return docs
}

// manifest is every object of a rendering, decoded into its typed struct.
type manifest struct {
	Deployments         []appsv1.Deployment
	Services            []corev1.Service
	Ingresses           []networkingv1.Ingress
	HPAs                []autoscalingv2.HorizontalPodAutoscaler
	PDBs                []policyv1.PodDisruptionBudget
	ConfigMaps          []corev1.ConfigMap
	ServiceAccounts     []corev1.ServiceAccount
	Namespaces          []corev1.Namespace
	NetworkPolicies     []networkingv1.NetworkPolicy
	BackendConfigs      []backendConfig
	FrontendConfigs     []frontendConfig
	ManagedCertificates []managedCertificate
	PVCs                []corev1.PersistentVolumeClaim
	PodMonitorings      []podMonitoring
}

// backendConfig is GKE's cloud.google.com/v1 BackendConfig, with only the
// fields these manifests use: anything else fails the strict decoding.
type backendConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		HealthCheck *struct {
			Type               string `json:"type,omitempty"`
			RequestPath        string `json:"requestPath,omitempty"`
			Port               int32  `json:"port,omitempty"`
			CheckIntervalSec   int32  `json:"checkIntervalSec,omitempty"`
			TimeoutSec         int32  `json:"timeoutSec,omitempty"`
			HealthyThreshold   int32  `json:"healthyThreshold,omitempty"`
			UnhealthyThreshold int32  `json:"unhealthyThreshold,omitempty"`
		} `json:"healthCheck,omitempty"`
		ConnectionDraining *struct {
			DrainingTimeoutSec int32 `json:"drainingTimeoutSec,omitempty"`
		} `json:"connectionDraining,omitempty"`
		TimeoutSec     int32 `json:"timeoutSec,omitempty"`
		SecurityPolicy *struct {
			Name string `json:"name"`
		} `json:"securityPolicy,omitempty"`
	} `json:"spec"`
}

// podMonitoring is Managed Service for Prometheus's
// monitoring.googleapis.com/v1 PodMonitoring, with only the fields these
// manifests use.
type podMonitoring struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     intstr.IntOrString `json:"port"`
			Path     string             `json:"path,omitempty"`
			Interval string             `json:"interval,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// frontendConfig is GKE's networking.gke.io/v1beta1 FrontendConfig, with only
// the fields these manifests use.
type frontendConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		RedirectToHTTPS *struct {
			Enabled          bool   `json:"enabled"`
			ResponseCodeName string `json:"responseCodeName,omitempty"`
		} `json:"redirectToHttps,omitempty"`
	} `json:"spec"`
}

// managedCertificate is GKE's networking.gke.io/v1 ManagedCertificate.
type managedCertificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Domains []string `json:"domains"`
	} `json:"spec"`
}

// decode decodes every document strictly (an unknown or misspelt field is an
// error) into the typed struct of its apiVersion and kind; any other kind,
// and a Secret above all, is an error.
func decode(docs [][]byte) (*manifest, error) {
	m := &manifest{}
	var errs []error
	for i, doc := range docs {
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 Deployment":
			err = strictAppend(doc, &m.Deployments)
		case "v1 Service":
			err = strictAppend(doc, &m.Services)
		case "networking.k8s.io/v1 Ingress":
			err = strictAppend(doc, &m.Ingresses)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			err = strictAppend(doc, &m.HPAs)
		case "policy/v1 PodDisruptionBudget":
			err = strictAppend(doc, &m.PDBs)
		case "v1 ConfigMap":
			err = strictAppend(doc, &m.ConfigMaps)
		case "v1 ServiceAccount":
			err = strictAppend(doc, &m.ServiceAccounts)
		case "v1 Namespace":
			err = strictAppend(doc, &m.Namespaces)
		case "networking.k8s.io/v1 NetworkPolicy":
			err = strictAppend(doc, &m.NetworkPolicies)
		case "cloud.google.com/v1 BackendConfig":
			err = strictAppend(doc, &m.BackendConfigs)
		case "networking.gke.io/v1beta1 FrontendConfig":
			err = strictAppend(doc, &m.FrontendConfigs)
		case "networking.gke.io/v1 ManagedCertificate":
			err = strictAppend(doc, &m.ManagedCertificates)
		case "v1 PersistentVolumeClaim":
			err = strictAppend(doc, &m.PVCs)
		case "monitoring.googleapis.com/v1 PodMonitoring":
			err = strictAppend(doc, &m.PodMonitorings)
		case "v1 Secret":
			err = errors.New("a Secret is in the manifests: secrets come from Secret Manager (cloudbuild.yaml) or are created by hand, never from the repository")
		default:
			err = errors.New("unexpected apiVersion/kind: decode it into its typed struct here and check it, or remove it")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s %s %q): %w", i, head.APIVersion, head.Kind, head.Metadata.Name, err))
		}
	}
	return m, errors.Join(errs...)
}

func strictAppend[T any](doc []byte, list *[]T) error {
	var v T
	if err := strictUnmarshal(doc, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// strictUnmarshal decodes YAML as the API server does with strict field
// validation: field names are case-sensitive (encoding/json, and so
// yaml.UnmarshalStrict, would take readOnlyRootFileSystem for
// readOnlyRootFilesystem, which the server drops), and unknown or duplicate
// fields are errors.
func strictUnmarshal(doc []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(j, into)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// renderDecode renders and decodes a target afresh (callers may mutate it).
func renderDecode(t testing.TB, tg target) *manifest {
	t.Helper()
	m, err := decode(renderedDocs(t, tg))
	if err != nil {
		t.Fatalf("%s: %v", tg.name, err)
	}
	return m
}

// goRuntimeEnv are the variables the Go runtime itself reads that the
// manifests set.
var goRuntimeEnv = []string{"GOMEMLIMIT"}

// knownEnv is every environment variable the binary reads: the keys passed
// to env(...), envOr(env, ...) and envBool(env, ...) in infra/config (its
// files other than tests), and those of the Go runtime.
func knownEnv(t testing.TB) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(filepath.Dir(configGo), "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the settings' sources beside %s: %v", configGo, err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	names := envNamesIn(string(src))
	for _, must := range []string{"CAPSTONE_COMPONENTS", "CAPSTONE_ADDR", "MONGODB_URI", "MONGO_CREDS", "CAPSTONE_JWT_SECRET",
		"PUBSUB_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST"} {
		if !names[must] {
			t.Fatalf("%s was not found in %s: has the way config reads the environment changed? (found %v)", must, configGo, names)
		}
	}
	for _, name := range goRuntimeEnv {
		names[name] = true
	}
	return names
}

var envKeyPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\benv\(\s*"([A-Z][A-Z0-9_]*)"\s*\)`),
	regexp.MustCompile(`\benvOr\(\s*env\s*,\s*"([A-Z][A-Z0-9_]*)"`),
	regexp.MustCompile(`\benvBool\(\s*env\s*,\s*"([A-Z][A-Z0-9_]*)"`),
}

func envNamesIn(src string) map[string]bool {
	names := map[string]bool{}
	for _, re := range envKeyPatterns {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
	}
	return names
}

// checkEnv is what the checks know besides the objects.
type checkEnv struct {
	target        target
	known         map[string]bool // environment variables the binary reads
	shutdown      time.Duration   // shutdownTimeout of cmd/capstone
	subscriptions []string        // the Pub/Sub subscriptions the projectors consume
}

// newCheckEnv reads what the checks need from the source tree.
func newCheckEnv(t testing.TB, tg target) checkEnv {
	t.Helper()
	return checkEnv{target: tg, known: knownEnv(t), shutdown: readShutdownTimeout(t), subscriptions: projectionSubscriptions(t)}
}

type check struct {
	name string
	fn   func(*manifest, checkEnv) []error
}

var checks = []check{
	{"inventory", checkInventory},
	{"namespace", checkNamespace},
	{"resources", checkResources},
	{"security", checkSecurity},
	{"probes", checkProbes},
	{"env-names", checkEnvNames},
	{"secrets", checkSecrets},
	{"config", checkConfig},
	{"selectors", checkSelectors},
	{"scaling", checkScaling},
	{"ingress", checkIngress},
	{"service-accounts", checkServiceAccounts},
	{"images", checkImages},
	{"gke", checkGKE},
	{"tls", checkTLS},
	{"edge", checkEdge},
	{"network", checkNetwork},
	{"backlog", checkBacklog},
	{"metrics", checkMetrics},
	{"bus", checkBus},
	{"dev-store", checkDevStore},
	{"termination", checkTermination},
}

// runChecks returns each failed check's errors, by check name.
func runChecks(m *manifest, env checkEnv) map[string][]error {
	out := map[string][]error{}
	for _, c := range checks {
		if errs := c.fn(m, env); len(errs) > 0 {
			out[c.name] = errs
		}
	}
	return out
}

// TestManifests renders every overlay and runs every check on it.
func TestManifests(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			m := renderDecode(t, tg)
			env := newCheckEnv(t, tg)
			for _, c := range checks {
				for _, err := range c.fn(m, env) {
					t.Errorf("%s: %v", c.name, err)
				}
			}
		})
	}
}

// TestEnvNamesFromSource checks the parser of config.go on a known snippet.
func TestEnvNamesFromSource(t *testing.T) {
	got := envNamesIn(`a := env("MONGODB_URI"); b := envOr(env, "CAPSTONE_ADDR", ":8080"); c := os.Getenv("NOT_OURS"); d := envOr(env,"X_Y",""); e, err := envBool(env, "CAPSTONE_DEMO", false)`)
	want := map[string]bool{"MONGODB_URI": true, "CAPSTONE_ADDR": true, "X_Y": true, "CAPSTONE_DEMO": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("envNamesIn = %v, want %v", got, want)
	}
}

// --- helpers over objects -----------------------------------------------

type object struct {
	kind string
	meta *metav1.ObjectMeta
}

func (m *manifest) objects() []object {
	var out []object
	add := func(kind string, meta *metav1.ObjectMeta) { out = append(out, object{kind, meta}) }
	for i := range m.Deployments {
		add("Deployment", &m.Deployments[i].ObjectMeta)
	}
	for i := range m.Services {
		add("Service", &m.Services[i].ObjectMeta)
	}
	for i := range m.PVCs {
		add("PersistentVolumeClaim", &m.PVCs[i].ObjectMeta)
	}
	for i := range m.Ingresses {
		add("Ingress", &m.Ingresses[i].ObjectMeta)
	}
	for i := range m.HPAs {
		add("HorizontalPodAutoscaler", &m.HPAs[i].ObjectMeta)
	}
	for i := range m.PDBs {
		add("PodDisruptionBudget", &m.PDBs[i].ObjectMeta)
	}
	for i := range m.ConfigMaps {
		add("ConfigMap", &m.ConfigMaps[i].ObjectMeta)
	}
	for i := range m.ServiceAccounts {
		add("ServiceAccount", &m.ServiceAccounts[i].ObjectMeta)
	}
	for i := range m.Namespaces {
		add("Namespace", &m.Namespaces[i].ObjectMeta)
	}
	for i := range m.NetworkPolicies {
		add("NetworkPolicy", &m.NetworkPolicies[i].ObjectMeta)
	}
	for i := range m.BackendConfigs {
		add("BackendConfig", &m.BackendConfigs[i].ObjectMeta)
	}
	for i := range m.FrontendConfigs {
		add("FrontendConfig", &m.FrontendConfigs[i].ObjectMeta)
	}
	for i := range m.ManagedCertificates {
		add("ManagedCertificate", &m.ManagedCertificates[i].ObjectMeta)
	}
	for i := range m.PodMonitorings {
		add("PodMonitoring", &m.PodMonitorings[i].ObjectMeta)
	}
	return out
}

func (m *manifest) deployment(name string) *appsv1.Deployment {
	for i := range m.Deployments {
		if m.Deployments[i].Name == name {
			return &m.Deployments[i]
		}
	}
	return nil
}

func (m *manifest) configMap(name string) *corev1.ConfigMap {
	for i := range m.ConfigMaps {
		if m.ConfigMaps[i].Name == name {
			return &m.ConfigMaps[i]
		}
	}
	return nil
}

func (m *manifest) service(name string) *corev1.Service {
	for i := range m.Services {
		if m.Services[i].Name == name {
			return &m.Services[i]
		}
	}
	return nil
}

// containers are a Deployment's containers and init containers.
func containers(d *appsv1.Deployment) []*corev1.Container {
	var out []*corev1.Container
	for i := range d.Spec.Template.Spec.InitContainers {
		out = append(out, &d.Spec.Template.Spec.InitContainers[i])
	}
	for i := range d.Spec.Template.Spec.Containers {
		out = append(out, &d.Spec.Template.Spec.Containers[i])
	}
	return out
}

func portNamed(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// selects reports whether a label selector selects a Deployment's pods.
func selects(sel *metav1.LabelSelector, d *appsv1.Deployment) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	if s.Empty() {
		return false, errors.New("empty selector (it would select every pod)")
	}
	return s.Matches(labels.Set(d.Spec.Template.Labels)), nil
}

// components is what a container sets CAPSTONE_COMPONENTS to.
func components(c *corev1.Container) []string {
	for _, e := range c.Env {
		if e.Name == "CAPSTONE_COMPONENTS" {
			var out []string
			for _, p := range strings.Split(e.Value, ",") {
				out = append(out, strings.TrimSpace(p))
			}
			return out
		}
	}
	return nil
}

func runsComponent(d *appsv1.Deployment, component string) bool {
	for _, c := range containers(d) {
		if slices.Contains(components(c), component) {
			return true
		}
	}
	return false
}

// subcommand is the binary's subcommand a container runs (the image's CMD is
// serve).
func subcommand(c *corev1.Container) string {
	if len(c.Args) == 0 {
		return "serve"
	}
	return c.Args[0]
}

// emulatorCommand is the subcommand that serves the Pub/Sub fake.
const emulatorCommand = "pubsub-emulator"

// isEmulator reports whether a Deployment serves the Pub/Sub emulator.
func isEmulator(d *appsv1.Deployment) bool {
	return slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return subcommand(&c) == emulatorCommand })
}

// emulatorAddr is the address `capstone pubsub-emulator` listens on, from its
// --addr flag (default 127.0.0.1:8085, cmd/capstone/dev.go).
func emulatorAddr(c *corev1.Container) string {
	addr := "127.0.0.1:8085"
	args := c.Args[1:]
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if name != "addr" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		addr = value
	}
	return addr
}

// autoscaled reports whether a HorizontalPodAutoscaler owns a Deployment's
// replica count. Only the relay replica holding the lease works (another
// replica is a standby, not capacity) and the emulator keeps its state in
// memory, so neither scales out, nor does the dev store (one pod on its
// files): the manifests set their replicas.
func autoscaled(d *appsv1.Deployment) bool {
	if isLocalService(d) {
		return false
	}
	for _, c := range containers(d) {
		if slices.Equal(components(c), []string{"relay"}) {
			return false
		}
	}
	return true
}

// serveConfig is what `capstone serve` in container c would run with, the
// values from the Secret replaced by placeholders.
func serveConfig(m *manifest, c *corev1.Container) (config.Config, error) {
	vars, fromSecret, _ := containerEnv(m, c)
	for name := range fromSecret {
		vars[name] = placeholder(name)
	}
	args := c.Args
	if len(args) == 0 {
		args = []string{"serve"}
	}
	return config.ParseServe(args[1:], func(k string) string { return vars[k] }, io.Discard)
}

// --- checks ---------------------------------------------------------------

// checkInventory: the objects a rendering must have: the API, the projectors
// and the relay everywhere, each with its ServiceAccount (HPAs for the first
// two only), the Pub/Sub emulator and the dev store (with its volume) and
// their Services on a local cluster only, and on GKE the load balancer's
// configuration, the certificate, the NetworkPolicies and a PodMonitoring per
// component.
func checkInventory(m *manifest, env checkEnv) []error {
	var errs []error
	want := map[string][]string{
		"Deployment":              {"capstone-api", "capstone-projector", "capstone-relay"},
		"Service":                 {"capstone-api"},
		"Ingress":                 {"capstone-api"},
		"HorizontalPodAutoscaler": {"capstone-api", "capstone-projector"},
		"PodDisruptionBudget":     {"capstone-api", "capstone-projector", "capstone-relay"},
		"ServiceAccount":          {"capstone-api", "capstone-projector", "capstone-relay"},
		"Namespace":               {namespace},
	}
	if env.target.gke {
		want["BackendConfig"] = []string{"capstone-api"}
		want["FrontendConfig"] = []string{"capstone-api"}
		want["ManagedCertificate"] = []string{"capstone-api"}
		want["NetworkPolicy"] = []string{"capstone-api", "capstone-workers"}
		want["PodMonitoring"] = []string{"capstone-api", "capstone-projector", "capstone-relay"}
	} else {
		for _, kind := range []string{"Deployment", "Service", "ServiceAccount"} {
			want[kind] = slices.Sorted(slices.Values(append(want[kind], "capstone-pubsub-emulator", "capstone-dev-store")))
		}
		want["PersistentVolumeClaim"] = []string{"capstone-dev-store"}
	}
	got := map[string][]string{}
	for _, o := range m.objects() {
		got[o.kind] = append(got[o.kind], o.meta.Name)
	}
	for kind, names := range want {
		have := slices.Sorted(slices.Values(got[kind]))
		if !slices.Equal(have, names) {
			errs = append(errs, fmt.Errorf("%s objects %v, want %v", kind, have, names))
		}
	}
	if len(m.ConfigMaps) != 1 || !strings.HasPrefix(m.ConfigMaps[0].Name, "capstone-config") {
		errs = append(errs, fmt.Errorf("want one ConfigMap capstone-config(-hash), have %d", len(m.ConfigMaps)))
	}
	return errs
}

// podSecurity are the namespace labels of Pod Security Admission: the
// "restricted" standard, enforced (and audited and warned about).
var podSecurity = map[string]string{
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/audit":   "restricted",
	"pod-security.kubernetes.io/warn":    "restricted",
}

// checkNamespace: every namespaced object is in the capstone namespace, which
// enforces the "restricted" Pod Security Standard.
func checkNamespace(m *manifest, _ checkEnv) []error {
	var errs []error
	for _, o := range m.objects() {
		if o.kind == "Namespace" {
			for k, v := range podSecurity {
				if o.meta.Labels[k] != v {
					errs = append(errs, fmt.Errorf("Namespace %s: label %s is %q, want %q (the cluster then refuses pods that run as root, escalate or keep capabilities)", o.meta.Name, k, o.meta.Labels[k], v))
				}
			}
			continue
		}
		if o.meta.Namespace != namespace {
			errs = append(errs, fmt.Errorf("%s %s is in namespace %q, want %q", o.kind, o.meta.Name, o.meta.Namespace, namespace))
		}
	}
	return errs
}

// goMemLimit: GOMEMLIMIT is the container's own memory limit, in bytes,
// from the downward API, so that the Go collector works harder as the heap
// nears the limit instead of letting it grow past it into an OOM kill, and a
// change of the limit carries over without a second number to keep in step.
func goMemLimit(c *corev1.Container) error {
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		var ref *corev1.ResourceFieldSelector
		if e.ValueFrom != nil {
			ref = e.ValueFrom.ResourceFieldRef
		}
		switch {
		case ref == nil:
			return fmt.Errorf("GOMEMLIMIT %q is not read from the container's memory limit (resourceFieldRef limits.memory)", e.Value)
		case ref.Resource != "limits.memory":
			return fmt.Errorf("GOMEMLIMIT comes from %s, want limits.memory", ref.Resource)
		case ref.ContainerName != "" && ref.ContainerName != c.Name:
			return fmt.Errorf("GOMEMLIMIT comes from the memory limit of container %s", ref.ContainerName)
		case !ref.Divisor.IsZero() && ref.Divisor.Cmp(resource.MustParse("1")) != 0:
			return fmt.Errorf("GOMEMLIMIT is the memory limit divided by %s: the runtime reads a bare number as bytes", ref.Divisor.String())
		}
		return nil
	}
	return errors.New("no GOMEMLIMIT: the Go collector does not know the container's memory limit")
}

// checkResources: every container has CPU and memory requests and limits,
// requests not above limits, and GOMEMLIMIT from its memory limit.
func checkResources(m *manifest, _ checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range containers(d) {
			if err := goMemLimit(c); err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", d.Name, c.Name, err))
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[r]
				lim, hasLim := c.Resources.Limits[r]
				if !hasReq || req.IsZero() {
					errs = append(errs, fmt.Errorf("%s/%s: no %s request", d.Name, c.Name, r))
				}
				if !hasLim || lim.IsZero() {
					errs = append(errs, fmt.Errorf("%s/%s: no %s limit", d.Name, c.Name, r))
				}
				if hasReq && hasLim && req.Cmp(lim) > 0 {
					errs = append(errs, fmt.Errorf("%s/%s: %s request %s above its limit %s", d.Name, c.Name, r, req.String(), lim.String()))
				}
			}
		}
	}
	return errs
}

// checkSecurity: non-root, read-only root filesystem, no privilege
// escalation, every capability dropped, a seccomp profile, no host namespaces.
func checkSecurity(m *manifest, _ checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		pod := &d.Spec.Template.Spec
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			errs = append(errs, fmt.Errorf("%s: uses a host namespace", d.Name))
		}
		psc := pod.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range containers(d) {
			where := d.Name + "/" + c.Name
			sc := c.SecurityContext
			if sc == nil {
				errs = append(errs, fmt.Errorf("%s: no securityContext", where))
				continue
			}
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil {
				nonRoot = psc.RunAsNonRoot
			}
			if nonRoot == nil || !*nonRoot {
				errs = append(errs, fmt.Errorf("%s: runAsNonRoot is not true", where))
			}
			uid := sc.RunAsUser
			if uid == nil {
				uid = psc.RunAsUser
			}
			if uid == nil || *uid == 0 {
				errs = append(errs, fmt.Errorf("%s: runAsUser must be a non-zero uid (the image's nonroot is 65532)", where))
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				errs = append(errs, fmt.Errorf("%s: readOnlyRootFilesystem is not true", where))
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				errs = append(errs, fmt.Errorf("%s: allowPrivilegeEscalation is not false", where))
			}
			if sc.Privileged != nil && *sc.Privileged {
				errs = append(errs, fmt.Errorf("%s: privileged", where))
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				errs = append(errs, fmt.Errorf("%s: capabilities do not drop ALL", where))
			} else if len(sc.Capabilities.Add) > 0 {
				errs = append(errs, fmt.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add))
			}
			seccomp := sc.SeccompProfile
			if seccomp == nil {
				seccomp = psc.SeccompProfile
			}
			if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
				errs = append(errs, fmt.Errorf("%s: no RuntimeDefault (or Localhost) seccomp profile", where))
			}
		}
	}
	return errs
}

// checkProbes: startup, liveness and readiness probes are HTTP GETs of
// /healthz and /readyz on a named port the container declares; the Pub/Sub
// emulator and the dev store, which speak gRPC and the MongoDB protocol only,
// have TCP liveness and readiness probes on a named port.
func checkProbes(m *manifest, _ checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range d.Spec.Template.Spec.Containers {
			where := d.Name + "/" + c.Name
			if localServiceCommands[subcommand(&c)] {
				for _, p := range []struct {
					name  string
					probe *corev1.Probe
				}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
					switch {
					case p.probe == nil:
						errs = append(errs, fmt.Errorf("%s: no %s", where, p.name))
					case p.probe.TCPSocket == nil:
						errs = append(errs, fmt.Errorf("%s: %s is not a TCP probe (%s serves no HTTP and no gRPC health service)", where, p.name, subcommand(&c)))
					case p.probe.TCPSocket.Port.Type != intstr.String:
						errs = append(errs, fmt.Errorf("%s: %s port %s is a number; name a container port", where, p.name, p.probe.TCPSocket.Port.String()))
					default:
						if _, ok := portNamed(&c, p.probe.TCPSocket.Port.StrVal); !ok {
							errs = append(errs, fmt.Errorf("%s: %s port %q is not a port of the container", where, p.name, p.probe.TCPSocket.Port.StrVal))
						}
					}
				}
				continue
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string // required path, "" for any health path
			}{
				{"startupProbe", c.StartupProbe, ""},
				{"livenessProbe", c.LivenessProbe, "/healthz"},
				{"readinessProbe", c.ReadinessProbe, "/readyz"},
			} {
				if p.probe == nil {
					errs = append(errs, fmt.Errorf("%s: no %s", where, p.name))
					continue
				}
				get := p.probe.HTTPGet
				if get == nil {
					errs = append(errs, fmt.Errorf("%s: %s is not an HTTP GET", where, p.name))
					continue
				}
				if !slices.Contains(healthPaths, get.Path) {
					errs = append(errs, fmt.Errorf("%s: %s path %q is not one of the binary's health routes %v", where, p.name, get.Path, healthPaths))
				} else if p.path != "" && get.Path != p.path {
					errs = append(errs, fmt.Errorf("%s: %s path %q, want %q", where, p.name, get.Path, p.path))
				}
				if get.Port.Type != intstr.String {
					errs = append(errs, fmt.Errorf("%s: %s port %s is a number; name a container port", where, p.name, get.Port.String()))
				} else if _, ok := portNamed(&c, get.Port.StrVal); !ok {
					errs = append(errs, fmt.Errorf("%s: %s port %q is not a port of the container", where, p.name, get.Port.StrVal))
				}
			}
		}
	}
	return errs
}

// containerEnv lists the variables a container gets, envFrom first (ConfigMap
// keys with their prefix) then env, which wins, as in Kubernetes. Values that
// come from a Secret are returned in fromSecret.
func containerEnv(m *manifest, c *corev1.Container) (vars map[string]string, fromSecret map[string]bool, errs []error) {
	vars, fromSecret = map[string]string{}, map[string]bool{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.SecretRef != nil:
			errs = append(errs, fmt.Errorf("envFrom Secret %q hides which variables are set: use env with secretKeyRef", ef.SecretRef.Name))
		case ef.ConfigMapRef != nil:
			cm := m.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				errs = append(errs, fmt.Errorf("envFrom ConfigMap %q is not in the manifests", ef.ConfigMapRef.Name))
				continue
			}
			for k, v := range cm.Data {
				vars[ef.Prefix+k] = v
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range c.Env {
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("env %s is set twice", e.Name))
		}
		seen[e.Name] = true
		switch {
		case e.ValueFrom == nil:
			vars[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			vars[e.Name] = ""
			fromSecret[e.Name] = true
		default:
			vars[e.Name] = ""
		}
	}
	return vars, fromSecret, errs
}

// checkEnvNames: every variable the manifests set is one the binary reads.
func checkEnvNames(m *manifest, env checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range containers(d) {
			vars, _, verrs := containerEnv(m, c)
			for _, err := range verrs {
				errs = append(errs, fmt.Errorf("%s/%s: %w", d.Name, c.Name, err))
			}
			for _, name := range slices.Sorted(maps.Keys(vars)) {
				if !env.known[name] {
					errs = append(errs, fmt.Errorf("%s/%s: sets %s, which the binary does not read (%s)", d.Name, c.Name, name, configGo))
				}
			}
		}
	}
	return errs
}

// secretEnv are variables whose value is a secret: they must come from the
// Secret, never be written in the manifests.
var secretEnv = regexp.MustCompile(`^(MONGODB_URI|MONGO_CREDS)$|SECRET|PASSWORD|CREDS|PRIVATE_KEY`)

// secretLooking are literal values that look like credentials.
var secretLooking = []*regexp.Regexp{
	regexp.MustCompile(`(?i)mongodb(\+srv)?://[^/@\s]*:[^@\s]*@`), // a URI with a password
	regexp.MustCompile(`(?i)"password"\s*:`),                      // MONGO_CREDS-like JSON
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
	regexp.MustCompile(`^[A-Fa-f0-9]{32,}$`),           // a hex key such as `openssl rand -hex 32`
	regexp.MustCompile(`^[A-Za-z0-9+/_-]{40,}={0,2}$`), // a base64 key or token
}

func looksSecret(v string) bool {
	v = strings.TrimSpace(v)
	for _, re := range secretLooking {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// checkSecrets: no literal anywhere looks like a credential, and a process
// gets the token-signing secret only if it runs the API. On a local cluster
// secret variables come from secretKeyRef on capstone-secrets (created by
// hand). On GKE no Kubernetes Secret is used at all: they are Secret Manager
// references the binary resolves at start-up as the pod's own identity, in
// the project whose Pub/Sub the pods use (where deploy/README.md grants each
// identity its secrets).
func checkSecrets(m *manifest, env checkEnv) []error {
	var errs []error
	pubsubProject := ""
	for _, cm := range m.ConfigMaps {
		if strings.HasPrefix(cm.Name, "capstone-config") {
			pubsubProject = cm.Data["PUBSUB_PROJECT_ID"]
		}
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range containers(d) {
			where := d.Name + "/" + c.Name
			for _, e := range c.Env {
				ref := (*corev1.SecretKeySelector)(nil)
				if e.ValueFrom != nil {
					ref = e.ValueFrom.SecretKeyRef
				}
				if e.Name == "CAPSTONE_JWT_SECRET" && !slices.Contains(components(c), "api") {
					errs = append(errs, fmt.Errorf("%s: gets CAPSTONE_JWT_SECRET but does not run the API, the only component that signs or checks tokens", where))
				}
				if env.target.gke {
					if ref != nil {
						errs = append(errs, fmt.Errorf("%s: %s comes from Kubernetes Secret %q: on GKE secrets are read from Secret Manager (an sm:// reference), so that nothing copies them into the cluster", where, e.Name, ref.Name))
					}
					if secretEnv.MatchString(e.Name) {
						sm := smReference.FindStringSubmatch(e.Value)
						switch {
						case sm == nil:
							errs = append(errs, fmt.Errorf("%s: %s must be a Secret Manager reference sm://projects/PROJECT/secrets/NAME/versions/VERSION", where, e.Name))
						case sm[1] != pubsubProject:
							errs = append(errs, fmt.Errorf("%s: %s is read from project %q, but the pods' project (PUBSUB_PROJECT_ID) is %q", where, e.Name, sm[1], pubsubProject))
						}
					}
					continue
				}
				if secretEnv.MatchString(e.Name) && ref == nil {
					errs = append(errs, fmt.Errorf("%s: %s must come from a secretKeyRef on %s", where, e.Name, secretName))
				}
				if ref != nil && ref.Name != secretName {
					errs = append(errs, fmt.Errorf("%s: %s comes from Secret %q; deploy/README.md creates only %q", where, e.Name, ref.Name, secretName))
				}
				if ref != nil && ref.Optional != nil && *ref.Optional {
					errs = append(errs, fmt.Errorf("%s: %s is optional: a missing secret must stop the pod, not start it on defaults", where, e.Name))
				}
				if looksSecret(e.Value) {
					errs = append(errs, fmt.Errorf("%s: the literal value of %s looks like a credential", where, e.Name))
				}
			}
		}
	}
	for _, cm := range m.ConfigMaps {
		for k, v := range cm.Data {
			if secretEnv.MatchString(k) {
				errs = append(errs, fmt.Errorf("ConfigMap %s holds %s, a secret: use %s", cm.Name, k, secretName))
			}
			if looksSecret(v) {
				errs = append(errs, fmt.Errorf("ConfigMap %s: the value of %s looks like a credential", cm.Name, k))
			}
		}
	}
	for _, o := range m.objects() {
		for k, v := range o.meta.Annotations {
			if looksSecret(v) {
				errs = append(errs, fmt.Errorf("%s %s: annotation %s looks like a credential", o.kind, o.meta.Name, k))
			}
		}
	}
	return errs
}

// placeholder gives a value for a variable that comes from the Secret, so
// that the settings can be parsed.
func placeholder(name string) string {
	switch name {
	case "MONGODB_URI":
		return "mongodb://placeholder.invalid:27017/"
	case "MONGO_CREDS":
		return `{"username":"u","password":"p","cluster_id":"placeholder"}`
	case "CAPSTONE_BOOTSTRAP_EMAIL":
		return "coordinator@placeholder.invalid"
	}
	return strings.Repeat("s", 32)
}

// checkConfig parses each container's settings with the binary's own parser
// (config.ParseServe), and checks the components it would run and the port
// it would listen on against the Deployment. The Pub/Sub emulator (checked
// by checkBus) and the dev store (checkDevStore) may run on a local cluster
// only.
func checkConfig(m *manifest, env checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range d.Spec.Template.Spec.Containers {
			where := d.Name + "/" + c.Name
			if len(c.Command) > 0 {
				errs = append(errs, fmt.Errorf("%s: command %v overrides the image's ENTRYPOINT /capstone", where, c.Command))
			}
			args := c.Args
			if len(args) == 0 {
				args = []string{"serve"} // the image's CMD
			}
			if args[0] == emulatorCommand {
				if env.target.gke {
					errs = append(errs, fmt.Errorf("%s: the Pub/Sub emulator in the %s overlay: it keeps every message in memory, for local clusters only", where, env.target.name))
				}
				continue
			}
			if args[0] == devStoreCommand {
				if env.target.gke {
					errs = append(errs, fmt.Errorf("%s: the dev store in the %s overlay: it has no authentication and no replication, for local clusters only", where, env.target.name))
				}
				continue
			}
			if args[0] != "serve" {
				errs = append(errs, fmt.Errorf("%s: args %v: want the serve subcommand", where, args))
				continue
			}
			vars, fromSecret, _ := containerEnv(m, &c)
			for name := range fromSecret {
				vars[name] = placeholder(name)
			}
			raw, ok := vars["CAPSTONE_COMPONENTS"]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: CAPSTONE_COMPONENTS is not set (unset runs every component)", where))
			}
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); !slices.Contains(config.Components, p) {
					errs = append(errs, fmt.Errorf("%s: CAPSTONE_COMPONENTS %q: %q is not one of config.Components %v", where, raw, p, config.Components))
				}
			}
			if vars["MONGODB_URI"] == "" && vars["MONGO_CREDS"] == "" {
				errs = append(errs, fmt.Errorf("%s: no MONGODB_URI: the binary would start the embedded store, which needs a writable data dir and is not shared between replicas", where))
			}
			cfg, err := config.ParseServe(args[1:], func(k string) string { return vars[k] }, io.Discard)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: the binary would refuse these settings: %w", where, err))
				continue
			}
			if role := d.Spec.Template.Labels["app.kubernetes.io/component"]; !slices.Equal(cfg.Components, []string{role}) {
				errs = append(errs, fmt.Errorf("%s: pods labelled component %q run components %v", where, role, cfg.Components))
			}
			_, port, err := net.SplitHostPort(cfg.Addr)
			want, ok := portNamed(&c, "http")
			if err != nil || !ok || port != strconv.Itoa(int(want)) {
				errs = append(errs, fmt.Errorf("%s: the binary listens on %q but the container port named http is %d", where, cfg.Addr, want))
			}
		}
	}
	return errs
}

// checkSelectors: each Deployment selects its own pods and only those; each
// Service selects the API pods, the emulator's or the dev store's, and a
// port they declare;
// each PDB and topology spread constraint selects the pods of exactly one
// Deployment.
func checkSelectors(m *manifest, _ checkEnv) []error {
	var errs []error
	matching := func(sel *metav1.LabelSelector) ([]*appsv1.Deployment, error) {
		var out []*appsv1.Deployment
		for i := range m.Deployments {
			ok, err := selects(sel, &m.Deployments[i])
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, &m.Deployments[i])
			}
		}
		return out, nil
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		matched, err := matching(d.Spec.Selector)
		if err != nil {
			errs = append(errs, fmt.Errorf("Deployment %s: selector: %w", d.Name, err))
			continue
		}
		if len(matched) != 1 || matched[0] != d {
			errs = append(errs, fmt.Errorf("Deployment %s: its selector matches the pods of %d Deployments, want its own only", d.Name, len(matched)))
		}
		for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
			if ok, err := selects(tsc.LabelSelector, d); err != nil || !ok {
				errs = append(errs, fmt.Errorf("Deployment %s: topology spread on %s does not select its pods (%v)", d.Name, tsc.TopologyKey, err))
			}
		}
	}
	for _, svc := range m.Services {
		if len(svc.Spec.Selector) == 0 {
			errs = append(errs, fmt.Errorf("Service %s: no selector", svc.Name))
			continue
		}
		matched, _ := matching(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
		if len(matched) == 0 {
			errs = append(errs, fmt.Errorf("Service %s: selects no pods", svc.Name))
		}
		for _, d := range matched {
			if !runsComponent(d, "api") && !isLocalService(d) {
				errs = append(errs, fmt.Errorf("Service %s: selects the pods of %s, which serve neither the API, nor the Pub/Sub emulator, nor the dev store", svc.Name, d.Name))
			}
			for _, p := range svc.Spec.Ports {
				for _, c := range d.Spec.Template.Spec.Containers {
					if p.TargetPort.Type == intstr.String {
						if _, ok := portNamed(&c, p.TargetPort.StrVal); !ok {
							errs = append(errs, fmt.Errorf("Service %s: targetPort %q is not a port of %s/%s", svc.Name, p.TargetPort.StrVal, d.Name, c.Name))
						}
					} else if !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == p.TargetPort.IntVal }) {
						errs = append(errs, fmt.Errorf("Service %s: targetPort %d is not a port of %s/%s", svc.Name, p.TargetPort.IntVal, d.Name, c.Name))
					}
				}
			}
		}
	}
	for _, pdb := range m.PDBs {
		matched, err := matching(pdb.Spec.Selector)
		if err != nil || len(matched) != 1 {
			errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: selects the pods of %d Deployments, want 1 (%v)", pdb.Name, len(matched), err))
		}
	}
	return errs
}

// checkScaling: each Deployment that scales out has one HPA that targets it,
// on CPU the containers request, and replicas, if set, within its bounds; the
// relay, the emulator and the dev store have no HPA and set their replicas
// (the latter two exactly one, replaced with Recreate; on GKE the relay a
// standby too); no PDB
// blocks every eviction at the Deployment's minimum.
func checkScaling(m *manifest, env checkEnv) []error {
	var errs []error
	hpaOf := map[string][]*autoscalingv2.HorizontalPodAutoscaler{}
	minOf := map[string]int32{}
	for i := range m.HPAs {
		h := &m.HPAs[i]
		ref := h.Spec.ScaleTargetRef
		d := m.deployment(ref.Name)
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || d == nil {
			errs = append(errs, fmt.Errorf("HPA %s: targets %s %s %q, which is not a Deployment of the manifests", h.Name, ref.APIVersion, ref.Kind, ref.Name))
			continue
		}
		hpaOf[d.Name] = append(hpaOf[d.Name], h)
		lo := int32(1)
		if h.Spec.MinReplicas != nil {
			lo = *h.Spec.MinReplicas
		}
		minOf[d.Name] = lo
		if lo < 1 || h.Spec.MaxReplicas < lo {
			errs = append(errs, fmt.Errorf("HPA %s: bounds %d..%d", h.Name, lo, h.Spec.MaxReplicas))
		}
		if d.Spec.Replicas != nil && (*d.Spec.Replicas < lo || *d.Spec.Replicas > h.Spec.MaxReplicas) {
			errs = append(errs, fmt.Errorf("Deployment %s: replicas %d outside its HPA's %d..%d", d.Name, *d.Spec.Replicas, lo, h.Spec.MaxReplicas))
		}
		if len(h.Spec.Metrics) == 0 {
			errs = append(errs, fmt.Errorf("HPA %s: no metrics", h.Name))
		}
		for _, mt := range h.Spec.Metrics {
			if mt.Type != autoscalingv2.ResourceMetricSourceType || mt.Resource == nil {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				if _, ok := c.Resources.Requests[mt.Resource.Name]; !ok && mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
					errs = append(errs, fmt.Errorf("HPA %s: scales on %s utilization but %s/%s requests no %s", h.Name, mt.Resource.Name, d.Name, c.Name, mt.Resource.Name))
				}
			}
		}
	}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		n := len(hpaOf[d.Name])
		switch {
		case autoscaled(d) && n != 1:
			errs = append(errs, fmt.Errorf("Deployment %s: %d HPAs target it, want 1", d.Name, n))
		case !autoscaled(d) && n > 0:
			errs = append(errs, fmt.Errorf("Deployment %s: an HPA targets it, but it does not scale out (only the relay holding the lease works; the emulator's state is in memory)", d.Name))
		case !autoscaled(d) && d.Spec.Replicas == nil:
			errs = append(errs, fmt.Errorf("Deployment %s: no HPA and no replicas: set them in the manifests", d.Name))
		case !autoscaled(d):
			minOf[d.Name] = *d.Spec.Replicas
		}
		if isLocalService(d) {
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				errs = append(errs, fmt.Errorf("Deployment %s: one pod holds its state (the emulator's in memory, the dev store's in its files): want exactly 1 replica", d.Name))
			}
			if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
				errs = append(errs, fmt.Errorf("Deployment %s: strategy %q: want Recreate, or two pods with different state (or on the same files) serve behind the Service during a rollout", d.Name, d.Spec.Strategy.Type))
			}
		} else if !autoscaled(d) && env.target.gke && d.Spec.Replicas != nil && *d.Spec.Replicas < 2 {
			errs = append(errs, fmt.Errorf("Deployment %s: %d replica: want 2, a standby that takes the relay lease over", d.Name, *d.Spec.Replicas))
		}
		lo, ok := minOf[d.Name]
		if !ok {
			continue
		}
		for _, pdb := range m.PDBs {
			if ok, _ := selects(pdb.Spec.Selector, d); !ok {
				continue
			}
			if v := pdb.Spec.MinAvailable; v != nil && ((v.Type == intstr.Int && v.IntVal >= lo) || v.String() == "100%") {
				errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replica(s) would block every node drain", pdb.Name, v.String(), lo))
			}
			if v := pdb.Spec.MaxUnavailable; v != nil && (v.String() == "0" || v.String() == "0%") {
				errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: maxUnavailable 0 blocks every node drain", pdb.Name))
			}
			if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
				errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: neither minAvailable nor maxUnavailable", pdb.Name))
			}
		}
	}
	for _, pdb := range m.PDBs {
		if pdb.Spec.MinAvailable != nil {
			errs = append(errs, fmt.Errorf("PodDisruptionBudget %s: minAvailable %s holds a fixed number whatever the autoscaler scaled to (with 10 pods, minAvailable 1 lets a drain take 9 at once): use maxUnavailable", pdb.Name, pdb.Spec.MinAvailable.String()))
		}
	}
	return errs
}

// checkIngress: every backend is a Service of the manifests and a port it has.
func checkIngress(m *manifest, env checkEnv) []error {
	var errs []error
	for _, ing := range m.Ingresses {
		var backends []networkingv1.IngressBackend
		if ing.Spec.DefaultBackend != nil {
			backends = append(backends, *ing.Spec.DefaultBackend)
		}
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				backends = append(backends, p.Backend)
			}
		}
		if len(backends) == 0 {
			errs = append(errs, fmt.Errorf("Ingress %s: no backend", ing.Name))
		}
		for _, b := range backends {
			if b.Service == nil {
				errs = append(errs, fmt.Errorf("Ingress %s: a backend is not a Service", ing.Name))
				continue
			}
			svc := m.service(b.Service.Name)
			if svc == nil {
				errs = append(errs, fmt.Errorf("Ingress %s: backend Service %q is not in the manifests", ing.Name, b.Service.Name))
				continue
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool {
				return (b.Service.Port.Name != "" && p.Name == b.Service.Port.Name) || (b.Service.Port.Number != 0 && p.Port == b.Service.Port.Number)
			}) {
				errs = append(errs, fmt.Errorf("Ingress %s: Service %s has no port %+v", ing.Name, svc.Name, b.Service.Port))
			}
		}
		if !env.target.gke && len(ing.Spec.TLS) > 0 {
			errs = append(errs, fmt.Errorf("Ingress %s: TLS in the %s overlay", ing.Name, env.target.name))
		}
	}
	return errs
}

// checkServiceAccounts: each Deployment runs as a ServiceAccount of its own,
// of the manifests, that gets no Kubernetes API token (none of the pods talks
// to the Kubernetes API). On GKE each ServiceAccount is a Workload Identity
// Federation principal granted its roles directly (deploy/README.md): one
// annotated to act as a Google service account would run with that
// account's rights instead.
func checkServiceAccounts(m *manifest, env checkEnv) []error {
	var errs []error
	owner := map[string]string{} // ServiceAccount -> the Deployment that runs as it
	for _, d := range m.Deployments {
		name := d.Spec.Template.Spec.ServiceAccountName
		if name == "" || name == "default" {
			errs = append(errs, fmt.Errorf("Deployment %s: runs as the namespace's default ServiceAccount", d.Name))
			continue
		}
		if other, ok := owner[name]; ok {
			errs = append(errs, fmt.Errorf("Deployments %s and %s both run as ServiceAccount %s: each component needs an identity of its own to be granted only what it uses", other, d.Name, name))
		}
		owner[name] = d.Name
		if !slices.ContainsFunc(m.ServiceAccounts, func(sa corev1.ServiceAccount) bool { return sa.Name == name }) {
			errs = append(errs, fmt.Errorf("Deployment %s: ServiceAccount %q is not in the manifests", d.Name, name))
		}
		if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
			errs = append(errs, fmt.Errorf("Deployment %s: mounts a Kubernetes API token it does not use", d.Name))
		}
	}
	for _, sa := range m.ServiceAccounts {
		if _, ok := owner[sa.Name]; !ok {
			errs = append(errs, fmt.Errorf("ServiceAccount %s: no Deployment runs as it", sa.Name))
		}
		if a := sa.AutomountServiceAccountToken; a == nil || *a {
			errs = append(errs, fmt.Errorf("ServiceAccount %s: automountServiceAccountToken is not false", sa.Name))
		}
		if gsa, ok := sa.Annotations["iam.gke.io/gcp-service-account"]; ok && env.target.gke {
			errs = append(errs, fmt.Errorf("ServiceAccount %s: acts as Google service account %s; grant its own principal the roles it needs instead", sa.Name, gsa))
		}
	}
	return errs
}

// checkImages: Artifact Registry images by digest on GKE, the locally built
// one locally.
func checkImages(m *manifest, env checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range containers(d) {
			switch {
			case env.target.gke && !arImage.MatchString(c.Image):
				errs = append(errs, fmt.Errorf("%s/%s: image %q is not LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE@sha256:DIGEST (deploy by digest: a tag can be moved)", d.Name, c.Name, c.Image))
			case !env.target.gke && c.Image != "capstone:dev":
				errs = append(errs, fmt.Errorf("%s/%s: image %q, want capstone:dev", d.Name, c.Name, c.Image))
			}
		}
	}
	return errs
}

// projectID is a Google Cloud project id.
var projectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// projectPlaceholder is what cloudbuild.yaml replaces with the project id.
const projectPlaceholder = "PROJECT_ID"

// checkBus: the API, the projectors and the relay run in separate processes,
// and the in-process bus reaches only its own process, so every process that
// does not run every component uses Google Cloud Pub/Sub, all of them the
// same project and emulator, and every component runs somewhere. On GKE
// there is no emulator and the processes only check that the topic and
// subscriptions exist (they are set up beforehand); on a local cluster
// PUBSUB_EMULATOR_HOST names the emulator's Service and a port that reaches
// the emulator, listening on every interface.
func checkBus(m *manifest, env checkEnv) []error {
	var errs []error
	type process struct {
		where string
		d     *appsv1.Deployment
		cfg   config.Config
	}
	var procs []process
	running := map[string]bool{}
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for j := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[j]
			if subcommand(c) != "serve" {
				continue
			}
			cfg, err := serveConfig(m, c)
			if err != nil {
				continue // checkConfig reports it
			}
			procs = append(procs, process{d.Name + "/" + c.Name, d, cfg})
			for _, comp := range cfg.Components {
				running[comp] = true
			}
		}
	}
	for _, comp := range config.Components {
		if !running[comp] {
			errs = append(errs, fmt.Errorf("no Deployment runs the %s component", comp))
		}
	}
	if len(procs) == 0 {
		return errs
	}
	for _, p := range procs {
		if p.cfg.PubSubProject == "" && !slices.Equal(p.cfg.Components, config.Components) {
			errs = append(errs, fmt.Errorf("%s: runs %v only, on the in-process bus: commits would never reach the components of the other Deployments (set PUBSUB_PROJECT_ID)", p.where, p.cfg.Components))
		}
		if p.cfg.PubSubProject != procs[0].cfg.PubSubProject || p.cfg.PubSubEmulator != procs[0].cfg.PubSubEmulator {
			errs = append(errs, fmt.Errorf("%s: Pub/Sub project %q at %q, but %s uses %q at %q", p.where, p.cfg.PubSubProject, p.cfg.PubSubEmulator,
				procs[0].where, procs[0].cfg.PubSubProject, procs[0].cfg.PubSubEmulator))
		}
	}
	project, emulator := procs[0].cfg.PubSubProject, procs[0].cfg.PubSubEmulator
	if project == "" {
		return errs
	}
	if !projectID.MatchString(project) && !(env.target.gke && project == projectPlaceholder) {
		errs = append(errs, fmt.Errorf("Pub/Sub project %q is not a Google Cloud project id", project))
	}

	if env.target.gke {
		if emulator != "" {
			errs = append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q on GKE: the pods would not use Google Cloud Pub/Sub", emulator))
		}
		for _, p := range procs {
			if p.cfg.PubSubCreate {
				errs = append(errs, fmt.Errorf("%s: CAPSTONE_PUBSUB_CREATE is not false on GKE: the process would need the right to create and change topics and subscriptions, which no component's identity is granted (deploy/README.md runs capstone pubsub-setup once instead)", p.where))
			}
		}
		return errs
	}

	// A local cluster has no Google credentials: it needs the emulator.
	if emulator == "" {
		errs = append(errs, fmt.Errorf("Pub/Sub project %q without PUBSUB_EMULATOR_HOST in the %s overlay: the pods would need Google credentials", project, env.target.name))
		return errs
	}
	host, port, err := net.SplitHostPort(emulator)
	if err != nil {
		return append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q is not host:port: %w", emulator, err))
	}
	name := host
	for _, suffix := range []string{"." + namespace + ".svc.cluster.local", "." + namespace + ".svc", "." + namespace} {
		name = strings.TrimSuffix(name, suffix)
	}
	svc := m.service(name)
	if svc == nil {
		return append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q: no Service %q in the manifests", emulator, name))
	}
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port })
	if i < 0 {
		return append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q: Service %s has no port %s", emulator, svc.Name, port))
	}
	target := svc.Spec.Ports[i].TargetPort
	var emulators int
	for j := range m.Deployments {
		d := &m.Deployments[j]
		if ok, _ := selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d); !ok {
			continue
		}
		if !isEmulator(d) {
			errs = append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q: Service %s selects the pods of %s, which do not serve the Pub/Sub emulator", emulator, svc.Name, d.Name))
			continue
		}
		emulators++
		for _, c := range d.Spec.Template.Spec.Containers {
			if subcommand(&c) != emulatorCommand {
				continue
			}
			addr := emulatorAddr(&c)
			lhost, lport, err := net.SplitHostPort(addr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: --addr %q is not host:port", d.Name, c.Name, addr))
				continue
			}
			if !slices.Contains([]string{"", "0.0.0.0", "::"}, lhost) {
				errs = append(errs, fmt.Errorf("%s/%s: the emulator listens on %s only, which the Service cannot reach: listen on 0.0.0.0", d.Name, c.Name, addr))
			}
			cport := target.IntVal
			if target.Type == intstr.String {
				cport, _ = portNamed(&c, target.StrVal)
			}
			if strconv.Itoa(int(cport)) != lport {
				errs = append(errs, fmt.Errorf("Service %s: port %s goes to container port %s (%d) of %s, but the emulator listens on %s", svc.Name, port, target.String(), cport, d.Name, addr))
			}
		}
	}
	if emulators == 0 {
		errs = append(errs, fmt.Errorf("PUBSUB_EMULATOR_HOST %q: Service %s selects no Pub/Sub emulator", emulator, svc.Name))
	}
	return errs
}
