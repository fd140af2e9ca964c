package deploy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/infra/pubsub"
)

// The grants deploy/README.md makes are the least privilege the deployment
// relies on, so they are checked like the manifests: each identity gets
// exactly the roles its pods and jobs use, on the resources the manifests
// and the binary name, and nothing else.

const readmePath = "README.md"

// workloadPrincipals is the prefix of the components' principals, as the
// README defines $WI (Workload Identity Federation for GKE, namespace capstone).
const workloadPrincipals = "principal://iam.googleapis.com/projects/$PROJECT_NUMBER/locations/global/workloadIdentityPools/$PROJECT_ID.svc.id.goog/subject/ns/" + namespace + "/sa"

// grant is one IAM role binding: the resource's kind (the gcloud command
// group, e.g. "pubsub topics"), the resource, the member and the role.
type grant struct{ kind, resource, member, role string }

func (g grant) String() string {
	return fmt.Sprintf("%s on %s %s to %s", g.role, g.kind, g.resource, g.member)
}

// readme is what the checks read from the README's shell blocks.
type readme struct {
	vars     map[string]string // exported variables, as written
	grants   []grant           // add-iam-policy-binding commands, loops and variables expanded
	commands []string          // every command line, continuation lines joined
}

// symbolic are the README's variables that stay as they are written: the
// checks compare grants on $PROJECT_ID to $PROJECT_NUMBER's principals.
var symbolic = map[string]bool{"PROJECT_ID": true, "PROJECT_NUMBER": true}

var (
	shellBlock  = regexp.MustCompile("(?s)```sh\n(.*?)```")
	exportLine  = regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)=(.*)$`)
	forLine     = regexp.MustCompile(`^for ([a-z]+) in (.+); do$`)
	varRef      = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	bindingWord = "add-iam-policy-binding"
)

// shellWords splits a command line into words, honouring single and double
// quotes (no other shell syntax is needed for the README's commands).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// expand replaces $NAME by the value of vars (as written, themselves
// expanded), and leaves unknown variables as they are.
func expand(s string, vars map[string]string) string {
	for range 5 {
		next := varRef.ReplaceAllStringFunc(s, func(m string) string {
			name := varRef.FindStringSubmatch(m)[1]
			if v, ok := vars[name]; ok {
				return v
			}
			return m
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

func parseReadme(text string) (*readme, error) {
	r := &readme{vars: map[string]string{}}
	type loop struct {
		name   string
		values []string
	}
	var loops []loop
	var errs []error
	for _, block := range shellBlock.FindAllStringSubmatch(text, -1) {
		var lines []string
		var cur strings.Builder
		for _, l := range strings.Split(block[1], "\n") {
			t := strings.TrimSpace(l)
			if strings.HasSuffix(t, "\\") {
				cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
				continue
			}
			cur.WriteString(t)
			lines = append(lines, strings.Join(strings.Fields(cur.String()), " "))
			cur.Reset()
		}
		for _, line := range lines {
			if i := strings.Index(line, " #"); i >= 0 && !strings.Contains(line[:i], "'") {
				line = strings.TrimSpace(line[:i])
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			r.commands = append(r.commands, line)
			if m := exportLine.FindStringSubmatch(line); m != nil {
				if symbolic[m[1]] {
					continue // kept as $PROJECT_ID, $PROJECT_NUMBER
				}
				v := m[2]
				if w := shellWords(v); len(w) == 1 {
					v = w[0]
				}
				r.vars[m[1]] = v
				continue
			}
			if m := forLine.FindStringSubmatch(line); m != nil {
				var values []string
				for _, w := range strings.Fields(m[2]) {
					if unq := strings.Trim(w, `"`); unq != w {
						values = append(values, expand(unq, r.vars)) // quoted: one word
					} else {
						values = append(values, strings.Fields(expand(w, r.vars))...)
					}
				}
				loops = append(loops, loop{m[1], values})
				continue
			}
			if line == "done" {
				if len(loops) == 0 {
					errs = append(errs, errors.New("a done without a for"))
					continue
				}
				loops = loops[:len(loops)-1]
				continue
			}
			words := shellWords(line)
			at := slices.Index(words, bindingWord)
			if len(words) == 0 || words[0] != "gcloud" || at < 2 || at+1 >= len(words) {
				continue
			}
			g := grant{kind: strings.Join(words[1:at], " "), resource: words[at+1]}
			for _, w := range words[at+2:] {
				if v, ok := strings.CutPrefix(w, "--member="); ok {
					g.member = v
				}
				if v, ok := strings.CutPrefix(w, "--role="); ok {
					g.role = v
				}
			}
			if g.member == "" || g.role == "" {
				errs = append(errs, fmt.Errorf("%q: no --member= or --role=", line))
				continue
			}
			// Every combination of the enclosing loops' values.
			combos := []map[string]string{{}}
			for _, l := range loops {
				var next []map[string]string
				for _, c := range combos {
					for _, v := range l.values {
						n := map[string]string{l.name: v}
						for k, vv := range c {
							n[k] = vv
						}
						next = append(next, n)
					}
				}
				combos = next
			}
			for _, c := range combos {
				vars := map[string]string{}
				for k, v := range r.vars {
					vars[k] = v
				}
				for k, v := range c {
					vars[k] = v
				}
				r.grants = append(r.grants, grant{g.kind, expand(g.resource, vars), expand(g.member, vars), g.role})
			}
		}
	}
	if len(loops) > 0 {
		errs = append(errs, fmt.Errorf("%d for loops without done", len(loops)))
	}
	return r, errors.Join(errs...)
}

