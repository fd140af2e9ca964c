package deploy

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/capstone-pms/capstone/infra/config"
)

// legacyComponent serves the original frontend's routes on a second port
// of the API (README.md, "Keeping the original frontend").
const legacyComponent = "k8s/components/legacy-frontend"

// withLegacy renders an overlay with the legacy-frontend component added,
// as an overlay that keeps the original frontend would.
func withLegacy(t *testing.T, tg target) *manifest {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string { // kustomize takes no absolute roots
		a, err := filepath.Abs(p)
		if err == nil {
			a, err = filepath.Rel(dir, a)
		}
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n",
		rel(tg.dir(t)), rel(legacyComponent))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := render(dir)
	if err != nil {
		t.Fatalf("kustomize build of %s with %s: %v", tg.name, legacyComponent, err)
	}
	m, err := decode(splitDocs(out))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLegacyFrontendComponent: each overlay with the component passes every
// check the overlays pass, and the API pods serve the original routes on
// the port the Service names legacy; without it, they do not.
func TestLegacyFrontendComponent(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			m := withLegacy(t, tg)
			env := newCheckEnv(t, tg)
			for _, c := range append(checks, check{"legacy", checkLegacy}) {
				for _, err := range c.fn(m, env) {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			for _, err := range checkLegacyOff(renderDecode(t, tg), env) {
				t.Errorf("without the component: %v", err)
			}
		})
	}
}

// checkLegacy: the API container, as the binary reads its settings, serves
// the original routes on its port named legacy, which the capstone-api
// Service exposes under that name; no other Deployment serves them.
func checkLegacy(m *manifest, _ checkEnv) []error {
	var errs []error
	served := false
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range d.Spec.Template.Spec.Containers {
			vars, fromSecret, _ := containerEnv(m, &c)
			for name := range fromSecret {
				vars[name] = placeholder(name)
			}
			if vars["CAPSTONE_LEGACY_ADDR"] == "" {
				continue
			}
			if d.Name != "capstone-api" {
				errs = append(errs, fmt.Errorf("%s/%s serves the original routes: only the API does", d.Name, c.Name))
				continue
			}
			cfg, err := config.ParseServe(nil, func(k string) string { return vars[k] }, io.Discard)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: the binary would refuse these settings: %w", d.Name, c.Name, err))
				continue
			}
			_, port, err := net.SplitHostPort(cfg.Legacy.Addr)
			want, ok := portNamed(&c, "legacy")
			if err != nil || !ok || port != strconv.Itoa(int(want)) {
				errs = append(errs, fmt.Errorf("%s/%s: the original routes on %q, but the container port named legacy is %d", d.Name, c.Name, cfg.Legacy.Addr, want))
			}
			served = true
		}
	}
	if !served {
		errs = append(errs, fmt.Errorf("no container serves the original routes (CAPSTONE_LEGACY_ADDR)"))
	}
	exposed := false
	for _, s := range m.Services {
		for _, p := range s.Spec.Ports {
			if p.Name == "legacy" {
				exposed = s.Name == "capstone-api" && p.TargetPort.String() == "legacy"
			}
		}
	}
	if !exposed {
		errs = append(errs, fmt.Errorf("the Service capstone-api has no port legacy targeting the API's port of that name"))
	}
	return errs
}

// checkLegacyOff: without the component, nothing serves the original routes.
func checkLegacyOff(m *manifest, _ checkEnv) []error {
	var errs []error
	for i := range m.Deployments {
		d := &m.Deployments[i]
		for _, c := range d.Spec.Template.Spec.Containers {
			vars, _, _ := containerEnv(m, &c)
			if _, ok := portNamed(&c, "legacy"); ok || vars["CAPSTONE_LEGACY_ADDR"] != "" {
				errs = append(errs, fmt.Errorf("%s/%s serves the original routes", d.Name, c.Name))
			}
		}
	}
	return errs
}

// TestLegacyCheckCatches: checkLegacy fails on each way the wiring can
// break, so TestLegacyFrontendComponent can fail.
func TestLegacyCheckCatches(t *testing.T) {
	tg := targets[0]
	env := newCheckEnv(t, tg)
	api := func(m *manifest) *corev1.Container {
		for i := range m.Deployments {
			if m.Deployments[i].Name == "capstone-api" {
				return &m.Deployments[i].Spec.Template.Spec.Containers[0]
			}
		}
		t.Fatal("no capstone-api Deployment")
		return nil
	}
	for name, mutate := range map[string]func(m *manifest){
		"the routes on another port than the container's": func(m *manifest) {
			c := api(m)
			for i := range c.Env {
				if c.Env[i].Name == "CAPSTONE_LEGACY_ADDR" {
					c.Env[i].Value = ":5001"
				}
			}
		},
		"no Service port": func(m *manifest) {
			for i := range m.Services {
				m.Services[i].Spec.Ports = m.Services[i].Spec.Ports[:1]
			}
		},
		"the projectors told to serve them": func(m *manifest) {
			for i := range m.Deployments {
				if m.Deployments[i].Name == "capstone-projector" {
					c := &m.Deployments[i].Spec.Template.Spec.Containers[0]
					c.Env = append(c.Env, corev1.EnvVar{Name: "CAPSTONE_LEGACY_ADDR", Value: ":5000"})
				}
			}
		},
		"not served at all": func(m *manifest) {
			c := api(m)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "CAPSTONE_LEGACY_ADDR" })
		},
	} {
		m := withLegacy(t, tg)
		if errs := checkLegacy(m, env); len(errs) > 0 {
			t.Fatalf("fails before the mutation: %v", errs)
		}
		mutate(m)
		if len(checkLegacy(m, env)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	m := withLegacy(t, tg)
	if len(checkLegacyOff(m, env)) == 0 {
		t.Error("checkLegacyOff does not see the component's wiring")
	}
}
