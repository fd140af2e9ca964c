package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3 description of every route, kept next to
// the code; a test fails when a route is registered without being documented
// or documented without being registered.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document (for tests and tools).
func OpenAPI() []byte { return openAPIDocument }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