// wantGrants is the least privilege of the deployment, derived from the gke
// rendering (each component's ServiceAccount and the secrets its pods
// reference) and from the subscriptions the binary creates.
func wantGrants(gke *manifest, subscriptions []string) ([]grant, error) {
	var want []grant
	var errs []error
	for i := range gke.Deployments {
		d := &gke.Deployments[i]
		principal := workloadPrincipals + "/" + d.Spec.Template.Spec.ServiceAccountName
		secrets := map[string]bool{}
		for _, c := range containers(d) {
			for _, e := range c.Env {
				if sm := smReference.FindStringSubmatch(e.Value); sm != nil {
					secrets[strings.Split(strings.TrimPrefix(e.Value, "sm://projects/"+sm[1]+"/secrets/"), "/")[0]] = true
				}
			}
		}
		for name := range secrets {
			want = append(want, grant{"secrets", name, principal, "roles/secretmanager.secretAccessor"})
		}
		if runsComponent(d, "api") || runsComponent(d, "relay") {
			want = append(want, grant{"pubsub topics", pubsub.CommitsTopic, principal, "roles/pubsub.publisher"})
		}
		for _, s := range subscriptions {
			want = append(want, grant{"pubsub subscriptions", s, principal, "roles/pubsub.viewer"})
			if runsComponent(d, "projector") {
				want = append(want, grant{"pubsub subscriptions", s, principal, "roles/pubsub.subscriber"})
			}
		}
		if !runsComponent(d, "api") && !runsComponent(d, "projector") && !runsComponent(d, "relay") {
			errs = append(errs, fmt.Errorf("Deployment %s runs no component", d.Name))
		}
	}
	agent := "serviceAccount:service-$PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
	want = append(want, grant{"pubsub topics", pubsub.CommitsTopic + pubsub.DeadLetterSuffix, agent, "roles/pubsub.publisher"})
	for _, s := range subscriptions {
		want = append(want, grant{"pubsub subscriptions", s, agent, "roles/pubsub.subscriber"})
	}
	adapter := "principal://iam.googleapis.com/projects/$PROJECT_NUMBER/locations/global/workloadIdentityPools/$PROJECT_ID.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"
	build := "serviceAccount:capstone-build@$PROJECT_ID.iam.gserviceaccount.com"
	nodes := "serviceAccount:capstone-nodes@$PROJECT_ID.iam.gserviceaccount.com"
	want = append(want,
		grant{"projects", "$PROJECT_ID", adapter, "roles/monitoring.viewer"},
		grant{"projects", "$PROJECT_ID", nodes, "roles/container.defaultNodeServiceAccount"},
		grant{"artifacts repositories", "capstone", nodes, "roles/artifactregistry.reader"},
		grant{"projects", "$PROJECT_ID", build, "roles/logging.logWriter"},
		grant{"artifacts repositories", "capstone", build, "roles/artifactregistry.writer"},
		grant{"projects", "$PROJECT_ID", build, "roles/container.clusterViewer"},
		grant{"projects", "$PROJECT_ID", "serviceAccount:service-$PROJECT_NUMBER@gcp-sa-cloudbuild.iam.gserviceaccount.com", "roles/secretmanager.admin"},
	)
	return want, errors.Join(errs...)
}

