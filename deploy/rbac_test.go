package deploy

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// deployerRBAC is what the build's identity may do in the cluster.
const deployerRBAC = "k8s/rbac/deployer.yaml"

// buildUser is the build's Google service account as Kubernetes RBAC names
// it; deploy/README.md creates the account and applies deployerRBAC with
// PROJECT_ID replaced.
const buildUser = "capstone-build@PROJECT_ID.iam.gserviceaccount.com"

// apiResources maps the kinds of the manifests to their API group and
// resource, as RBAC rules name them.
var apiResources = map[string][2]string{
	"ConfigMap":               {"", "configmaps"},
	"ServiceAccount":          {"", "serviceaccounts"},
	"Service":                 {"", "services"},
	"Namespace":               {"", "namespaces"},
	"Deployment":              {"apps", "deployments"},
	"HorizontalPodAutoscaler": {"autoscaling", "horizontalpodautoscalers"},
	"PodDisruptionBudget":     {"policy", "poddisruptionbudgets"},
	"Ingress":                 {"networking.k8s.io", "ingresses"},
	"NetworkPolicy":           {"networking.k8s.io", "networkpolicies"},
	"BackendConfig":           {"cloud.google.com", "backendconfigs"},
	"FrontendConfig":          {"networking.gke.io", "frontendconfigs"},
	"ManagedCertificate":      {"networking.gke.io", "managedcertificates"},
	"PodMonitoring":           {"monitoring.googleapis.com", "podmonitorings"},
}

// rbac is the content of deployerRBAC.
type rbac struct {
	roles               []rbacv1.Role
	roleBindings        []rbacv1.RoleBinding
	clusterRoles        []rbacv1.ClusterRole
	clusterRoleBindings []rbacv1.ClusterRoleBinding
}

