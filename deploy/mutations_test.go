package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The tests below break the rendered objects, cloudbuild.yaml and the
// Dockerfile one way at a time and require the check meant for it to fail,
// so that no check passes vacuously.

func container(m *manifest, deployment string) *corev1.Container {
	return &m.deployment(deployment).Spec.Template.Spec.Containers[0]
}

// projectorHPA is the projectors' autoscaler.
func projectorHPA(m *manifest) *autoscalingv2.HorizontalPodAutoscaler {
	return &m.HPAs[slices.IndexFunc(m.HPAs, func(h autoscalingv2.HorizontalPodAutoscaler) bool { return h.Name == "capstone-projector" })]
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	panic("no env " + name)
}

func TestChecksCatchMutations(t *testing.T) {
	local, gke := targets[0], targets[1]
	// Manifests that fail unmutated fail every case below for one cause:
	// say it once (TestManifests says it too).
	for _, tg := range targets {
		if failed := runChecks(renderDecode(t, tg), newCheckEnv(t, tg)); len(failed) > 0 {
			t.Fatalf("the %s manifests fail before any mutation, so no mutation can be told apart: %v", tg.name, failed)
		}
	}
	for _, mu := range []struct {
		name   string
		target target
		check  string
		mutate func(m *manifest)
	}{
		{"no memory limit", gke, "resources", func(m *manifest) {
			delete(container(m, "capstone-api").Resources.Limits, corev1.ResourceMemory)
		}},
		{"request above limit", local, "resources", func(m *manifest) {
			container(m, "capstone-projector").Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		}},
		{"writable root filesystem", gke, "security", func(m *manifest) {
			container(m, "capstone-api").SecurityContext.ReadOnlyRootFilesystem = ptr.To(false)
		}},
		{"privilege escalation", local, "security", func(m *manifest) {
			container(m, "capstone-projector").SecurityContext.AllowPrivilegeEscalation = nil
		}},
		{"capabilities kept", gke, "security", func(m *manifest) {
			container(m, "capstone-api").SecurityContext.Capabilities.Drop = nil
		}},
		{"may run as root", gke, "security", func(m *manifest) {
			container(m, "capstone-api").SecurityContext.RunAsNonRoot = nil
			m.deployment("capstone-api").Spec.Template.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
		}},
		{"readiness on a route the binary lacks", gke, "probes", func(m *manifest) {
			container(m, "capstone-api").ReadinessProbe.HTTPGet.Path = "/ready"
		}},
		{"liveness on an undeclared port", local, "probes", func(m *manifest) {
			container(m, "capstone-projector").LivenessProbe.HTTPGet.Port = intstr.FromString("debug")
		}},
		{"probe on a port number", gke, "probes", func(m *manifest) {
			container(m, "capstone-api").StartupProbe.HTTPGet.Port = intstr.FromInt32(8080)
		}},
		{"no startup probe", gke, "probes", func(m *manifest) {
			container(m, "capstone-projector").StartupProbe = nil
		}},
		{"env the binary does not read", gke, "env-names", func(m *manifest) {
			c := container(m, "capstone-api")
			c.Env = append(c.Env, corev1.EnvVar{Name: "CAPSTONE_PORT", Value: "8080"})
		}},
		{"misspelt ConfigMap key", local, "env-names", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_LOGLEVEL"] = "debug"
		}},
		{"envFrom a Secret", gke, "env-names", func(m *manifest) {
			c := container(m, "capstone-api")
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}}})
		}},
		{"MongoDB URI written in the manifest", gke, "secrets", func(m *manifest) {
			*envVar(container(m, "capstone-api"), "MONGODB_URI") = corev1.EnvVar{Name: "MONGODB_URI", Value: "mongodb://db:27017/"}
		}},
		{"JWT secret from another Secret", local, "secrets", func(m *manifest) {
			envVar(container(m, "capstone-api"), "CAPSTONE_JWT_SECRET").ValueFrom.SecretKeyRef.Name = "jwt"
		}},
		{"Kubernetes Secret on GKE", gke, "secrets", func(m *manifest) {
			*envVar(container(m, "capstone-api"), "CAPSTONE_JWT_SECRET") = corev1.EnvVar{Name: "CAPSTONE_JWT_SECRET",
				ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: "CAPSTONE_JWT_SECRET"}}}
		}},
		{"secret reference without a version", gke, "secrets", func(m *manifest) {
			envVar(container(m, "capstone-relay"), "MONGODB_URI").Value = "sm://projects/PROJECT_ID/secrets/capstone-mongodb-uri"
		}},
		{"secret read from another project", gke, "secrets", func(m *manifest) {
			envVar(container(m, "capstone-projector"), "MONGODB_URI").Value = "sm://projects/other-project/secrets/capstone-mongodb-uri/versions/latest"
		}},
		{"projector given the token-signing secret", gke, "secrets", func(m *manifest) {
			c := container(m, "capstone-projector")
			c.Env = append(c.Env, corev1.EnvVar{Name: "CAPSTONE_JWT_SECRET", Value: "sm://projects/PROJECT_ID/secrets/capstone-jwt-secret/versions/latest"})
		}},
		{"credential-looking ConfigMap value", local, "secrets", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_DATABASE"] = "mongodb+srv://user:hunter2@cluster0.example.mongodb.net/"
		}},
		{"hex key in an annotation", gke, "secrets", func(m *manifest) {
			m.Services[0].Annotations["note"] = strings.Repeat("ab12", 16)
		}},
		{"unknown component", gke, "config", func(m *manifest) {
			envVar(container(m, "capstone-projector"), "CAPSTONE_COMPONENTS").Value = "relays"
		}},
		{"relay pods run the projectors", local, "config", func(m *manifest) {
			envVar(container(m, "capstone-relay"), "CAPSTONE_COMPONENTS").Value = "relay,projector"
		}},
		{"projector pods run the API", local, "config", func(m *manifest) {
			envVar(container(m, "capstone-projector"), "CAPSTONE_COMPONENTS").Value = "api"
		}},
		{"binary listens on another port", gke, "config", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_ADDR"] = ":9090"
		}},
		{"settings the binary refuses", local, "config", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_TOKEN_TTL"] = "forever"
		}},
		{"no MongoDB", gke, "config", func(m *manifest) {
			c := container(m, "capstone-projector")
			c.Env = c.Env[:1]
		}},
		{"Service selects nothing", gke, "selectors", func(m *manifest) {
			m.service("capstone-api").Spec.Selector["app.kubernetes.io/component"] = "apii"
		}},
		{"Service selects the projectors", local, "selectors", func(m *manifest) {
			delete(m.service("capstone-api").Spec.Selector, "app.kubernetes.io/component")
		}},
		{"Service target port undeclared", gke, "selectors", func(m *manifest) {
			m.service("capstone-api").Spec.Ports[0].TargetPort = intstr.FromString("web")
		}},
		{"emulator Service selects the relay", local, "selectors", func(m *manifest) {
			m.service("capstone-pubsub-emulator").Spec.Selector["app.kubernetes.io/component"] = "relay"
		}},
		{"PDB selects nothing", gke, "selectors", func(m *manifest) {
			m.PDBs[0].Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "other"
		}},
		{"topology spread on other pods", local, "selectors", func(m *manifest) {
			m.deployment("capstone-api").Spec.Template.Spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels["app.kubernetes.io/component"] = "projector"
		}},
		{"HPA targets a missing Deployment", gke, "scaling", func(m *manifest) {
			m.HPAs[0].Spec.ScaleTargetRef.Name = "capstone"
		}},
		{"PDB blocks every drain", local, "scaling", func(m *manifest) {
			for i := range m.PDBs {
				m.PDBs[i].Spec.MaxUnavailable, m.PDBs[i].Spec.MinAvailable = nil, ptr.To(intstr.FromInt32(1))
			}
		}},
		{"replicas outside the HPA bounds", local, "scaling", func(m *manifest) {
			m.deployment("capstone-api").Spec.Replicas = ptr.To(int32(20))
		}},
		{"HPA on the relay", gke, "scaling", func(m *manifest) {
			h := m.HPAs[0]
			h.Name, h.Spec.ScaleTargetRef.Name = "capstone-relay", "capstone-relay"
			m.HPAs = append(m.HPAs, h)
		}},
		{"relay replicas left to the default", gke, "scaling", func(m *manifest) {
			m.deployment("capstone-relay").Spec.Replicas = nil
		}},
		{"no standby relay on GKE", gke, "scaling", func(m *manifest) {
			m.deployment("capstone-relay").Spec.Replicas = ptr.To(int32(1))
		}},
		{"relay PDB blocks every drain", local, "scaling", func(m *manifest) {
			for i := range m.PDBs {
				if m.PDBs[i].Name == "capstone-relay" {
					m.PDBs[i].Spec.MaxUnavailable, m.PDBs[i].Spec.MinAvailable = nil, ptr.To(intstr.FromInt32(1))
				}
			}
		}},
		{"two emulators", local, "scaling", func(m *manifest) {
			m.deployment("capstone-pubsub-emulator").Spec.Replicas = ptr.To(int32(2))
		}},
		{"emulator rolled with a surge", local, "scaling", func(m *manifest) {
			m.deployment("capstone-pubsub-emulator").Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
		}},
		{"emulator probed over HTTP", local, "probes", func(m *manifest) {
			c := container(m, "capstone-pubsub-emulator")
			c.ReadinessProbe.TCPSocket = nil
			c.ReadinessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("grpc")}
		}},
		{"emulator probed on an undeclared port", local, "probes", func(m *manifest) {
			container(m, "capstone-pubsub-emulator").LivenessProbe.TCPSocket.Port = intstr.FromString("http")
		}},
		{"emulator on GKE", gke, "config", func(m *manifest) {
			d := *m.deployment("capstone-relay")
			d.Name = "capstone-pubsub-emulator"
			d.Spec.Template.Spec.Containers = []corev1.Container{*container(m, "capstone-relay")}
			d.Spec.Template.Spec.Containers[0].Args = []string{"pubsub-emulator", "--addr", "0.0.0.0:8085"}
			m.Deployments = append(m.Deployments, d)
		}},
		{"Ingress to a missing Service", gke, "ingress", func(m *manifest) {
			m.Ingresses[0].Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "api"
		}},
		{"TLS locally", local, "ingress", func(m *manifest) {
			m.Ingresses[0].Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"capstone.local"}}}
		}},
		{"default ServiceAccount", gke, "service-accounts", func(m *manifest) {
			m.deployment("capstone-projector").Spec.Template.Spec.ServiceAccountName = ""
		}},
		{"image outside Artifact Registry", gke, "images", func(m *manifest) {
			container(m, "capstone-api").Image = "docker.io/capstone/capstone:1.0"
		}},
		{"local image not capstone:dev", local, "images", func(m *manifest) {
			container(m, "capstone-api").Image = "capstone:latest"
		}},
		{"object outside the namespace", gke, "namespace", func(m *manifest) {
			m.BackendConfigs[0].Namespace = ""
		}},
		{"relay Deployment missing", gke, "inventory", func(m *manifest) {
			m.Deployments = slices.DeleteFunc(m.Deployments, func(d appsv1.Deployment) bool { return d.Name == "capstone-relay" })
		}},
		{"emulator Service missing", local, "inventory", func(m *manifest) {
			m.Services = slices.DeleteFunc(m.Services, func(s corev1.Service) bool { return s.Name == "capstone-pubsub-emulator" })
		}},
		{"HPA added for the relay", local, "inventory", func(m *manifest) {
			h := m.HPAs[0]
			h.Name = "capstone-relay"
			m.HPAs = append(m.HPAs, h)
		}},
		{"nothing runs the relay", gke, "bus", func(m *manifest) {
			m.Deployments = slices.DeleteFunc(m.Deployments, func(d appsv1.Deployment) bool { return d.Name == "capstone-relay" })
		}},
		{"in-process bus across Deployments", gke, "bus", func(m *manifest) {
			delete(m.ConfigMaps[0].Data, "PUBSUB_PROJECT_ID")
		}},
		{"in-process bus locally", local, "bus", func(m *manifest) {
			delete(m.ConfigMaps[0].Data, "PUBSUB_PROJECT_ID")
		}},
		{"one Deployment on another Pub/Sub project", local, "bus", func(m *manifest) {
			c := container(m, "capstone-relay")
			// GOOGLE_CLOUD_PROJECT counts when PUBSUB_PROJECT_ID is empty.
			c.Env = append(c.Env, corev1.EnvVar{Name: "PUBSUB_PROJECT_ID", Value: ""}, corev1.EnvVar{Name: "GOOGLE_CLOUD_PROJECT", Value: "other-project"})
		}},
		{"Pub/Sub in another project than the secrets", gke, "secrets", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_PROJECT_ID"] = "other-project"
		}},
		{"pods that may create topics and subscriptions on GKE", gke, "bus", func(m *manifest) {
			delete(m.ConfigMaps[0].Data, "CAPSTONE_PUBSUB_CREATE")
		}},
		{"Pub/Sub project not a project id", local, "bus", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_PROJECT_ID"] = "PROJECT_ID"
		}},
		{"emulator host on GKE", gke, "bus", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_EMULATOR_HOST"] = "capstone-pubsub-emulator:8085"
		}},
		{"local cluster on Google's Pub/Sub", local, "bus", func(m *manifest) {
			delete(m.ConfigMaps[0].Data, "PUBSUB_EMULATOR_HOST")
		}},
		{"emulator host names no Service", local, "bus", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_EMULATOR_HOST"] = "pubsub-emulator:8085"
		}},
		{"emulator host on a port the Service lacks", local, "bus", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_EMULATOR_HOST"] = "capstone-pubsub-emulator:8086"
		}},
		{"emulator host is the API", local, "bus", func(m *manifest) {
			m.ConfigMaps[0].Data["PUBSUB_EMULATOR_HOST"] = "capstone-api.capstone.svc:80"
		}},
		{"emulator listens on loopback", local, "bus", func(m *manifest) {
			container(m, "capstone-pubsub-emulator").Args = []string{"pubsub-emulator"}
		}},
		{"emulator listens on another port", local, "bus", func(m *manifest) {
			container(m, "capstone-pubsub-emulator").Args = []string{"pubsub-emulator", "--addr=0.0.0.0:9085"}
		}},
		{"pods acting as a shared Google service account", gke, "service-accounts", func(m *manifest) {
			m.ServiceAccounts[0].Annotations = map[string]string{"iam.gke.io/gcp-service-account": "capstone@capstone-test-123.iam.gserviceaccount.com"}
		}},
		{"two components share an identity", local, "service-accounts", func(m *manifest) {
			m.deployment("capstone-relay").Spec.Template.Spec.ServiceAccountName = "capstone-api"
		}},
		{"a Kubernetes API token mounted", gke, "service-accounts", func(m *manifest) {
			m.deployment("capstone-projector").Spec.Template.Spec.AutomountServiceAccountToken = nil
		}},
		{"no Cloud Armor policy", gke, "gke", func(m *manifest) {
			m.BackendConfigs[0].Spec.SecurityPolicy = nil
		}},
		{"load balancer checks /", gke, "gke", func(m *manifest) {
			m.BackendConfigs[0].Spec.HealthCheck.RequestPath = "/"
		}},
		{"health check on another port", gke, "gke", func(m *manifest) {
			m.BackendConfigs[0].Spec.HealthCheck.Port = 80
		}},
		{"requests below limits on Autopilot", gke, "gke", func(m *manifest) {
			container(m, "capstone-api").Resources.Requests[corev1.ResourceCPU] = resource.MustParse("250m")
		}},
		{"not the GKE Ingress class", gke, "gke", func(m *manifest) {
			m.Ingresses[0].Annotations["kubernetes.io/ingress.class"] = "nginx"
		}},
		{"certificate that does not exist", gke, "tls", func(m *manifest) {
			m.ManagedCertificates[0].Name = "other"
		}},
		{"no managed certificate", gke, "tls", func(m *manifest) {
			delete(m.Ingresses[0].Annotations, "networking.gke.io/managed-certificates")
		}},
		{"certificate for no domain name", gke, "tls", func(m *manifest) {
			m.ManagedCertificates[0].Spec.Domains = []string{"DOMAIN"}
		}},
		{"ephemeral address", gke, "tls", func(m *manifest) {
			delete(m.Ingresses[0].Annotations, "kubernetes.io/ingress.global-static-ip-name")
		}},
		{"plain HTTP open", gke, "tls", func(m *manifest) {
			delete(m.Ingresses[0].Annotations, "networking.gke.io/v1beta1.FrontendConfig")
		}},
		{"redirect turns POST into GET", gke, "tls", func(m *manifest) {
			m.FrontendConfigs[0].Spec.RedirectToHTTPS.ResponseCodeName = "MOVED_PERMANENTLY_DEFAULT"
		}},
		{"redirect off", gke, "tls", func(m *manifest) {
			m.FrontendConfigs[0].Spec.RedirectToHTTPS.Enabled = false
		}},
		{"front ends not trusted", gke, "edge", func(m *manifest) {
			envVar(container(m, "capstone-api"), "CAPSTONE_TRUSTED_PROXIES").Value = "35.191.0.0/16,192.0.2.1"
		}},
		{"load balancer address not trusted", gke, "edge", func(m *manifest) {
			envVar(container(m, "capstone-api"), "CAPSTONE_TRUSTED_PROXIES").Value = "130.211.0.0/22,35.191.0.0/16"
		}},
		{"everyone trusted", gke, "edge", func(m *manifest) {
			envVar(container(m, "capstone-api"), "CAPSTONE_TRUSTED_PROXIES").Value = "130.211.0.0/22,35.191.0.0/16,0.0.0.0/0"
		}},
		{"no trusted proxies on GKE", gke, "edge", func(m *manifest) {
			c := container(m, "capstone-api")
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "CAPSTONE_TRUSTED_PROXIES" })
		}},
		{"projectors left out of the workers' policy", gke, "network", func(m *manifest) {
			m.NetworkPolicies[1].Spec.PodSelector.MatchExpressions[0].Values = []string{"relay"}
		}},
		{"workers not isolated", gke, "network", func(m *manifest) {
			m.NetworkPolicies = slices.DeleteFunc(m.NetworkPolicies, func(np networkingv1.NetworkPolicy) bool { return np.Name == "capstone-workers" })
		}},
		{"API open to the cluster", gke, "network", func(m *manifest) {
			m.NetworkPolicies[0].Spec.Ingress[0].From = append(m.NetworkPolicies[0].Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}})
		}},
		{"API open to the internet", gke, "network", func(m *manifest) {
			m.NetworkPolicies[0].Spec.Ingress[0].From[0].IPBlock.CIDR = "0.0.0.0/0"
		}},
		{"health checks blocked", gke, "network", func(m *manifest) {
			m.NetworkPolicies[0].Spec.Ingress[0].From = m.NetworkPolicies[0].Spec.Ingress[0].From[:1]
		}},
		{"API policy on every port", gke, "network", func(m *manifest) {
			m.NetworkPolicies[0].Spec.Ingress[0].Ports = nil
		}},
		{"a worker reachable from the load balancer", gke, "network", func(m *manifest) {
			m.NetworkPolicies[1].Spec.Ingress = m.NetworkPolicies[0].Spec.Ingress
		}},
		{"policy without Ingress", gke, "network", func(m *manifest) {
			m.NetworkPolicies[1].Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		}},
		{"projectors scale on CPU only", gke, "backlog", func(m *manifest) {
			h := projectorHPA(m)
			h.Spec.Metrics = slices.DeleteFunc(h.Spec.Metrics, func(mt autoscalingv2.MetricSpec) bool { return mt.Type == autoscalingv2.ExternalMetricSourceType })
		}},
		{"a subscription's backlog ignored", gke, "backlog", func(m *manifest) {
			h := projectorHPA(m)
			h.Spec.Metrics = h.Spec.Metrics[1:]
		}},
		{"backlog of a misspelt subscription", gke, "backlog", func(m *manifest) {
			h := projectorHPA(m)
			h.Spec.Metrics[0].External.Metric.Selector.MatchLabels["resource.labels.subscription_id"] = "capstone-commits.user"
		}},
		{"backlog as a total, not per replica", gke, "backlog", func(m *manifest) {
			h := projectorHPA(m)
			h.Spec.Metrics[1].External.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("100"))}
		}},
		{"no CPU beside the backlog", gke, "backlog", func(m *manifest) {
			h := projectorHPA(m)
			h.Spec.Metrics = slices.DeleteFunc(h.Spec.Metrics, func(mt autoscalingv2.MetricSpec) bool { return mt.Type == autoscalingv2.ResourceMetricSourceType })
		}},
		{"External metric without an adapter", local, "backlog", func(m *manifest) {
			m.HPAs[0].Spec.Metrics = append(m.HPAs[0].Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType,
				External: &autoscalingv2.ExternalMetricSource{Metric: autoscalingv2.MetricIdentifier{Name: backlogMetric}}})
		}},
		{"Pod Security not enforced", local, "namespace", func(m *manifest) {
			m.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"] = "baseline"
		}},
		{"API PDB on minAvailable", gke, "scaling", func(m *manifest) {
			m.PDBs[0].Spec.MaxUnavailable, m.PDBs[0].Spec.MinAvailable = nil, ptr.To(intstr.FromInt32(1))
		}},
		{"no GOMEMLIMIT", gke, "resources", func(m *manifest) {
			c := container(m, "capstone-relay")
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
		}},
		{"GOMEMLIMIT written by hand", local, "resources", func(m *manifest) {
			*envVar(container(m, "capstone-api"), "GOMEMLIMIT") = corev1.EnvVar{Name: "GOMEMLIMIT", Value: "512MiB"}
		}},
		{"GOMEMLIMIT from the request", gke, "resources", func(m *manifest) {
			envVar(container(m, "capstone-api"), "GOMEMLIMIT").ValueFrom.ResourceFieldRef.Resource = "requests.memory"
		}},
		{"GOMEMLIMIT in mebibytes", local, "resources", func(m *manifest) {
			envVar(container(m, "capstone-pubsub-emulator"), "GOMEMLIMIT").ValueFrom.ResourceFieldRef.Divisor = resource.MustParse("1Mi")
		}},
		{"metrics on the API port", local, "metrics", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_METRICS_ADDR"] = ""
		}},
		{"metrics on another port than declared", gke, "metrics", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_METRICS_ADDR"] = ":9091"
		}},
		{"metrics on loopback", gke, "metrics", func(m *manifest) {
			m.ConfigMaps[0].Data["CAPSTONE_METRICS_ADDR"] = "127.0.0.1:9090"
		}},
		{"Service exposes the metrics port", gke, "metrics", func(m *manifest) {
			svc := m.service("capstone-api")
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics")})
		}},
		{"Service exposes the metrics port by number", local, "metrics", func(m *manifest) {
			m.service("capstone-api").Spec.Ports[0].TargetPort = intstr.FromInt32(9090)
		}},
		{"relay not scraped", gke, "metrics", func(m *manifest) {
			m.PodMonitorings = slices.DeleteFunc(m.PodMonitorings, func(pm podMonitoring) bool { return pm.Name == "capstone-relay" })
		}},
		{"scrapes the API port", gke, "metrics", func(m *manifest) {
			m.PodMonitorings[0].Spec.Endpoints[0].Port = intstr.FromString("http")
		}},
		{"PodMonitoring selects nothing", gke, "metrics", func(m *manifest) {
			m.PodMonitorings[0].Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "apii"
		}},
		{"collectors blocked", gke, "network", func(m *manifest) {
			m.NetworkPolicies[1].Spec.Ingress = nil
		}},
		{"collectors reach the API port", gke, "network", func(m *manifest) {
			m.NetworkPolicies[0].Spec.Ingress[1].Ports[0].Port = ptr.To(intstr.FromString("http"))
		}},
		{"image by tag", gke, "images", func(m *manifest) {
			container(m, "capstone-api").Image = "europe-west1-docker.pkg.dev/capstone-test-123/capstone/capstone:0123456"
		}},
		{"grace shorter than preStop and drain", local, "termination", func(m *manifest) {
			m.deployment("capstone-api").Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(int64(40))
		}},
		{"relay killed before it drains", gke, "termination", func(m *manifest) {
			m.deployment("capstone-relay").Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(int64(20))
		}},
		{"grace left to the default", local, "termination", func(m *manifest) {
			m.deployment("capstone-api").Spec.Template.Spec.TerminationGracePeriodSeconds = nil
		}},
		{"5 s preStop behind the load balancer", gke, "termination", func(m *manifest) {
			container(m, "capstone-api").Lifecycle.PreStop.Sleep.Seconds = 5
		}},
		{"preStop that cannot be timed", local, "termination", func(m *manifest) {
			c := container(m, "capstone-api")
			c.Lifecycle.PreStop.Sleep = nil
			c.Lifecycle.PreStop.HTTPGet = &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}
		}},
		{"grace below Google's minimum behind a NEG", gke, "termination", func(m *manifest) {
			m.deployment("capstone-api").Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To(int64(55))
		}},
		{"load balancer drains longer than the process", gke, "termination", func(m *manifest) {
			m.BackendConfigs[0].Spec.ConnectionDraining.DrainingTimeoutSec = 45
		}},
		{"no connection draining", gke, "termination", func(m *manifest) {
			m.BackendConfigs[0].Spec.ConnectionDraining = nil
		}},
		{"readiness gives up within a store failover", gke, "termination", func(m *manifest) {
			container(m, "capstone-api").ReadinessProbe.FailureThreshold = 2
		}},
		{"projector readiness on defaults but faster", local, "termination", func(m *manifest) {
			container(m, "capstone-projector").ReadinessProbe.PeriodSeconds = 5
		}},
		{"health check gives up within a store failover", gke, "termination", func(m *manifest) {
			m.BackendConfigs[0].Spec.HealthCheck.UnhealthyThreshold = 2
		}},
	} {
		t.Run(mu.name, func(t *testing.T) { catches(t, mu.target, mu.check, mu.mutate) })
	}
}

