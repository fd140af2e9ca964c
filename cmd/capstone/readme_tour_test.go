package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeTourAsOfWorksToday: the README's tour reads the project "as of"
// a time before its edit. That time must be one the reader's shell gives
// when they follow the tour, never a date written into the README (which
// answers 404 not-yet-existing for every project made after it). The test
// runs the tour's own lines that set the time (with sh, as a reader would)
// between creating the project and editing it, then asks for the project as
// of that time, as the tour does, and wants it as it was before the edit.
func TestReadmeTourAsOfWorksToday(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, tour, _ := strings.Cut(string(raw), "## A tour with curl\n\n```sh\n")
	tour, _, ok := strings.Cut(tour, "```")
	if !ok {
		t.Fatal("README.md has no tour in a sh block")
	}
	lines := strings.Split(tour, "\n")
	create := lineWith(lines, "-X POST localhost:8080/v1/projects ")
	patch := lineWith(lines, "-X PATCH ")
	m := regexp.MustCompile(`as_of=([^"& ]+)`).FindStringSubmatch(tour)
	if create < 0 || patch < create || m == nil {
		t.Fatalf("the tour lacks the creation (%d), the edit (%d) or as_of (%v) it is expected to have", create, patch, m)
	}
	asOf, setTime := m[1], ""
	if name, isVar := strings.CutPrefix(asOf, "$"); isVar {
		// The lines between the creation and the edit that set shell
		// variables or wait, as they are written (P=... is the reader's).
		var script []string
		for _, l := range lines[create+1 : patch] {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "sleep ") || regexp.MustCompile(`^[A-Z_]+=\$\(`).MatchString(l) ||
				strings.Contains(l, "; "+name+"=$(") {
				script = append(script, l)
			}
		}
		if len(script) == 0 {
			t.Fatalf("as_of=%s, but the tour sets %s nowhere between creating the project and editing it", asOf, name)
		}
		setTime = strings.Join(script, "\n") + "\nprintf %s \"$" + name + "\"\n"
	}

	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "ada@uni.example", "Ada Lovelace", []string{"student"}, "analytical engine")
	student := s.signIn("ada@uni.example", "analytical engine")
	p := s.expect(s.do("POST", "/v1/projects", student, map[string]string{
		"title": "Difference engines", "description": "Build one", "aim": "Tables", "rationale": "Errors"}), 201)
	if setTime != "" {
		out, err := exec.Command("sh", "-c", setTime).Output()
		if err != nil {
			t.Fatalf("the tour's lines %q: %v", setTime, err)
		}
		asOf = string(out)
	}
	s.expect(s.do("PATCH", "/v1/projects/"+p.str("id"), student, map[string]string{"title": "Analytical engines"}, "If-Match", `"1"`), 200)
	past := s.do("GET", "/v1/projects/"+p.str("id")+"?as_of="+asOf, student, nil)
	if past.Status != 200 || past.str("title") != "Difference engines" {
		t.Fatalf("as_of=%s, as the tour sends it: %d %s", asOf, past.Status, past.Raw)
	}
}

// lineWith is the first line holding sub, or -1.
func lineWith(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}
