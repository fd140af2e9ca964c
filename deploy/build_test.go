package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/types"
)

// cloudBuild is the part of Cloud Build's build configuration that
// cloudbuild.yaml uses; decoding is strict, so a misspelt or unsupported field
// fails the test instead of the build.
type cloudBuild struct {
	Steps         []buildStep       `json:"steps"`
	Substitutions map[string]string `json:"substitutions"`
	Images        []string          `json:"images"`
	Options       struct {
		Logging     string `json:"logging"`
		MachineType string `json:"machineType,omitempty"`
	} `json:"options"`
	Timeout string `json:"timeout,omitempty"`
}

type buildStep struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Entrypoint string   `json:"entrypoint,omitempty"`
	Args       []string `json:"args,omitempty"`
	Env        []string `json:"env,omitempty"`
	Dir        string   `json:"dir,omitempty"`
	WaitFor    []string `json:"waitFor,omitempty"`
	Timeout    string   `json:"timeout,omitempty"`
}

func (s buildStep) script() string { return strings.Join(s.Args, "\n") }

// builtinSubstitutions are those Cloud Build provides itself.
var builtinSubstitutions = []string{
	"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "TRIGGER_NAME", "TRIGGER_BUILD_CONFIG_PATH",
	"COMMIT_SHA", "SHORT_SHA", "REVISION_ID", "BRANCH_NAME", "TAG_NAME", "REF_NAME", "REPO_NAME",
	"REPO_FULL_NAME", "SERVICE_ACCOUNT", "SERVICE_ACCOUNT_EMAIL",
}

// dollar matches what Cloud Build substitutes: $$ (a literal $), ${NAME},
// $NAME, or a $ followed by anything else.
var dollar = regexp.MustCompile(`\$(\$|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|.?)`)

// pushedImage is where cloudbuild.yaml pushes the image.
const pushedImage = "${_LOCATION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/${_IMAGE}:$COMMIT_SHA"

const deployDir = "deploy/" + gkeOverlay