// catches renders tg, checks that every check passes, applies mutate and
// requires the check named check to fail.
func catches(t *testing.T, tg target, check string, mutate func(*manifest)) {
	t.Helper()
	m := renderDecode(t, tg)
	env := newCheckEnv(t, tg)
	if failed := runChecks(m, env); len(failed) > 0 {
		t.Fatalf("fails before the mutation: %v", failed)
	}
	mutate(m)
	failed := runChecks(m, env)
	if len(failed[check]) == 0 {
		t.Fatalf("check %q did not catch it (failed: %v)", check, failed)
	}
	t.Logf("%s: %v", check, failed[check][0])
}

// TestEnvNamesFollowConfig: a variable config.go stops reading fails the check.
func TestEnvNamesFollowConfig(t *testing.T) {
	src, err := os.ReadFile(configGo)
	if err != nil {
		t.Fatal(err)
	}
	known := envNamesIn(strings.ReplaceAll(string(src), `"CAPSTONE_TOKEN_TTL"`, `"CAPSTONE_TOKEN_LIFETIME"`))
	errs := checkEnvNames(renderDecode(t, targets[1]), checkEnv{target: targets[1], known: known})
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "CAPSTONE_TOKEN_TTL") {
		t.Fatalf("a manifest setting CAPSTONE_TOKEN_TTL passed although config.go no longer reads it: %v", errs)
	}
}

