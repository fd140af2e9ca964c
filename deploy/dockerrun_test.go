package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/infra/config"
)

// dockerRun is a `docker run` command line, as the docs give it.
type dockerRun struct {
	where   string
	ports   []string // -p HOST:CONTAINER
	volumes []string // -v SOURCE:TARGET
	env     map[string]string
	image   string
	args    []string // after the image: they replace CMD
}

// dockerRuns finds every `docker run` in text (a Markdown file's code or a
// Dockerfile's comments), joining continued lines and unquoting like a shell.
func dockerRuns(t *testing.T, where, text string) []dockerRun {
	t.Helper()
	var out []dockerRun
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(lines[i]), "#"))
		if !strings.HasPrefix(line, "docker run ") {
			continue
		}
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(lines[i]), "#"))
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i] // a trailing comment
		}
		words := shellWords(line)[2:]
		r := dockerRun{where: fmt.Sprintf("%s: %s", where, line), env: map[string]string{}}
		for len(words) > 0 && strings.HasPrefix(words[0], "-") {
			flag, words0 := words[0], words[1:]
			switch flag {
			case "--rm", "-d", "-it":
				words = words0
				continue
			}
			if len(words0) == 0 {
				t.Fatalf("%s: %s has no value", r.where, flag)
			}
			switch flag {
			case "-p":
				r.ports = append(r.ports, words0[0])
			case "-v":
				r.volumes = append(r.volumes, words0[0])
			case "-e":
				k, v, _ := strings.Cut(words0[0], "=")
				r.env[k] = v
			default:
				t.Fatalf("%s: unexpected docker run flag %s", r.where, flag)
			}
			words = words0[1:]
		}
		if len(words) == 0 {
			t.Fatalf("%s: no image", r.where)
		}
		r.image, r.args = words[0], words[1:]
		out = append(out, r)
	}
	return out
}

// TestDockerRunAsWritten: every `docker run` the docs give works as written
// with the image the Dockerfile builds (checked by reading both, as docker
// cannot run here): the image is the one the docs build, the arguments and
// environment parse as serve's settings, a first coordinator is created (by
// the bootstrap variables or the demo), the published port is the one serve
// listens on, and the data dir is on a named volume, which Docker fills with
// the image's data dir owned by the non-root user the image runs as.
func TestDockerRunAsWritten(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(string(raw))
	final := stages[len(stages)-1]
	imageEnv, user := map[string]string{}, ""
	var entrypoint, cmd []string
	var dataOwned []string // the targets of COPY --chown=65532:65532
	for _, in := range final.instructions {
		switch in.cmd {
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				imageEnv[k] = v
			}
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			_ = json.Unmarshal([]byte(in.args), &entrypoint)
		case "CMD":
			_ = json.Unmarshal([]byte(in.args), &cmd)
		case "COPY":
			if f := strings.Fields(in.args); strings.Contains(in.args, "--chown=65532:65532") {
				dataOwned = append(dataOwned, f[len(f)-1])
			}
		}
	}
	if user != "nonroot:nonroot" && user != "65532:65532" || len(entrypoint) != 1 || entrypoint[0] != "/capstone" {
		t.Fatalf("the image runs %v as %q: this test reads the Dockerfile as running /capstone as nonroot", entrypoint, user)
	}
	var runs []dockerRun
	for _, f := range []string{"README.md", "deploy/README.md", "Dockerfile"} {
		text, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), "docker build -t capstone:dev") && f != "Dockerfile" && strings.Contains(string(text), "docker run") {
			t.Errorf("%s runs an image it does not say how to build", f)
		}
		runs = append(runs, dockerRuns(t, f, string(text))...)
	}
	if len(runs) == 0 {
		t.Fatal("no docker run in the docs")
	}
	for _, r := range runs {
		if r.image != "capstone:dev" {
			t.Errorf("%s: image %s, want capstone:dev (what docker build -t makes)", r.where, r.image)
		}
		args := r.args
		if len(args) == 0 {
			args = cmd
		}
		if len(args) == 0 || args[0] != "serve" {
			t.Errorf("%s: runs %v, want serve", r.where, args)
			continue
		}
		env := map[string]string{}
		for k, v := range imageEnv {
			env[k] = v
		}
		for k, v := range r.env {
			env[k] = v
		}
		cfg, err := config.ParseServe(args[1:], func(k string) string { return env[k] }, io.Discard)
		if err == nil {
			err = cfg.CheckSecrets()
		}
		if err != nil {
			t.Errorf("%s: serve refuses its settings: %v", r.where, err)
			continue
		}
		if cfg.BootstrapEmail == "" && !cfg.Demo {
			t.Errorf("%s: no way to sign in: set CAPSTONE_BOOTSTRAP_EMAIL and CAPSTONE_BOOTSTRAP_PASSWORD (or serve --demo)", r.where)
		}
		_, port, _ := net.SplitHostPort(cfg.Addr)
		published := false
		for _, p := range r.ports {
			published = published || strings.HasSuffix(p, ":"+port)
		}
		if !published {
			t.Errorf("%s: publishes %v, but serve listens on %s", r.where, r.ports, cfg.Addr)
		}
		mounted := false
		for _, v := range r.volumes {
			src, dst, _ := strings.Cut(v, ":")
			if dst != cfg.DataDir {
				continue
			}
			mounted = true
			if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`).MatchString(src) {
				t.Errorf("%s: %s is mounted from the host directory %s, which the image's user (65532) cannot write; use a named volume", r.where, dst, src)
			}
		}
		if !mounted {
			t.Errorf("%s: the data dir %s is not on a volume: the data is lost with the container", r.where, cfg.DataDir)
		}
		owned := false
		for _, d := range dataOwned {
			owned = owned || strings.TrimSuffix(d, "/") == cfg.DataDir
		}
		if !owned {
			t.Errorf("%s: the image does not give %s to the user it runs as (COPY --chown=65532:65532 ... %s): a named volume would copy root's", r.where, cfg.DataDir, cfg.DataDir)
		}
	}
}
