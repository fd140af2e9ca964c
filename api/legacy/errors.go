package legacy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/capstone-pms/capstone/api"
)

// writeError answers a refusal as the original did: plain text, with the
// original's status codes. The frontend tells refusals apart only by
// success or failure, and the original answered 400 for what /v1 calls a
// conflict or a refused rule (a proposal made twice, a full supervisor), so
// those are 400 here; everything else keeps its /v1 status (401 no or bad
// token, 403 a role that may not, 404, 413, 415, 429, 5xx).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.refusal(w, r, err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// refuse answers a refusal of the API's edge (a path that would need
// cleaning, one that is not text, a panic) as this face answers every
// other: the sign-in's as its form reads them, the rest in plain text.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if r.Method == http.MethodPost && r.URL.Path == "/sign-in" {
		status, msg := s.refusal(w, r, err)
		writeJSON(w, status, map[string]string{"message": msg})
		return
	}
	s.writeError(w, r, err)
}

// refusal is the status and message err answers with; it sets Retry-After
// when the client should wait, and logs what is not the client's fault.
func (s *Server) refusal(w http.ResponseWriter, r *http.Request, err error) (int, string) {
	p := api.FailureOf(s.Log, r, err)
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	return legacyStatus(p.Status), message(p)
}

// legacyStatus is the original's status for a /v1 one.
func legacyStatus(status int) int {
	switch status {
	case http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity:
		return http.StatusBadRequest
	}
	return status
}

// message is a problem in words: its detail, and each field's fault that
// the detail does not already say.
func message(p *api.Problem) string {
	msg := p.Detail
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	for _, f := range p.Errors {
		if line := f.Field + ": " + f.Message; !strings.Contains(msg, line) {
			msg += "\n" + line
		}
	}
	return msg
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