// checkReadme: the README grants exactly wantGrants, defines the
// components' principals and the subscriptions as the manifests and the
// binary have them, and creates the Cloud Build account the RBAC binds, the
// security policy and the address the manifests name, and runs
// capstone pubsub-setup.
func checkReadme(text string, gke *manifest, subscriptions []string) []error {
	r, err := parseReadme(text)
	if err != nil {
		return []error{err}
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if got := r.vars["WI"]; got != workloadPrincipals {
		fail("README: WI is %q, want %q", got, workloadPrincipals)
	}
	for _, comp := range []string{"api", "projector", "relay"} {
		v := strings.ToUpper(comp)
		for i := range gke.Deployments {
			d := &gke.Deployments[i]
			if runsComponent(d, comp) && r.vars[v] != "$WI/"+d.Spec.Template.Spec.ServiceAccountName {
				fail("README: %s is %q, but the %s pods run as ServiceAccount %s", v, r.vars[v], comp, d.Spec.Template.Spec.ServiceAccountName)
			}
		}
	}
	// The grants loop over $SUBSCRIPTIONS: when it is not what the binary
	// creates, that one line is what to fix, so the grants are then checked
	// against the README's list rather than reported once per grant the loop
	// would have made.
	grantsFor := subscriptions
	if got := strings.Fields(r.vars["SUBSCRIPTIONS"]); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(subscriptions))) {
		fail("README: SUBSCRIPTIONS is %v, but capstone pubsub-setup creates %v: write\nexport SUBSCRIPTIONS=%q\n(the grants of steps 6 and 7 loop over it)", got, subscriptions, strings.Join(subscriptions, " "))
		grantsFor = got
	}
	if got := r.vars["BUILD_SA"]; strings.ReplaceAll(got, "$PROJECT_ID", "PROJECT_ID") != buildUser {
		fail("README: BUILD_SA is %q, but %s binds %s", got, deployerRBAC, buildUser)
	}

	want, err := wantGrants(gke, grantsFor)
	if err != nil {
		return append(errs, err)
	}
	got := map[grant]bool{}
	for _, g := range r.grants {
		got[g] = true
	}
	wanted := map[grant]bool{}
	for _, g := range want {
		wanted[g] = true
		if !got[g] {
			fail("README does not grant %s", g)
		}
	}
	for g := range got {
		if !wanted[g] {
			fail("README grants %s, which no identity needs", g)
		}
	}

	// What the manifests name, the README creates.
	has := func(what string, re *regexp.Regexp) {
		if !slices.ContainsFunc(r.commands, re.MatchString) {
			fail("README does not %s (no command matching %s)", what, re)
		}
	}
	for _, bc := range gke.BackendConfigs {
		if bc.Spec.SecurityPolicy == nil {
			continue
		}
		name := regexp.QuoteMeta(bc.Spec.SecurityPolicy.Name)
		has("create security policy "+bc.Spec.SecurityPolicy.Name, regexp.MustCompile(`^gcloud compute security-policies create `+name+`( |$)`))
		has("throttle /v1/auth/ per client address in "+bc.Spec.SecurityPolicy.Name, regexp.MustCompile(
			`^gcloud compute security-policies rules create \d+ --security-policy=`+name+` --expression="request\.path\.startsWith\('/v1/auth/'\)" --action=throttle .*--exceed-action=deny-429 --enforce-on-key=IP$`))
	}
	for _, ing := range gke.Ingresses {
		name := ing.Annotations["kubernetes.io/ingress.global-static-ip-name"]
		has("reserve the global address "+name, regexp.MustCompile(`^gcloud compute addresses create `+regexp.QuoteMeta(name)+` --global$`))
	}
	has("run capstone pubsub-setup", regexp.MustCompile(`^PUBSUB_PROJECT_ID=\$PROJECT_ID go run \./cmd/capstone pubsub-setup$`))
	has("apply the deployer's RBAC", regexp.MustCompile(`^sed "s/PROJECT_ID/\$PROJECT_ID/" deploy/k8s/rbac/deployer\.yaml \| kubectl apply -f -$`))
	return errs
}

