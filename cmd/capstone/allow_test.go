package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/api"
)

// TestMethodNotAllowedSaysWhatIs: every 405, on both faces, carries an
// Allow header naming exactly the methods its path takes, as RFC 9110
// requires of a 405 (section 15.5.6); it used to carry none. Every route
// is asked with every method it does not take (HEAD is taken wherever GET
// is).
func TestMethodNotAllowedSaysWhatIs(t *testing.T) {
	s, lc := startLegacy(t)
	admin := s.admin()
	for _, face := range []struct {
		base   string
		routes []api.Route
	}{{s.base, s.app.API.Routes()}, {lc.base, s.app.LegacyRoutes()}} {
		byPath := map[string][]string{}
		for _, r := range face.routes {
			byPath[r.Path] = append(byPath[r.Path], r.Method)
		}
		for template, methods := range byPath {
			if slices.Contains(methods, "GET") {
				methods = append(methods, "HEAD") // answered wherever GET is (TestHeadLikeGet)
			}
			slices.Sort(methods)
			path := strings.NewReplacer("{id}", "01a224e5-0000-7000-8000-000000000000", "{kind}", "students",
				"{name}", "marks", "{email}", "nobody@uni.example").Replace(template)
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"} {
				if slices.Contains(methods, m) {
					continue
				}
				req, err := http.NewRequest(m, face.base+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if want := strings.Join(methods, ", "); resp.StatusCode != 405 || resp.Header.Get("Allow") != want {
					t.Errorf("%s %s (%s): %d with Allow %q, want 405 with Allow %q",
						m, path, template, resp.StatusCode, resp.Header.Get("Allow"), want)
				}
			}
		}
	}
}
