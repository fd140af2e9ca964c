package capstone_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// The project stands on its own: every document that code, comments, tests,
// manifests, the README or the OpenAPI document cite is in the repository.

var (
	// citedName is a document cited by an upper-case file name (README.md)
	// or a path that leaves the repository for a sibling folder.
	citedName = regexp.MustCompile(`\.\./shared/[A-Za-z0-9_./-]+|\b[A-Z][A-Z_]+\.md\b`)
	// citedPath is a document cited by a path with a folder in it (docs/api.md),
	// which must exist from the root or from the citing file's folder.
	citedPath = regexp.MustCompile(`[A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.-]+)+\.md\b`)
	// url is left alone: what it points at is not in the repository anyway.
	url = regexp.MustCompile(`[a-z]+://[^\s"'<>)\]]+`)
	// mdLink is a Markdown link's target.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// numberedInvariant is an invariant cited by a number, which means
	// nothing in this repository.
	numberedInvariant = regexp.MustCompile(`(?i)\binvariants? +\(?[0-9]+\b`)
	// namedInvariant is an invariant cited by name: invariant "no lost event".
	namedInvariant = regexp.MustCompile(`\binvariant "([^"]+)"`)
	heading        = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)
)

// citingFile reports whether a file is one whose citations are checked.
func citingFile(name string) bool {
	return slices.Contains([]string{".go", ".json", ".md", ".yaml", ".yml"}, path.Ext(name))
}

