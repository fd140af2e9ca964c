package loadgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The operations of the mix, as named in reports and in [Mix].
const (
	OpListSupervisors = "list-supervisors" // GET /v1/supervisors
	OpGetProject      = "get-project"      // GET /v1/projects/{own}
	OpListProjects    = "list-projects"    // GET /v1/projects?limit=20
	OpEditProject     = "edit-project"     // PATCH /v1/projects/{own} with If-Match
	OpCreateSubmit    = "create-submit"    // POST /v1/projects with supervisor_id
	OpDecide          = "decide"           // POST /v1/projects/{id}/decision as the supervisor
	OpSignIn          = "sign-in"          // POST /v1/auth/sign-in
)

// opOrder is the order of operations in the mix and in reports.
var opOrder = []string{OpListSupervisors, OpGetProject, OpListProjects, OpEditProject, OpCreateSubmit, OpDecide, OpSignIn}

// writeOps are the operations that run a command; together they are
// "write-commands" in the ratios.
var writeOps = []string{OpEditProject, OpCreateSubmit, OpDecide}

// Mix gives each operation a relative weight; an operation left out (or 0)
// is not run.
type Mix map[string]int

// DefaultMix is the mix used when [Options.Mix] is nil.
func DefaultMix() Mix {
	return Mix{OpListSupervisors: 25, OpGetProject: 25, OpListProjects: 10, OpEditProject: 15,
		OpCreateSubmit: 10, OpDecide: 10, OpSignIn: 5}
}

// ParseMix reads a mix written as "op=weight,op=weight" (e.g.
// "get-project=1" to measure reads alone, or "edit-project=3,get-project=1");
// "default" or "" is [DefaultMix]. Names and weights are checked as in [Run].
func ParseMix(s string) (Mix, error) {
	if s == "" || s == "default" {
		return DefaultMix(), nil
	}
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			w = "1"
		}
		if !slices.Contains(opOrder, name) {
			return nil, fmt.Errorf("unknown operation %q in the mix (known: %s)", name, strings.Join(opOrder, ", "))
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("weight %q of %s is not a whole number >= 0", w, name)
		}
		m[name] += n
	}
	return m, nil
}