// checkReadmeSetsPlaceholders runs the README's sed lines on the committed
// placeholders (the domain and the load balancer's address) in a copy of
// the tree and renders it: the certificate is then for DOMAIN, and the API
// trusts LB_IP.
func checkReadmeSetsPlaceholders(text string) []error {
	r, err := parseReadme(text)
	if err != nil {
		return []error{err}
	}
	tmp, err := os.MkdirTemp("", "capstone-readme-")
	if err != nil {
		return []error{err}
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(filepath.Join(repoRoot, "deploy", "k8s"), filepath.Join(tmp, "deploy", "k8s")); err != nil {
		return []error{err}
	}
	const domain, address = "capstone.uni.example", "34.120.1.2"
	var ran int
	for _, line := range r.commands {
		if !strings.HasPrefix(line, "sed -i ") || !strings.Contains(line, "deploy/k8s/") {
			continue
		}
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "DOMAIN="+domain, "LB_IP="+address)
		if out, err := cmd.CombinedOutput(); err != nil {
			return []error{fmt.Errorf("%s: %v: %s", line, err, out)}
		}
		ran++
	}
	out, err := render(filepath.Join(tmp, "deploy", gkeOverlay))
	if err != nil {
		return []error{err}
	}
	m, err := decode(splitDocs(out))
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, c := range m.ManagedCertificates {
		if !slices.Equal(c.Spec.Domains, []string{domain}) {
			errs = append(errs, fmt.Errorf("after the README's %d sed lines, ManagedCertificate %s is for %v, not $DOMAIN", ran, c.Name, c.Spec.Domains))
		}
	}
	api := m.deployment("capstone-api")
	if api == nil {
		return append(errs, errors.New("no capstone-api"))
	}
	vars, _, _ := containerEnv(m, &api.Spec.Template.Spec.Containers[0])
	if want := strings.Join(append(slices.Clone(gfeRanges), address), ","); vars["CAPSTONE_TRUSTED_PROXIES"] != want {
		errs = append(errs, fmt.Errorf("after the README's %d sed lines, CAPSTONE_TRUSTED_PROXIES is %q, want %q", ran, vars["CAPSTONE_TRUSTED_PROXIES"], want))
	}
	return errs
}

func readReadme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReadme(t *testing.T) {
	text := readReadme(t)
	gke := renderDecode(t, targets[1])
	for _, err := range checkReadme(text, gke, projectionSubscriptions(t)) {
		t.Error(err)
	}
	for _, err := range checkReadmeSetsPlaceholders(text) {
		t.Error(err)
	}
}