// TestStrictDecoding: a misspelt field, a Secret or an unknown kind fails.
func TestStrictDecoding(t *testing.T) {
	docs := renderedDocs(t, targets[1])
	var deployment int
	for i, d := range docs {
		if strings.Contains(string(d), "kind: Deployment") {
			deployment = i
			break
		}
	}
	for _, mu := range []struct {
		name, doc, want string
	}{
		{"misspelt field", strings.Replace(string(docs[deployment]), "revisionHistoryLimit:", "revisionHistoryLimt:", 1), "unknown field"},
		{"field of the wrong type", strings.Replace(string(docs[deployment]), "revisionHistoryLimit: 5", "revisionHistoryLimit: five", 1), "revisionHistoryLimit"},
		{"a Secret", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: capstone-secrets\nstringData:\n  MONGODB_URI: x\n", "Secret is in the manifests"},
		{"an unknown kind", "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: x\n", "unexpected apiVersion/kind"},
		{"a field in the wrong case", strings.Replace(string(docs[deployment]), "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1), "unknown field"},
		{"a duplicate field", strings.Replace(string(docs[deployment]), "revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  revisionHistoryLimit: 6", 1), "revisionHistoryLimit"},
		{"a BackendConfig field GKE does not have", "apiVersion: cloud.google.com/v1\nkind: BackendConfig\nmetadata:\n  name: x\nspec:\n  healthcheck:\n    requestPath: /readyz\n", "unknown field"},
	} {
		t.Run(mu.name, func(t *testing.T) {
			mutated := append(append([][]byte{}, docs...), []byte(mu.doc))
			_, err := decode(mutated)
			if err == nil || !strings.Contains(err.Error(), mu.want) {
				t.Fatalf("decode = %v, want an error containing %q", err, mu.want)
			}
		})
	}
}

func TestCloudBuildChecksCatchMutations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	gke := renderDecode(t, targets[1])
	if errs := checkCloudBuild(data, gke); len(errs) > 0 {
		t.Fatalf("fails before any mutation: %v", errs)
	}
	orig := string(data)
	for _, mu := range []struct{ name, old, new, want string }{
		{"undeclared substitution", `--location="${_LOCATION}"`, `--location="${_REGION}"`, "_REGION} is used but not declared"},
		{"declared but unused", "  _IMAGE: capstone\n", "  _IMAGE: capstone\n  _UNUSED: x\n", "_UNUSED is declared but not used"},
		{"shell variable not escaped", `image="$$(cat /workspace/image)"`, `image="$(cat /workspace/image)"`, "a bare"},
		{"logs to the default bucket", "logging: CLOUD_LOGGING_ONLY", "logging: LEGACY", "CLOUD_LOGGING_ONLY"},
		{"misspelt field", "    waitFor: [\"test\", \"test-deploy\", \"build\"]", "    waitsFor: [\"test\", \"test-deploy\", \"build\"]", "unknown field"},
		{"field in the wrong case", "    waitFor: [\"test\", \"test-deploy\", \"build\"]", "    waitfor: [\"test\", \"test-deploy\", \"build\"]", "unknown field"},
		{"push before the deploy module's tests", `waitFor: ["test", "test-deploy", "build"]`, `waitFor: ["test", "build"]`, "does not wait for step test-deploy"},
		{"deploy module's tests not run", "    dir: deploy\n    entrypoint: go\n", "    entrypoint: go\n", "no step running go test ./... in deploy"},
		{"image pushed under another tag", "images:\n  - ${_LOCATION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/${_IMAGE}:$COMMIT_SHA", "images:\n  - ${_LOCATION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/${_IMAGE}:latest", "images:"},
		{"digest not kept", `docker inspect --format='{{index .RepoDigests 0}}'`, `echo`, "RepoDigests"},
		{"deployed by tag", `s|^\(    digest:\).*|\1 $${image#*@}|`, `s|^\(    digest:\).*|\1 sha256:0000000000000000000000000000000000000000000000000000000000000000|`, "not the image just pushed"},
		{"pushed image not checked", `"${_LOCATION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/${_IMAGE}@sha256:"*) ;;`, `*) ;;`, "@sha256:"},
		{"render before the push", `waitFor: ["push"]`, `waitFor: ["-"]`, "does not wait for step push"},
		{"deprecated kubectl builder", "  - id: render\n    name: gcr.io/google.com/cloudsdktool/google-cloud-cli:stable", "  - id: render\n    name: gcr.io/cloud-builders/kubectl", "deprecated"},
		{"deprecated gke-deploy builder", "  - id: deploy\n    name: gcr.io/google.com/cloudsdktool/google-cloud-cli:stable", "  - id: deploy\n    name: gcr.io/cloud-builders/gke-deploy", "deprecated"},
		{"no kubectl in the image", "      - COMPONENTS=kubectl\n", "      - COMPONENTS=\n", "does not install kubectl"},
		{"no auth plugin", "COMPONENTS=kubectl google-cloud-cli-gke-gcloud-auth-plugin", "COMPONENTS=kubectl", "google-cloud-cli-gke-gcloud-auth-plugin"},
		{"entrypoint that skips COMPONENTS", "    waitFor: [\"render\"]\n", "    waitFor: [\"render\"]\n    entrypoint: bash\n", "entrypoint"},
		{"rendering not printed", "        cat /workspace/capstone-gke.yaml\n", "", "cat /workspace/capstone-gke.yaml"},
		{"deploy renders again", "kubectl apply -f /workspace/capstone-gke.yaml", "kubectl apply -k deploy/k8s/overlays/gke", "apply exactly"},
		{"deploy applies another file", "kubectl apply -f /workspace/capstone-gke.yaml", "kubectl apply -f /workspace/other.yaml", "apply exactly"},
		{"deploy before the render", `waitFor: ["render"]`, `waitFor: ["push"]`, "does not wait for step render"},
		{"secrets through the build", "        set -euo pipefail\n        gcloud container", "        set -euo pipefail\n        gcloud secrets versions access latest --secret=capstone-jwt-secret >/dev/null\n        gcloud container", "no secret passes through"},
		{"placeholders deployed", "        if grep -nE 'capstone\\.example\\.edu|192\\.0\\.2\\.1([^0-9]|$$)' /workspace/capstone-gke.yaml; then\n", "        if false; then\n", "refusing the placeholders"},
		{"guard misses the address", `capstone\.example\.edu|192\.0\.2\.1([^0-9]|$$)`, `capstone\.example\.edu`, "lets the committed placeholder"},
		{"guard refuses real addresses", `192\.0\.2\.1([^0-9]|$$)`, `192\.0\.2\.1`, "refuses a real value"},
		{"projector rollout not awaited", "kubectl -n capstone rollout status deployment/capstone-projector", "true", "capstone-projector"},
		{"relay rollout not awaited", "kubectl -n capstone rollout status deployment/capstone-relay", "true", "capstone-relay"},
		{"Pub/Sub project not substituted", " pubsub.env secrets-patch.yaml\n", " secrets-patch.yaml\n", "PUBSUB_PROJECT_ID"},
		{"secret references not substituted", " pubsub.env secrets-patch.yaml\n", " pubsub.env\n", "PROJECT_ID"},
		{"sed renames PUBSUB_PROJECT_ID", `s|\([=/]\)PROJECT_ID|\1$PROJECT_ID|g`, `s|PROJECT_ID|$PROJECT_ID|g`, "PUBSUB_PROJECT_ID"},
		{"sed on a file the overlay lacks", " pubsub.env secrets-patch.yaml\n", " pubsub.env secrets-patch.yaml config.env\n", "config.env"},
		{"wrong cluster location", `--location="${_LOCATION}"`, `--zone="${_LOCATION}"`, "get-credentials"},
	} {
		t.Run(mu.name, func(t *testing.T) {
			if !strings.Contains(orig, mu.old) {
				t.Fatalf("cloudbuild.yaml has no %q to mutate", mu.old)
			}
			errs := checkCloudBuild([]byte(strings.Replace(orig, mu.old, mu.new, 1)), gke)
			for _, err := range errs {
				if strings.Contains(err.Error(), mu.want) {
					t.Logf("%v", err)
					return
				}
			}
			t.Fatalf("no error containing %q: %v", mu.want, errs)
		})
	}
}

func TestDockerfileChecksCatchMutations(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	orig := string(data)
	if errs := checkDockerfile(orig, 8080); len(errs) > 0 {
		t.Fatalf("fails before any mutation: %v", errs)
	}
	for _, mu := range []struct{ name, old, new, want string }{
		{"runtime with a shell", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM alpine:3.22", "runtime image"},
		{"runtime as root", "FROM gcr.io/distroless/static-debian12:nonroot@", "FROM gcr.io/distroless/static-debian12@", "runtime image"},
		{"runtime by tag", "static-debian12:nonroot@sha256:", "static-debian12:nonroot #", "pinned by digest"},
		{"build image by tag", "golang:1.26@sha256:", "golang:1.26 #", "pinned by digest"},
		{"USER root", "USER nonroot:nonroot", "USER root", "USER"},
		{"no USER", "USER nonroot:nonroot\n", "", "USER"},
		{"cgo on", "CGO_ENABLED=0 GOOS", "CGO_ENABLED=1 GOOS", "CGO_ENABLED=0"},
		{"PostgreSQL backend linked", "-tags ferretdb_no_postgresql ", "", noPostgres},
		{"other Go", "FROM --platform=$BUILDPLATFORM golang:1.26@", "FROM --platform=$BUILDPLATFORM golang:1.22@", "golang:1.26"},
		{"other port", "EXPOSE 8080", "EXPOSE 80", "EXPOSE"},
		{"other entrypoint", `ENTRYPOINT ["/capstone"]`, `ENTRYPOINT ["/bin/sh", "-c", "/capstone"]`, "ENTRYPOINT"},
	} {
		t.Run(mu.name, func(t *testing.T) {
			if !strings.Contains(orig, mu.old) {
				t.Fatalf("Dockerfile has no %q to mutate", mu.old)
			}
			for _, err := range checkDockerfile(strings.Replace(orig, mu.old, mu.new, 1), 8080) {
				if strings.Contains(err.Error(), mu.want) {
					t.Logf("%v", err)
					return
				}
			}
			t.Fatalf("no error containing %q", mu.want)
		})
	}
}
