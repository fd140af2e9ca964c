package config

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLegacy: the original frontend's face is off by default, set by flag
// or environment, and a bad setting stops the start: an origin that is
// not one, a listener shared with the API, a pages directory without an
// index.html, the routes without the api component.
func TestLegacy(t *testing.T) {
	c, err := ParseServe(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Legacy.Addr != "" || c.Legacy.Origins != nil || c.Legacy.UI != "" || c.Legacy.UIAddr != "127.0.0.1:8081" {
		t.Fatalf("defaults: %+v", c.Legacy)
	}
	ui := t.TempDir()
	if err := os.WriteFile(filepath.Join(ui, "index.html"), []byte("<html></html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = ParseServe([]string{"--legacy-addr", "127.0.0.1:5000", "--legacy-ui-addr", ":3000"}, envOf(map[string]string{
		"CAPSTONE_LEGACY_ORIGINS": " HTTP://localhost:8081 , https://capstone.example.ac.uk/", "CAPSTONE_LEGACY_UI": ui,
		"CAPSTONE_LEGACY_ADDR": "ignored:1"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Legacy.Addr != "127.0.0.1:5000" || c.Legacy.UI != ui || c.Legacy.UIAddr != ":3000" ||
		!slices.Equal(c.Legacy.Origins, []string{"http://localhost:8081", "https://capstone.example.ac.uk"}) {
		t.Fatalf("set: %+v", c.Legacy)
	}
	empty := t.TempDir()
	for name, args := range map[string][]string{
		"an origin with a path":          {"--legacy-origins", "https://x.example/app"},
		"an origin without a scheme":     {"--legacy-origins", "localhost:8081"},
		"no origin at all":               {"--legacy-origins", " , "},
		"the routes on the API's port":   {"--addr", ":5000", "--legacy-addr", ":5000"},
		"the pages on the API's port":    {"--addr", ":8081", "--legacy-ui", ui, "--legacy-ui-addr", ":8081"},
		"the pages on the routes' port":  {"--legacy-addr", ":5000", "--legacy-ui", ui, "--legacy-ui-addr", ":5000"},
		"pages without an index.html":    {"--legacy-ui", empty},
		"pages that are no directory":    {"--legacy-ui", filepath.Join(ui, "index.html")},
		"the routes without the api":     {"--legacy-addr", ":5000", "--components", "projector"},
		"metrics on the routes' port":    {"--legacy-addr", ":5000", "--metrics-addr", ":5000"},
		"pages without a listen address": {"--legacy-ui", ui, "--legacy-ui-addr", ""},
	} {
		if _, err := ParseServe(args, envOf(nil), io.Discard); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		}
	}
}