func TestReadmeChecksCatchMutations(t *testing.T) {
	text := readReadme(t)
	gke := renderDecode(t, targets[1])
	subs := projectionSubscriptions(t)
	if errs := checkReadme(text, gke, subs); len(errs) > 0 {
		t.Fatalf("fails before any mutation: %v", errs)
	}
	for _, mu := range []struct{ name, old, new, want string }{
		{"project-wide Pub/Sub editor", "gcloud projects add-iam-policy-binding \"$PROJECT_ID\" \\\n  --member=\"serviceAccount:$BUILD_SA\" --role=roles/logging.logWriter",
			"gcloud projects add-iam-policy-binding \"$PROJECT_ID\" \\\n  --member=\"serviceAccount:$BUILD_SA\" --role=roles/logging.logWriter\ngcloud projects add-iam-policy-binding \"$PROJECT_ID\" --member=\"$API\" --role=roles/pubsub.editor",
			"which no identity needs"},
		{"projector reads the JWT secret", "gcloud secrets add-iam-policy-binding capstone-jwt-secret \\\n  --member=\"$API\"", "gcloud secrets add-iam-policy-binding capstone-jwt-secret \\\n  --member=\"$PROJECTOR\"", "capstone-jwt-secret to " + workloadPrincipals + "/capstone-projector"},
		{"relay cannot publish", "for p in \"$API\" \"$RELAY\"; do\n  gcloud pubsub topics", "for p in \"$API\"; do\n  gcloud pubsub topics", "roles/pubsub.publisher on pubsub topics capstone-commits to " + workloadPrincipals + "/capstone-relay"},
		{"a subscription left out", "export SUBSCRIPTIONS=\"capstone-commits.users ", "export SUBSCRIPTIONS=\"", "SUBSCRIPTIONS"},
		{"principal in another namespace", "/subject/ns/capstone/sa\n", "/subject/ns/default/sa\n", "WI is"},
		{"principal of another ServiceAccount", "export RELAY=$WI/capstone-relay", "export RELAY=$WI/capstone", "RELAY is"},
		{"the build deploys anything", "--role=roles/container.clusterViewer", "--role=roles/container.developer", "container.developer"},
		{"dead letters stuck", "  --member=\"$PUBSUB_AGENT\" --role=roles/pubsub.publisher", "  --member=\"$PUBSUB_AGENT\" --role=roles/pubsub.viewer", "capstone-commits-dead-letter"},
		{"no throttle", "--action=throttle", "--action=allow", "throttle /v1/auth/"},
		{"another security policy", "gcloud compute security-policies create capstone-edge", "gcloud compute security-policies create capstone-waf", "create security policy capstone-edge"},
		{"address not reserved", "gcloud compute addresses create capstone-ip --global", "gcloud compute addresses create capstone-lb --global", "reserve the global address"},
		{"Pub/Sub never set up", "PUBSUB_PROJECT_ID=$PROJECT_ID go run ./cmd/capstone pubsub-setup", "PUBSUB_PROJECT_ID=$PROJECT_ID go run ./cmd/capstone pubsub-emulator", "pubsub-setup"},
		{"a loop never closed", "      --member=\"$p\" --role=roles/pubsub.viewer\n  done\ndone", "      --member=\"$p\" --role=roles/pubsub.viewer\n  done", "without done"},
	} {
		t.Run(mu.name, func(t *testing.T) {
			if !strings.Contains(text, mu.old) {
				t.Fatalf("README has no %q to mutate", mu.old)
			}
			errs := checkReadme(strings.Replace(text, mu.old, mu.new, 1), gke, subs)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), mu.want) }) {
				t.Fatalf("no error containing %q: %v", mu.want, errs)
			}
		})
	}
	t.Run("sed that misses the address", func(t *testing.T) {
		errs := checkReadmeSetsPlaceholders(strings.Replace(text, `s/,192\.0\.2\.1$/,$LB_IP/`, `s/,192\.0\.2\.2$/,$LB_IP/`, 1))
		if len(errs) == 0 {
			t.Fatal("a sed that leaves the placeholder address passed")
		}
	})
}