// checkCloudBuild checks cloudbuild.yaml, and that it fits the gke rendering.
func checkCloudBuild(data []byte, gke *manifest) []error {
	var cb cloudBuild
	if err := strictUnmarshal(data, &cb); err != nil {
		return []error{fmt.Errorf("cloudbuild.yaml does not decode strictly: %w", err)}
	}
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	// Substitutions: every ${_X} used is declared, every one declared is
	// used (Cloud Build refuses both), and a shell's own $ is written $$.
	var texts []string
	for _, s := range cb.Steps {
		texts = append(texts, s.Name, s.Entrypoint, s.Dir)
		texts = append(texts, s.Args...)
		texts = append(texts, s.Env...)
	}
	texts = append(texts, cb.Images...)
	used := map[string]bool{}
	for _, text := range texts {
		for _, ix := range dollar.FindAllStringSubmatchIndex(text, -1) {
			sub := func(i int) string {
				if ix[2*i] < 0 {
					return ""
				}
				return text[ix[2*i]:ix[2*i+1]]
			}
			name := sub(2) + sub(3)
			switch {
			case sub(1) == "$":
			case name == "":
				fail("%q: a bare %q; write $$ for a shell's $", lineAt(text, ix[0]), sub(0))
			case strings.HasPrefix(name, "_"):
				used[name] = true
				if _, ok := cb.Substitutions[name]; !ok {
					fail("${%s} is used but not declared under substitutions", name)
				}
			case !slices.Contains(builtinSubstitutions, name):
				fail("$%s in %q is not a Cloud Build substitution: a shell variable is written $$%s", name, lineAt(text, ix[0]), name)
			}
		}
	}
	for name, value := range cb.Substitutions {
		if !regexp.MustCompile(`^_[A-Z0-9_]+$`).MatchString(name) {
			fail("substitution %s: user substitutions are _UPPER_CASE", name)
		}
		if !used[name] {
			fail("substitution %s is declared but not used", name)
		}
		if value == "" {
			fail("substitution %s has no default", name)
		}
	}
	for _, name := range []string{"_LOCATION", "_REPOSITORY", "_IMAGE", "_GKE_CLUSTER_ID", "_MONGO_SECRET", "_MONGO_SECRET_VERSION", "_JWT_SECRET", "_JWT_SECRET_VERSION"} {
		if _, ok := cb.Substitutions[name]; !ok {
			fail("substitution %s is missing", name)
		}
	}

	if cb.Options.Logging != "CLOUD_LOGGING_ONLY" {
		fail("options.logging is %q: a build with a user-managed service account needs CLOUD_LOGGING_ONLY", cb.Options.Logging)
	}

	// Steps and what each waits for (no waitFor: every earlier step; "-": none).
	deps := map[string]map[string]bool{}
	var ids []string
	for _, s := range cb.Steps {
		if s.ID == "" || slices.Contains(ids, s.ID) {
			fail("step %q: every step needs a unique id", s.ID)
			continue
		}
		d := map[string]bool{}
		switch {
		case len(s.WaitFor) == 0:
			for _, id := range ids {
				d[id] = true
			}
		case slices.Equal(s.WaitFor, []string{"-"}):
		default:
			for _, w := range s.WaitFor {
				if !slices.Contains(ids, w) {
					fail("step %s waits for %q, which is not an earlier step", s.ID, w)
				}
				d[w] = true
			}
		}
		for w := range d {
			for ww := range deps[w] {
				d[ww] = true
			}
		}
		deps[s.ID] = d
		ids = append(ids, s.ID)
	}
	find := func(what string, match func(buildStep) bool) *buildStep {
		for i := range cb.Steps {
			if match(cb.Steps[i]) {
				return &cb.Steps[i]
			}
		}
		fail("no step %s", what)
		return nil
	}
	after := func(s *buildStep, earlier ...*buildStep) {
		for _, e := range earlier {
			if s != nil && e != nil && !deps[s.ID][e.ID] {
				fail("step %s does not wait for step %s", s.ID, e.ID)
			}
		}
	}

	test := find("running go test ./... on golang:1.26", func(s buildStep) bool {
		return strings.HasPrefix(s.Name, "golang:1.26") && slices.Contains(s.Args, "test") && slices.Contains(s.Args, "./...")
	})
	build := find("building the image", func(s buildStep) bool {
		return s.Name == "gcr.io/cloud-builders/docker" && len(s.Args) > 0 && s.Args[0] == "build"
	})
	if build != nil && !slices.Contains(build.Args, "--tag="+pushedImage) {
		fail("the build step does not tag %s", pushedImage)
	}
	push := find("pushing the image", func(s buildStep) bool {
		return s.Name == "gcr.io/cloud-builders/docker" && slices.Equal(s.Args, []string{"push", pushedImage})
	})
	after(push, test, build)
	if !slices.Equal(cb.Images, []string{pushedImage}) {
		fail("images: %v, want [%s]", cb.Images, pushedImage)
	}

	// The Secret: from Secret Manager into capstone-secrets, every key the
	// Deployments read, and nothing printed.
	secrets := find("creating the Secret", func(s buildStep) bool { return strings.Contains(s.script(), "create secret generic") })
	if secrets != nil {
		script := secrets.script()
		for _, want := range []string{
			`gcloud secrets versions access "${_MONGO_SECRET_VERSION}" --secret="${_MONGO_SECRET}"`,
			`gcloud secrets versions access "${_JWT_SECRET_VERSION}" --secret="${_JWT_SECRET}"`,
			"-n " + namespace + " create secret generic " + secretName,
			"--dry-run=client -o yaml",
			"| kubectl apply",
			"set -euo pipefail",
		} {
			if !strings.Contains(script, want) {
				fail("the secrets step does not have %q", want)
			}
		}
		for _, d := range gke.Deployments {
			for _, c := range containers(&d) {
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !strings.Contains(script, "--from-file="+e.ValueFrom.SecretKeyRef.Key+"=") {
						fail("%s reads key %s of %s, which the secrets step does not set", d.Name, e.ValueFrom.SecretKeyRef.Key, e.ValueFrom.SecretKeyRef.Name)
					}
				}
			}
		}
		if strings.Contains(script, "set -x") || strings.Contains(script, "xtrace") {
			fail("the secrets step traces its commands: the secret values would be in the build log")
		}
		after(secrets, test)
	}

	// The overlay: the image just pushed, the project's Google service account.
	kz := find("setting the image with kustomize edit", func(s buildStep) bool { return strings.Contains(s.script(), "kustomize edit set image") })
	if kz != nil {
		script := kz.script()
		if kz.Dir != deployDir {
			fail("the kustomize step runs in %q, want %q", kz.Dir, deployDir)
		}
		k, err := readKustomization(filepath.Join(repoRoot, kz.Dir))
		if err != nil {
			fail("%v", err)
		} else {
			var names []string
			for _, img := range k.Images {
				names = append(names, img.Name)
			}
			if len(names) == 0 || !strings.Contains(script, "kustomize edit set image "+names[0]+"="+pushedImage) {
				fail("the kustomize step does not set image %v of %s to %s", names, kz.Dir, pushedImage)
			}
		}
		// Run the step's sed lines, as Cloud Build would, on a copy of the
		// tree, and render: no placeholder may be left, and the project must
		// land where the pods read it.
		for _, err := range checkPlaceholders(substitute(script, cb.Substitutions), kz.Dir) {
			fail("the kustomize step: %v", err)
		}
		after(kz, push)
	}

	deploy := find("applying the gke overlay", func(s buildStep) bool {
		return s.Name == "gcr.io/cloud-builders/kubectl" && slices.Equal(s.Args, []string{"apply", "-k", deployDir})
	})
	if deploy != nil {
		for _, want := range []string{"CLOUDSDK_COMPUTE_REGION=${_LOCATION}", "CLOUDSDK_CONTAINER_CLUSTER=${_GKE_CLUSTER_ID}"} {
			if !slices.Contains(deploy.Env, want) {
				fail("the deploy step's env has no %s", want)
			}
		}
	}
	after(deploy, test, push, secrets, kz)

	rollout := find("waiting for the rollout", func(s buildStep) bool { return strings.Contains(s.script(), "rollout status") })
	if rollout != nil {
		for _, d := range gke.Deployments {
			if !strings.Contains(rollout.script(), "-n "+d.Namespace+" rollout status deployment/"+d.Name) {
				fail("the rollout step does not wait for Deployment %s", d.Name)
			}
		}
	}
	after(rollout, deploy)
	return errs
}