// TestNoCitationOutsideTheRepository fails when any file cites a document
// that is not in the repository, a path outside it, a numbered invariant, an
// invariant docs/architecture.md does not name, or a Markdown link or anchor
// that leads nowhere.
func TestNoCitationOutsideTheRepository(t *testing.T) {
	problems, checked := checkCitations(os.DirFS("."))
	if checked < 50 {
		t.Fatalf("checked only %d files: is the walk looking in the right place?", checked)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestCitationCheckCatches shows that each kind of bad citation is reported
// and a good one is not.
func TestCitationCheckCatches(t *testing.T) {
	// The fixtures are spelled in pieces, so that this file cites nothing.
	const md, up = ".md", ".."
	good := fstest.MapFS{
		"README.md":            {Data: []byte("See [the docs](docs/architecture" + md + "#invariants) and deploy/README" + md + ".\n")},
		"deploy/README.md":     {Data: []byte("# Deploy\nBack to [the README](" + up + "/README" + md + ").\n")},
		"docs/architecture.md": {Data: []byte("# Architecture\n## Invariants\n### no lost event\nText.\n## Next\n")},
		"a/a.go":               {Data: []byte("// Kept by docs/architecture" + md + ", invariant \"no lost event\"; https://x.example/NOTES" + md + "\n")},
	}
	for i := 0; i < 50; i++ { // the real check insists on a tree of some size
		good[path.Join("filler", strings.Repeat("f", i+1)+".go")] = &fstest.MapFile{Data: []byte("package filler\n")}
	}
	if problems, _ := checkCitations(good); len(problems) > 0 {
		t.Fatalf("a clean tree is reported: %q", problems)
	}
	for _, bad := range []string{
		"// The contract is in API" + md + ".",
		"// See " + up + "/shared/DESIGN" + md + ".",
		"// The rules are in docs/rules" + md + ".",
		"// Kept by invariant" + " 3.",
		"// Kept by invariants" + " 4 and 5.",
		"// Kept by invariant" + ` "no event lost".`,
		"// See " + up + "/" + up + "/outside/notes" + md + ".",
	} {
		tree := fstest.MapFS{"b/b.go": {Data: []byte(bad + "\n")}}
		for k, v := range good {
			tree[k] = v
		}
		if problems, _ := checkCitations(tree); len(problems) == 0 {
			t.Errorf("%q is not reported", bad)
		}
	}
	for _, bad := range []string{
		"[gone](docs/gone" + md + ")",
		"[no such part](docs/architecture" + md + "#no-such-part)",
		"[out](" + up + "/" + up + "/elsewhere" + md + ")",
		"[own part](#nowhere)",
	} {
		tree := fstest.MapFS{"docs/more" + md: {Data: []byte("# More\n" + bad + "\n")}}
		for k, v := range good {
			tree[k] = v
		}
		if problems, _ := checkCitations(tree); len(problems) == 0 {
			t.Errorf("Markdown link %q is not reported", bad)
		}
	}
}

// checkCitations walks the tree (hidden folders aside) and returns what is
// cited but not there, and how many files it read.
func checkCitations(fsys fs.FS) (problems []string, checked int) {
	files := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != "." && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case d.IsDir() || !citingFile(p):
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		return []string{err.Error()}, 0
	}
	exists := func(p string) bool { _, ok := files[p]; return ok || isDir(fsys, p) }
	invariants := invariantNames(files["docs/architecture.md"])

	for name, text := range files {
		dir := path.Dir(name)
		plain := url.ReplaceAllString(text, "")
		report := func(format string, cited string) {
			problems = append(problems, name+": "+fmt.Sprintf(format, cited))
		}
		for _, c := range citedName.FindAllString(plain, -1) {
			if strings.HasPrefix(c, "../shared/") || !anyEndsWith(files, "/"+c) && !exists(c) {
				report("cites %s, which is not in the repository", c)
			}
		}
		for _, c := range citedPath.FindAllString(plain, -1) {
			if !inRepo(dir, c, exists) {
				report("cites %s, which is not in the repository (from the root or from this file's folder)", c)
			}
		}
		for _, c := range numberedInvariant.FindAllString(plain, -1) {
			report("cites %q by number: cite it by its name in docs/architecture.md", c)
		}
		for _, m := range namedInvariant.FindAllStringSubmatch(plain, -1) {
			if !invariants[m[1]] {
				report("cites invariant %q, which docs/architecture.md does not name", m[1])
			}
		}
		if path.Ext(name) == ".md" {
			for _, m := range mdLink.FindAllStringSubmatch(plain, -1) {
				if p := checkLink(files, dir, name, m[1], exists); p != "" {
					report(p, m[1])
				}
			}
		}
	}
	slices.Sort(problems)
	return problems, len(files)
}

// checkLink checks a relative Markdown link from the file name: its file is
// in the repository and its anchor, if any, is a heading of that file.
func checkLink(files map[string]string, dir, name, target string, exists func(string) bool) string {
	if strings.HasPrefix(target, "mailto:") {
		return ""
	}
	file, anchor, _ := strings.Cut(target, "#")
	if file == "" {
		file = name
	} else {
		file = path.Join(dir, file)
		if strings.HasPrefix(file, "../") || file == ".." || !exists(file) {
			return "links to %s, which is not in the repository"
		}
	}
	if anchor != "" && path.Ext(file) == ".md" && !slices.Contains(anchors(files[file]), anchor) {
		return "links to %s, whose file has no such heading"
	}
	return ""
}

// inRepo reports whether a cited path exists from the repository's root or
// from the citing file's folder, without leaving the repository.
func inRepo(dir, cited string, exists func(string) bool) bool {
	for _, base := range []string{".", dir} {
		p := path.Join(base, cited)
		if !strings.HasPrefix(p, "../") && exists(p) {
			return true
		}
	}
	return false
}

func anyEndsWith(files map[string]string, suffix string) bool {
	for name := range files {
		if strings.HasSuffix("/"+name, suffix) {
			return true
		}
	}
	return false
}

func isDir(fsys fs.FS, p string) bool {
	st, err := fs.Stat(fsys, p)
	return err == nil && st.IsDir()
}

// invariantNames are the headings under "Invariants" in the architecture.
func invariantNames(doc string) map[string]bool {
	out := map[string]bool{}
	_, section, _ := strings.Cut(doc, "\n## Invariants\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, m := range regexp.MustCompile(`(?m)^### +(.+?) *$`).FindAllStringSubmatch(section, -1) {
		out[m[1]] = true
	}
	return out
}

// anchors are the ids a Markdown renderer gives a file's headings: lower
// case, punctuation dropped, spaces as hyphens.
func anchors(doc string) []string {
	var out []string
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
