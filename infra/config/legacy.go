package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Legacy is where the original system's frontend is served from: its API
// routes on a listener of their own, and, optionally, its built pages
// (docs/legacy.md).
type Legacy struct {
	// Addr is the listen address of the original API routes; empty: off.
	Addr string
	// Origins are the browser origins allowed to call them (CORS); nil
	// allows any origin, which is safe because the frontend sends no
	// cookies: its token is in a header.
	Origins []string
	// UI is a directory holding a built single-page app to serve on UIAddr;
	// empty: none is served.
	UI     string
	UIAddr string
}

// AnyOrigin is the Origins value that allows every origin.
const AnyOrigin = "*"

// flags registers the legacy flags on fs; the returned function checks
// them once fs is parsed, given the API's own address.
func (l *Legacy) flags(fs *flag.FlagSet, env func(string) string) func(apiAddr string) error {
	fs.StringVar(&l.Addr, "legacy-addr", env("CAPSTONE_LEGACY_ADDR"), "listen address of the original frontend's API routes (its built pages call http://127.0.0.1:5000/); empty: not served (env CAPSTONE_LEGACY_ADDR)")
	origins := fs.String("legacy-origins", envOr(env, "CAPSTONE_LEGACY_ORIGINS", AnyOrigin), "comma-separated origins (scheme://host[:port]) whose pages may call the --legacy-addr routes, or * for any (env CAPSTONE_LEGACY_ORIGINS)")
	fs.StringVar(&l.UI, "legacy-ui", env("CAPSTONE_LEGACY_UI"), "directory of a built single-page app (the original frontend's build/) to serve on --legacy-ui-addr; empty: none (env CAPSTONE_LEGACY_UI)")
	fs.StringVar(&l.UIAddr, "legacy-ui-addr", envOr(env, "CAPSTONE_LEGACY_UI_ADDR", "127.0.0.1:8081"), "listen address of --legacy-ui (env CAPSTONE_LEGACY_UI_ADDR)")
	return func(apiAddr string) error {
		var err error
		if l.Origins, err = parseOrigins(*origins); err != nil {
			return fmt.Errorf("--legacy-origins: %w", err)
		}
		if l.Addr != "" && l.Addr == apiAddr && !strings.HasSuffix(l.Addr, ":0") {
			return fmt.Errorf("--legacy-addr %q is --addr: the original routes need a listener of their own", l.Addr)
		}
		if l.UI == "" {
			return nil
		}
		if l.UIAddr == "" {
			return errors.New("--legacy-ui needs --legacy-ui-addr")
		}
		for _, other := range []struct{ name, addr string }{{"--addr", apiAddr}, {"--legacy-addr", l.Addr}} {
			if l.UIAddr == other.addr && !strings.HasSuffix(l.UIAddr, ":0") {
				return fmt.Errorf("--legacy-ui-addr %q is %s: the pages need a listener of their own", l.UIAddr, other.name)
			}
		}
		return checkUI(l.UI)
	}
}

// checkUI refuses a directory that is not a built app: one without an
// index.html would answer every page with 404.
func checkUI(dir string) error {
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("--legacy-ui %q is not a directory", dir)
	}
	if info, err := os.Stat(filepath.Join(dir, "index.html")); err != nil || !info.Mode().IsRegular() {
		return fmt.Errorf("--legacy-ui %q has no index.html: give the build directory of the app", dir)
	}
	return nil
}

// parseOrigins reads "*" (nil: any origin) or a comma-separated list of
// origins as a browser sends them in its Origin header.
func parseOrigins(s string) ([]string, error) {
	if strings.TrimSpace(s) == AnyOrigin {
		return nil, nil
	}
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin such as https://capstone.example.ac.uk or http://localhost:8081", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if len(out) == 0 {
		return nil, errors.New("name at least one origin, or * for any")
	}
	return out, nil
}