// buildProject and buildCommit stand for $PROJECT_ID and $COMMIT_SHA.
const (
	buildProject = "capstone-test-123"
	buildCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// substitute does what Cloud Build does to a step's text: $$ becomes $, and
// $PROJECT_ID, $COMMIT_SHA and the user substitutions their values.
func substitute(text string, subs map[string]string) string {
	return dollar.ReplaceAllStringFunc(text, func(match string) string {
		sm := dollar.FindStringSubmatch(match)
		name := sm[2] + sm[3]
		switch {
		case sm[1] == "$":
			return "$"
		case name == "PROJECT_ID":
			return buildProject
		case name == "COMMIT_SHA":
			return buildCommit
		case strings.HasPrefix(name, "_"):
			if v, ok := subs[name]; ok {
				return v
			}
		}
		return match
	})
}

// checkPlaceholders runs the sed lines of the kustomize step's (substituted)
// script in dir of a copy of deploy/k8s, renders it and checks that no
// PROJECT_ID placeholder is left: the Workload Identity annotation names a
// service account of the build's project and PUBSUB_PROJECT_ID is that
// project.
func checkPlaceholders(script, dir string) []error {
	tmp, err := os.MkdirTemp("", "capstone-kustomize-step-")
	if err != nil {
		return []error{err}
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(filepath.Join(repoRoot, "deploy", "k8s"), filepath.Join(tmp, "deploy", "k8s")); err != nil {
		return []error{err}
	}
	overlay := filepath.Join(tmp, dir)
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "sed ") {
			continue
		}
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = overlay
		if out, err := cmd.CombinedOutput(); err != nil {
			return []error{fmt.Errorf("%s: %v: %s", line, err, out)}
		}
	}
	out, err := render(overlay)
	if err != nil {
		return []error{fmt.Errorf("kustomize build after the sed: %w", err)}
	}
	var errs []error
	if text := strings.ReplaceAll(string(out), "PUBSUB_PROJECT_ID", ""); strings.Contains(text, projectPlaceholder) {
		errs = append(errs, fmt.Errorf("the placeholder %s is left in the rendering: %q", projectPlaceholder, lineAt(text, strings.Index(text, projectPlaceholder))))
	}
	m, err := decode(splitDocs(out))
	if err != nil {
		return append(errs, err)
	}
	for _, sa := range m.ServiceAccounts {
		gsa := sa.Annotations["iam.gke.io/gcp-service-account"]
		if sm := workloadIdentity.FindStringSubmatch(gsa); sm == nil || sm[1] != buildProject {
			errs = append(errs, fmt.Errorf("ServiceAccount %s: Workload Identity %q is not in the build's project %s", sa.Name, gsa, buildProject))
		}
	}
	for _, cm := range m.ConfigMaps {
		if v := cm.Data["PUBSUB_PROJECT_ID"]; v != buildProject {
			errs = append(errs, fmt.Errorf("ConfigMap %s: PUBSUB_PROJECT_ID is %q, want the build's project %s", cm.Name, v, buildProject))
		}
	}
	return errs
}

