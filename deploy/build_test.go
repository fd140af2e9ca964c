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

// cloudCLI is Google's Cloud CLI image, which Cloud Build's own kubectl and
// gcloud builders are deprecated in favour of; COMPONENTS installs kubectl
// and the GKE auth plugin at the step's start.
const cloudCLI = "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable"

// deprecatedBuilders are Cloud Build images not to use any more.
var deprecatedBuilders = []string{"gcr.io/cloud-builders/kubectl", "gcr.io/cloud-builders/gke-deploy", "gcr.io/cloud-builders/gcloud"}

// renderedFile is where the render step writes the manifests it printed, and
// what the deploy step applies.
const renderedFile = "/workspace/capstone-gke.yaml"

// imageFile is where the push step writes the pushed image's digest.
const imageFile = "/workspace/image"

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
	for _, name := range []string{"_LOCATION", "_REPOSITORY", "_IMAGE", "_GKE_CLUSTER_ID"} {
		if _, ok := cb.Substitutions[name]; !ok {
			fail("substitution %s is missing", name)
		}
	}

	if cb.Options.Logging != "CLOUD_LOGGING_ONLY" {
		fail("options.logging is %q: a build with a user-managed service account needs CLOUD_LOGGING_ONLY", cb.Options.Logging)
	}

	// No secret passes through the build, and no deprecated builder runs.
	for _, s := range cb.Steps {
		if slices.Contains(deprecatedBuilders, s.Name) {
			fail("step %s runs %s, which is deprecated: use %s", s.ID, s.Name, cloudCLI)
		}
		for _, bad := range []string{"gcloud secrets", "create secret", "secretmanager"} {
			if strings.Contains(s.script(), bad) {
				fail("step %s has %q: no secret passes through the build (the pods read theirs from Secret Manager)", s.ID, bad)
			}
		}
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
	has := func(s *buildStep, what string, wants ...string) {
		for _, want := range wants {
			if !strings.Contains(s.script(), want) {
				fail("the %s step does not have %q", what, want)
			}
		}
	}
	cli := func(s *buildStep, components ...string) {
		if s.Name != cloudCLI {
			fail("step %s runs %s, want %s", s.ID, s.Name, cloudCLI)
		}
		if s.Entrypoint != "" {
			fail("step %s replaces the image's entrypoint, which installs COMPONENTS", s.ID)
		}
		var installed []string
		for _, e := range s.Env {
			if v, ok := strings.CutPrefix(e, "COMPONENTS="); ok {
				installed = strings.Fields(v)
			}
		}
		for _, c := range components {
			if !slices.Contains(installed, c) {
				fail("step %s does not install %s (env COMPONENTS)", s.ID, c)
			}
		}
	}

	// The service's tests, and this module's (deploy/ is a module of its
	// own, which the service's ./... does not reach): both gate the push.
	goTest := func(dir string) func(buildStep) bool {
		return func(s buildStep) bool {
			return strings.HasPrefix(s.Name, "golang:1.26") && s.Dir == dir && slices.Contains(s.Args, "test") && slices.Contains(s.Args, "./...")
		}
	}
	test := find("running go test ./... on golang:1.26", goTest(""))
	testDeploy := find("running go test ./... in deploy on golang:1.26", goTest("deploy"))
	build := find("building the image", func(s buildStep) bool {
		return s.Name == "gcr.io/cloud-builders/docker" && len(s.Args) > 0 && s.Args[0] == "build"
	})
	if build != nil && !slices.Contains(build.Args, "--tag="+pushedImage) {
		fail("the build step does not tag %s", pushedImage)
	}
	push := find("pushing the image and writing its digest", func(s buildStep) bool {
		return s.Name == "gcr.io/cloud-builders/docker" && strings.Contains(s.script(), "docker push")
	})
	if push != nil {
		has(push, "push", "set -euo pipefail", `docker push "`+pushedImage+`"`,
			`docker inspect --format='{{index .RepoDigests 0}}' "`+pushedImage+`" > `+imageFile)
	}
	after(push, test, testDeploy, build)
	if !slices.Equal(cb.Images, []string{pushedImage}) {
		fail("images: %v, want [%s]", cb.Images, pushedImage)
	}

	// The overlay: the digest just pushed, this project, printed.
	render := find("rendering the gke overlay", func(s buildStep) bool { return strings.Contains(s.script(), "kubectl kustomize") })
	if render != nil {
		cli(render, "kubectl")
		if render.Dir != deployDir {
			fail("the render step runs in %q, want %q", render.Dir, deployDir)
		}
		has(render, "render", "set -euo pipefail", `image="$$(cat `+imageFile+`)"`,
			`"${_LOCATION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/${_IMAGE}@sha256:"*) ;;`,
			"kubectl kustomize . > "+renderedFile, "cat "+renderedFile)
		// Run the step's sed lines, as Cloud Build would, on a copy of the
		// tree with the image the push step would have written, and render:
		// the pods must run that digest, in the build's project.
		script := substitute(render.script(), cb.Substitutions)
		image := strings.TrimSuffix(substitute(pushedImage, cb.Substitutions), ":"+buildCommit) + "@" + buildDigest
		for _, err := range checkPlaceholders(script, render.Dir, image) {
			fail("the render step: %v", err)
		}
		for _, err := range checkPlaceholderGuard(script, gke) {
			fail("the render step: %v", err)
		}
		after(render, push)
	}

	deploy := find("applying what the render step printed", func(s buildStep) bool { return strings.Contains(s.script(), "kubectl apply") })
	if deploy != nil {
		cli(deploy, "kubectl", "google-cloud-cli-gke-gcloud-auth-plugin")
		has(deploy, "deploy", "set -euo pipefail",
			`gcloud container clusters get-credentials "${_GKE_CLUSTER_ID}" --location="${_LOCATION}" --project="$PROJECT_ID"`)
		if !regexp.MustCompile(`(?m)^kubectl apply -f ` + regexp.QuoteMeta(renderedFile) + `$`).MatchString(deploy.script()) {
			fail("the deploy step does not apply exactly %s, the file the render step printed", renderedFile)
		}
		if strings.Contains(deploy.script(), "apply -k") || strings.Contains(deploy.script(), "kustomize") {
			fail("the deploy step renders the overlay again: it must apply what the render step printed")
		}
		for _, d := range gke.Deployments {
			if !strings.Contains(deploy.script(), "kubectl -n "+d.Namespace+" rollout status deployment/"+d.Name+" ") {
				fail("the deploy step does not wait for the rollout of Deployment %s", d.Name)
			}
		}
	}
	after(deploy, test, testDeploy, push, render)
	return errs
}

