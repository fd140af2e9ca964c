package capstone_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/capstone-pms/capstone/"

// allowed lists, per layer, the layers of ours it may import (the table in
// docs/architecture.md: events at the bottom, commands/projections/queries on
// it, api on those, infra implementing their ports, cmd wiring everything).
// infra does not import api: where an API port names a type of its own,
// infra keeps a type of its own and cmd converts between the two, so that
// storage never depends on the HTTP layer.
// Within events, a subpackage may import events itself: events/visibility,
// the one rule of who sees what, shared by commands and queries, is written
// in the roles and statuses that events defines (events cannot import it
// back: that would be a cycle); events/marking, the one fold of a marking,
// shared by commands, projections and queries, cuts it by that rule.
// deploy is a module of its own (deploy/go.mod) whose Go code is its tests,
// so its test files are held to its rule too. Within api, the original
// frontend's routes (api/legacy) build on the /v1 edge: its sign-in, tokens
// and settling. tools are programs that drive the service from outside (the
// load generator): they speak HTTP and the database's wire protocol, never
// the service's packages, so that a tool measures what a client sees.
//
// A key may also be a package below a layer: its rule replaces the layer's,
// and only a rule that names it may import it. So the projections' own
// package stays what the projectors run, and the work around them builds on
// it from subpackages that nothing on the read path imports: a rebuild of
// read models (projections/rebuild) runs the projections, the status across
// processes (projections/status) counts what they applied; infra implements
// their stores, cmd wires them.
var allowed = map[string][]string{
	"events":              {"events"},
	"commands":            {"events", "commands"},
	"projections":         {"events"},
	"projections/rebuild": {"events", "projections"},
	"projections/status":  {"events"},
	"queries":             {"events", "projections"},
	"api":                 {"events", "commands", "queries", "projections", "api"},
	"infra":               {"events", "commands", "queries", "projections", "projections/rebuild", "projections/status", "infra"},
	"cmd":                 {"events", "commands", "queries", "projections", "projections/rebuild", "projections/status", "api", "infra", "tools"},
	"tools":               {"tools"},
	"deploy":              {"infra"},
}

// TestImportDirection fails when a package imports a layer it must not, so
// the import direction stays as designed.
func TestImportDirection(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		layer := ruleOf(filepath.ToSlash(filepath.Dir(path)))
		if strings.HasSuffix(path, "_test.go") && layer != "deploy" {
			return nil // elsewhere a test may reach across layers to drive what it tests
		}
		rules, ok := allowed[layer]
		if !ok {
			if strings.Contains(filepath.ToSlash(path), "/") {
				t.Errorf("%s: package outside the known layers; add it to the rules", path)
			}
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			if target := ruleOf(strings.TrimPrefix(p, module)); !contains(rules, target) {
				t.Errorf("%s (layer %s) imports %s: %s may import only %v", path, layer, p, layer, rules)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: is the walk looking in the right place?", checked)
	}
}

// ruleOf is the key of allowed whose rule holds for a package (a path in the
// module): the most specific one that the package is, or is below; "" if
// none.
func ruleOf(pkg string) string {
	best := ""
	for key := range allowed {
		if (pkg == key || strings.HasPrefix(pkg, key+"/")) && len(key) > len(best) {
			best = key
		}
	}
	return best
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
