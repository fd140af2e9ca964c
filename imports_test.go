package capstone_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/tools/loadgen"
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
//
// internal holds the helpers that know nothing of the domain and that more
// than one layer needs (the backoff after a lost race, taking queued work
// together): it imports nothing of ours, and every layer of the service may
// import it, so that each such thing is written once.
var allowed = map[string][]string{
	"internal":            {},
	"events":              {"events", "internal"},
	"commands":            {"events", "commands", "internal"},
	"projections":         {"events", "internal"},
	"projections/rebuild": {"events", "projections", "internal"},
	"projections/status":  {"events", "internal"},
	"queries":             {"events", "projections", "internal"},
	"api":                 {"events", "commands", "queries", "projections", "api", "internal"},
	"infra":               {"events", "commands", "queries", "projections", "projections/rebuild", "projections/status", "infra", "internal"},
	"cmd":                 {"events", "commands", "queries", "projections", "projections/rebuild", "projections/status", "api", "infra", "tools", "internal"},
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

// cmdDir is the binary's package, which only wires.
const cmdDir = "cmd/capstone"

// TestCmdHoldsNoDatabaseCode fails when a non-test file of cmd/capstone
// imports the MongoDB driver, reaches a database or collection by name
// (.Database, .Collection), uses one of the service's collection-name
// constants, or spells a collection's name: the database is infra's, and
// cmd only hands the parts each other. (A collection's name may coincide
// with a word of the command line, a subcommand or a flag, or with a log
// key: those are not checked. The bench's scratch collection is the tool's,
// named by the tool.)
func TestCmdHoldsNoDatabaseCode(t *testing.T) {
	names := map[string]bool{loadgen.RawCollection: true}
	for _, n := range slices.Concat(imongo.Collections(), projections.Names()) {
		names[n] = true
	}
	if !names[imongo.CollEvents] || !names[projections.CollUsers] || !names["outbox"] {
		t.Fatalf("the collections to look for are incomplete: %v", names)
	}
	checked := 0
	for _, p := range checkNoDatabaseCode(t, cmdDir, names, &checked) {
		t.Error(p)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files of %s: is the walk looking in the right place?", checked, cmdDir)
	}
}

// TestNoDatabaseCodeCatches shows that each kind of database code is found
// in a file, and what is allowed is not.
func TestNoDatabaseCodeCatches(t *testing.T) {
	dir := t.TempDir()
	src := `package main

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/tools/loadgen"
)

func f(a *App, log *slog.Logger, word string) {
	a.store.DB.Collection("x")
	a.store.Client.Database("admin")
	_ = imongo.CollEvents
	_ = outbox.LogCollection
	_ = []string{"settings"}
	_ = loadgen.RawCollection
	log.Info("loaded", "projects", 3)
	_ = fs.Int("projects", 0, "a flag")
	switch word {
	case "users":
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "wiring.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	checked := 0
	got := checkNoDatabaseCode(t, dir, map[string]bool{"settings": true, "projects": true, "users": true}, &checked)
	want := []string{"imports go.mongodb.org/mongo-driver/v2/bson", ".Collection", ".Database", "imongo.CollEvents", "outbox.LogCollection", `"settings"`}
	if len(got) != len(want) {
		t.Fatalf("found %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d: %s; want one about %s", i, got[i], w)
		}
	}
}

// checkNoDatabaseCode lists the database code in the non-test Go files of
// dir, in file order; names are the collection names not to spell.
func checkNoDatabaseCode(t *testing.T, dir string, names map[string]bool, checked *int) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		*checked++
		ours := map[string]bool{} // import names of the service's packages
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, "go.mongodb.org/") {
				problems = append(problems, fmt.Sprintf("%s: imports %s", fset.Position(imp.Pos()), p))
			}
			if strings.HasPrefix(p, module) && !strings.HasPrefix(p, module+"tools/") {
				name := pathpkg.Base(p)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				ours[name] = true
			}
		}
		allowed := map[ast.Node]bool{} // command-line words and log keys
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CaseClause:
				for _, e := range n.List {
					allowed[e] = true
				}
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && slices.Contains([]string{"Debug", "Info", "Warn", "Error"}, sel.Sel.Name) {
					for _, a := range n.Args {
						allowed[a] = true
					}
				}
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && flagDefinition.MatchString(sel.Sel.Name) {
					for _, a := range n.Args {
						allowed[a] = true // config.Bool(fs, name, ...) names it second
					}
				}
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Collection" || sel.Sel.Name == "Database") {
					problems = append(problems, fmt.Sprintf("%s: calls .%s", fset.Position(n.Pos()), sel.Sel.Name))
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && ours[x.Name] && collectionConst.MatchString(n.Sel.Name) {
					problems = append(problems, fmt.Sprintf("%s: uses %s.%s", fset.Position(n.Pos()), x.Name, n.Sel.Name))
				}
			case *ast.BasicLit:
				if v, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && names[v] && !allowed[n] {
					problems = append(problems, fmt.Sprintf("%s: spells the collection %q", fset.Position(n.Pos()), v))
				}
			}
			return true
		})
	}
	return problems
}

// flagDefinition is a flag.FlagSet method that defines a flag (or
// config.Bool, which does too).
var flagDefinition = regexp.MustCompile(`^(Bool|Int|Int64|Uint|Uint64|Float64|String|Duration|Var|Func|TextVar)$`)

// collectionConst is how the service's packages name a collection's name.
var collectionConst = regexp.MustCompile(`^Coll[A-Z]|Collection$`)