func decodeRBAC(data []byte) (*rbac, error) {
	r := &rbac{}
	var errs []error
	for i, doc := range splitDocs(data) {
		var head struct {
			metav1.TypeMeta `json:",inline"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		var err error
		switch head.APIVersion + " " + head.Kind {
		case "rbac.authorization.k8s.io/v1 Role":
			err = strictAppend(doc, &r.roles)
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			err = strictAppend(doc, &r.roleBindings)
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			err = strictAppend(doc, &r.clusterRoles)
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			err = strictAppend(doc, &r.clusterRoleBindings)
		default:
			err = fmt.Errorf("unexpected %s %s", head.APIVersion, head.Kind)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
		}
	}
	return r, errors.Join(errs...)
}

// allows reports whether rules grant verb on group/resource (named name,
// if the rule lists names).
func allows(rules []rbacv1.PolicyRule, group, res, name, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name))
	})
}

// boundToBuild reports whether a binding's subjects are exactly the build's
// identity and it binds the role named role.
func boundToBuild(subjects []rbacv1.Subject, ref rbacv1.RoleRef, kind, role string) bool {
	return len(subjects) == 1 && subjects[0].Kind == rbacv1.UserKind && subjects[0].Name == buildUser &&
		ref.Kind == kind && ref.Name == role
}

// checkDeployer: the build's identity may apply every object of the gke
// rendering (get, create, patch; watch the Deployments for the rollouts) in
// the namespace capstone, and update that namespace only, and nothing else:
// no Secret, no RBAC, no pod, no deletion, no wildcard.
func checkDeployer(r *rbac, gke *manifest) []error {
	var errs []error
	var nsRules, clusterRules []rbacv1.PolicyRule
	for _, role := range r.roles {
		if role.Namespace != namespace {
			errs = append(errs, fmt.Errorf("Role %s is in namespace %q, want %s", role.Name, role.Namespace, namespace))
			continue
		}
		if slices.ContainsFunc(r.roleBindings, func(b rbacv1.RoleBinding) bool {
			return b.Namespace == namespace && boundToBuild(b.Subjects, b.RoleRef, "Role", role.Name)
		}) {
			nsRules = append(nsRules, role.Rules...)
		}
	}
	for _, role := range r.clusterRoles {
		if slices.ContainsFunc(r.clusterRoleBindings, func(b rbacv1.ClusterRoleBinding) bool {
			return boundToBuild(b.Subjects, b.RoleRef, "ClusterRole", role.Name)
		}) {
			clusterRules = append(clusterRules, role.Rules...)
		}
	}
	for _, o := range gke.objects() {
		gr, ok := apiResources[o.kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not in apiResources: add its API group and resource", o.kind))
			continue
		}
		verbs := []string{"get", "create", "patch"}
		rules := nsRules
		if o.kind == "Namespace" {
			verbs, rules = []string{"get", "patch"}, clusterRules // created once by an administrator
		}
		if o.kind == "Deployment" {
			verbs = append(verbs, "watch")
		}
		for _, v := range verbs {
			if !allows(rules, gr[0], gr[1], o.meta.Name, v) {
				errs = append(errs, fmt.Errorf("the build's identity may not %s %s %s (%s): the deploy would fail", v, o.kind, o.meta.Name, deployerRBAC))
			}
		}
	}
	for _, rule := range append(slices.Clone(nsRules), clusterRules...) {
		for _, res := range rule.Resources {
			if res == "*" || res == "secrets" || res == "pods" || strings.Contains(res, "/") || strings.HasPrefix(res, "role") || strings.HasPrefix(res, "clusterrole") {
				errs = append(errs, fmt.Errorf("%s grants the build %v on %s: more than a deploy needs", deployerRBAC, rule.Verbs, res))
			}
		}
		for _, v := range rule.Verbs {
			if v == "*" || v == "delete" || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate" {
				errs = append(errs, fmt.Errorf("%s grants the build %q on %v: more than a deploy needs", deployerRBAC, v, rule.Resources))
			}
		}
		if slices.Contains(rule.APIGroups, "*") {
			errs = append(errs, fmt.Errorf("%s grants the build every API group", deployerRBAC))
		}
	}
	for _, rule := range clusterRules {
		if len(rule.ResourceNames) == 0 {
			errs = append(errs, fmt.Errorf("%s: a cluster-wide rule on %v names no object: the build could change every namespace", deployerRBAC, rule.Resources))
		}
	}
	return errs
}

func readDeployer(t *testing.T) *rbac {
	t.Helper()
	data, err := os.ReadFile(deployerRBAC)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeRBAC(data)
	if err != nil {
		t.Fatalf("%s: %v", deployerRBAC, err)
	}
	return r
}

func TestDeployerRBAC(t *testing.T) {
	for _, err := range checkDeployer(readDeployer(t), renderDecode(t, targets[1])) {
		t.Error(err)
	}
}

func TestDeployerChecksCatchMutations(t *testing.T) {
	gke := renderDecode(t, targets[1])
	if errs := checkDeployer(readDeployer(t), gke); len(errs) > 0 {
		t.Fatalf("fails before any mutation: %v", errs)
	}
	for _, mu := range []struct {
		name, want string
		mutate     func(r *rbac)
	}{
		{"NetworkPolicies not allowed", "NetworkPolicy", func(r *rbac) {
			r.roles[0].Rules[4].Resources = []string{"ingresses"}
		}},
		{"rollouts not watchable", "watch Deployment", func(r *rbac) {
			r.roles[0].Rules[1].Verbs = []string{"get", "list", "create", "patch", "update"}
		}},
		{"Role bound to someone else", "may not", func(r *rbac) {
			r.roleBindings[0].Subjects[0].Name = "capstone-api@PROJECT_ID.iam.gserviceaccount.com"
		}},
		{"namespace not updatable", "Namespace capstone", func(r *rbac) {
			r.clusterRoles[0].Rules[0].ResourceNames = []string{"default"}
		}},
		{"every namespace", "names no object", func(r *rbac) {
			r.clusterRoles[0].Rules[0].ResourceNames = nil
		}},
		{"Secrets readable", "secrets", func(r *rbac) {
			r.roles[0].Rules[0].Resources = append(r.roles[0].Rules[0].Resources, "secrets")
		}},
		{"deletion", "delete", func(r *rbac) {
			r.roles[0].Rules[1].Verbs = append(r.roles[0].Rules[1].Verbs, "delete")
		}},
		{"wildcard", "every API group", func(r *rbac) {
			r.roles[0].Rules = append(r.roles[0].Rules, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"deployments"}, Verbs: []string{"get"}})
		}},
		{"exec into pods", "pods/exec", func(r *rbac) {
			r.roles[0].Rules = append(r.roles[0].Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create"}})
		}},
	} {
		t.Run(mu.name, func(t *testing.T) {
			r := readDeployer(t)
			mu.mutate(r)
			errs := checkDeployer(r, gke)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), mu.want) }) {
				t.Fatalf("no error containing %q: %v", mu.want, errs)
			}
		})
	}
}