// buildProject, buildCommit and buildDigest stand for $PROJECT_ID,
// $COMMIT_SHA and the digest of the pushed image.
const (
	buildProject = "capstone-test-123"
	buildCommit  = "0123456789abcdef0123456789abcdef01234567"
	buildDigest  = "sha256:abababababababababababababababababababababababababababababababab"
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

// checkPlaceholders runs the sed lines of the render step's (substituted)
// script in dir of a copy of deploy/k8s, with $image set as the push step
// would have left it, renders it and checks that every container runs that
// image and that no PROJECT_ID placeholder is left: PUBSUB_PROJECT_ID and the
// Secret Manager references name the build's project.
func checkPlaceholders(script, dir, image string) []error {
	tmp, err := os.MkdirTemp("", "capstone-render-step-")
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
		cmd.Env = append(os.Environ(), "image="+image)
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
	for i := range m.Deployments {
		for _, c := range containers(&m.Deployments[i]) {
			if c.Image != image {
				errs = append(errs, fmt.Errorf("%s/%s runs %s, not the image just pushed, by digest (%s)", m.Deployments[i].Name, c.Name, c.Image, image))
			}
			for _, e := range c.Env {
				if sm := smReference.FindStringSubmatch(e.Value); sm != nil && sm[1] != buildProject {
					errs = append(errs, fmt.Errorf("%s/%s: %s is read from project %q, not the build's project %s", m.Deployments[i].Name, c.Name, e.Name, sm[1], buildProject))
				}
			}
		}
	}
	for _, cm := range m.ConfigMaps {
		if v := cm.Data["PUBSUB_PROJECT_ID"]; v != buildProject {
			errs = append(errs, fmt.Errorf("ConfigMap %s: PUBSUB_PROJECT_ID is %q, want the build's project %s", cm.Name, v, buildProject))
		}
	}
	return errs
}

// guardLine is the render step's refusal of the values a reader must set.
var guardLine = regexp.MustCompile(`(?m)^\s*if grep -nE '([^']+)' ` + regexp.QuoteMeta(renderedFile) + `; then$`)

// checkPlaceholderGuard: the render step refuses to go on while the
// committed placeholders for the domain and the load balancer's address are
// in the rendering (a certificate for a domain nobody owns, and every client
// seen with the load balancer's address), and lets real values through.
func checkPlaceholderGuard(script string, gke *manifest) []error {
	sm := guardLine.FindStringSubmatch(script)
	if sm == nil || !strings.Contains(script[strings.Index(script, sm[0]):], "exit 1") {
		return []error{fmt.Errorf("no `if grep -nE '...' %s; then ... exit 1` refusing the placeholders", renderedFile)}
	}
	guard, err := regexp.Compile(sm[1])
	if err != nil {
		return []error{fmt.Errorf("the guard's pattern %q: %w", sm[1], err)}
	}
	var placeholders []string
	for _, c := range gke.ManagedCertificates {
		placeholders = append(placeholders, c.Spec.Domains...)
	}
	for i := range gke.Deployments {
		for _, c := range gke.Deployments[i].Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Name != "CAPSTONE_TRUSTED_PROXIES" {
					continue
				}
				for _, p := range strings.Split(e.Value, ",") {
					if !slices.Contains(gfeRanges, strings.TrimSpace(p)) {
						placeholders = append(placeholders, "value: "+e.Value)
					}
				}
			}
		}
	}
	var errs []error
	if len(placeholders) < 2 {
		errs = append(errs, fmt.Errorf("found %d placeholders (domain, load balancer address) in the gke rendering, want both", len(placeholders)))
	}
	for _, p := range placeholders {
		if !guard.MatchString(p) {
			errs = append(errs, fmt.Errorf("the guard %q lets the committed placeholder %q through", sm[1], p))
		}
	}
	for _, real := range []string{"capstone.uni.example", "value: 130.211.0.0/22,35.191.0.0/16,34.120.1.2", "value: 130.211.0.0/22,35.191.0.0/16,192.0.2.10"} {
		if guard.MatchString(real) {
			errs = append(errs, fmt.Errorf("the guard %q refuses a real value %q", sm[1], real))
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

var distrolessNonroot = regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot@`)

// pinned is an image reference with a tag, for the reader, and a digest,
// which decides the image.
var pinned = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9_.-]+@sha256:[a-f0-9]{64}$`)

// noPostgres is the build tag that leaves FerretDB's PostgreSQL backend
// (and its driver) out of the binary: the service runs the embedded store
// on SQLite or talks to MongoDB, so that code is never run, yet its pages
// are mapped and, read in around the code that runs, resident in every
// process (some 1.5 MiB of a serve process's RSS).
const noPostgres = "ferretdb_no_postgresql"

// TestBuildTagLeavesOutPostgres: built with the Dockerfile's tag, the
// binary links no PostgreSQL driver (without it, it does: the check can
// fail).
func TestBuildTagLeavesOutPostgres(t *testing.T) {
	pgx := func(tags ...string) bool {
		args := append([]string{"list", "-deps"}, tags...)
		cmd := exec.Command("go", append(args, "./cmd/capstone")...)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %v: %v", args, err)
		}
		return strings.Contains(string(out), "github.com/jackc/pgx")
	}
	if !pgx() {
		t.Fatal("without the tag the binary links no PostgreSQL driver either: the check says nothing")
	}
	if pgx("-tags", noPostgres) {
		t.Fatalf("built with -tags %s, the binary still links a PostgreSQL driver", noPostgres)
	}
}

// checkDockerfile: a golang:1.26 build of a static binary, a distroless
// static nonroot runtime that runs it as nonroot and listens on port, both
// base images pinned by digest.
func checkDockerfile(text string, port int32) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	stages := parseDockerfile(text)
	if len(stages) < 2 {
		return []error{fmt.Errorf("want a multi-stage build, have %d stage(s)", len(stages))}
	}
	if !strings.HasPrefix(stages[0].image, "golang:1.26@") {
		fail("the build stage is %q, want golang:1.26", stages[0].image)
	}
	for _, st := range stages {
		if !pinned.MatchString(st.image) {
			fail("FROM %s is not pinned by digest (IMAGE:TAG@sha256:DIGEST): a tag can move to another image between two builds", st.image)
		}
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
				for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-ldflags='-s -w'", "-tags " + noPostgres, "./cmd/capstone"} {
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