// copyTree copies the regular files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// lineAt is the line of s around offset i.
func lineAt(s string, i int) string {
	start := strings.LastIndex(s[:i], "\n") + 1
	end := strings.Index(s[i:], "\n")
	if end < 0 {
		return strings.TrimSpace(s[start:])
	}
	return strings.TrimSpace(s[start : i+end])
}

func readKustomization(dir string) (*types.Kustomization, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k types.Kustomization
	if err := strictUnmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	return &k, nil
}

func TestCloudBuild(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "cloudbuild.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkCloudBuild(data, renderDecode(t, targets[1])) {
		t.Error(err)
	}
}

// --- Dockerfile -------------------------------------------------------------

type instruction struct{ cmd, args string }

type stage struct {
	image        string
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions, joining
// continuation lines and dropping comments.
func parseDockerfile(text string) []stage {
	var stages []stage
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, l := range logical {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			var image string
			for _, f := range strings.Fields(in.args) {
				if !strings.HasPrefix(f, "--") {
					image = f
					break
				}
			}
			stages = append(stages, stage{image: image})
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	return stages
}

var distrolessNonroot = regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot$`)

// checkDockerfile: a golang:1.26 build of a static binary, a distroless
// static nonroot runtime that runs it as nonroot and listens on port.
func checkDockerfile(text string, port int32) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	stages := parseDockerfile(text)
	if len(stages) < 2 {
		return []error{fmt.Errorf("want a multi-stage build, have %d stage(s)", len(stages))}
	}
	if !strings.HasPrefix(stages[0].image, "golang:1.26") {
		fail("the build stage is %q, want golang:1.26", stages[0].image)
	}
	final := stages[len(stages)-1]
	if !distrolessNonroot.MatchString(final.image) {
		fail("the runtime image is %q, want gcr.io/distroless/static-debian12:nonroot", final.image)
	}
	var built, cached bool
	for _, s := range stages[:len(stages)-1] {
		for _, in := range s.instructions {
			if in.cmd != "RUN" {
				continue
			}
			cached = cached || strings.Contains(in.args, "--mount=type=cache")
			if strings.Contains(in.args, "go build") {
				built = true
				for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags='-s -w'", "./cmd/capstone"} {
					if !strings.Contains(in.args, want) {
						fail("the go build has no %s", want)
					}
				}
			}
		}
	}
	if !built {
		fail("no RUN go build in the build stage")
	}
	if !cached {
		fail("no cache mount for the module and build caches")
	}
	last := map[string]string{}
	for _, in := range final.instructions {
		last[in.cmd] = in.args
		if in.cmd == "RUN" {
			fail("RUN in the runtime stage: distroless has no shell")
		}
	}
	if u := last["USER"]; !slices.Contains([]string{"nonroot", "nonroot:nonroot", "65532", "65532:65532"}, u) {
		fail("the runtime USER is %q, want nonroot (65532)", u)
	}
	if e := last["ENTRYPOINT"]; e != `["/capstone"]` {
		fail("ENTRYPOINT is %s, want [\"/capstone\"]", e)
	}
	if c := last["CMD"]; c != `["serve"]` {
		fail("CMD is %s, want [\"serve\"]", c)
	}
	if !slices.Contains(strings.Fields(last["EXPOSE"]), fmt.Sprint(port)) {
		fail("EXPOSE %q does not include the container port %d", last["EXPOSE"], port)
	}
	return errs
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := renderDecode(t, targets[1])
	port, _ := portNamed(&m.deployment("capstone-api").Spec.Template.Spec.Containers[0], "http")
	for _, err := range checkDockerfile(string(data), port) {
		t.Error(err)
	}
}

func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for _, want := range []string{".git", "data", "deploy"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd", "*.go", "infra"} {
		if slices.Contains(lines, keep) {
			t.Errorf(".dockerignore excludes %s, which the build needs", keep)
		}
	}
}
