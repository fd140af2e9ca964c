package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// client is one student looping over the mix.
type client struct {
	r       *runner
	idx     int
	acct    account
	rng     *rand.Rand
	recs    []recorder // one per window of the measured phase
	project string     // its own draft
	version int64      // of project, as last written
	edits   int
	last    lagProbe // its last successful write, for the drain
}

var (
	filler     = strings.Repeat("A study of how an event-sourced service behaves under load. ", 4)
	shortBlurb = "Measure, compare, explain."
)

// projectBody is a project's fields; with sup >= 0, submitted to that supervisor.
func (c *client) projectBody(sup int) map[string]string {
	b := map[string]string{"title": fmt.Sprintf("Bench project %d", c.idx), "description": filler,
		"aim": shortBlurb, "rationale": shortBlurb}
	if sup >= 0 {
		b["title"] = fmt.Sprintf("Bench proposal %d-%d", c.idx, c.rng.IntN(1_000_000))
		b["supervisor_id"] = c.r.sups[sup].id
	}
	return b
}

// record files one answer under op and reports whether it was a success
// (status ok). A 409 with one of the expected codes is an expected refusal;
// anything else is an error. A request cut short by ctx is not recorded.
func (c *client) record(ctx context.Context, op string, rp reply, err error, ok int, expected ...string) bool {
	rec := c.recs[c.r.window(time.Now())].op(op)
	switch {
	case err != nil && ctx.Err() != nil:
		return false
	case err != nil:
		if rp.status != 0 { // the body could not be read
			rec.add(rp.lat)
		}
		rec.fail(rp.status)
		c.r.failed.Add(1)
	case rp.status == ok:
		rec.add(rp.lat)
		c.r.done.Add(1)
		return true
	case rp.status == http.StatusConflict && slices.Contains(expected, rp.code):
		rec.add(rp.lat)
		rec.expect(rp.code)
	default:
		rec.add(rp.lat)
		rec.fail(rp.status)
		c.r.failed.Add(1)
	}
	c.r.done.Add(1)
	return false
}

func (c *client) run(ctx context.Context, op string) {
	api, tok := c.r.api, c.acct.token
	switch op {
	case OpListSupervisors:
		rp, err := api.do(ctx, http.MethodGet, "/v1/supervisors", tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpGetProject:
		rp, err := api.do(ctx, http.MethodGet, "/v1/projects/"+c.project, tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpListProjects:
		rp, err := api.do(ctx, http.MethodGet, "/v1/projects?limit=20", tok, nil, -1)
		c.record(ctx, op, rp, err, http.StatusOK)
	case OpEditProject:
		c.edit(ctx)
	case OpCreateSubmit:
		c.createSubmit(ctx)
	case OpDecide:
		c.decide(ctx)
	case OpSignIn:
		body := map[string]string{"email": c.acct.email, "password": c.acct.password}
		rp, err := api.do(ctx, http.MethodPost, "/v1/auth/sign-in", "", body, -1)
		if c.record(ctx, op, rp, err, http.StatusOK) {
			var a signInAnswer
			if json.Unmarshal(rp.body, &a) == nil && a.Token != "" {
				c.acct.token = a.Token
			}
		}
	}
}

func (c *client) edit(ctx context.Context) {
	c.edits++
	body := map[string]string{"title": fmt.Sprintf("Bench project %d, revision %d", c.idx, c.edits)}
	rp, err := c.r.api.do(ctx, http.MethodPatch, "/v1/projects/"+c.project, c.acct.token, body, c.version)
	at := time.Now()
	if c.record(ctx, OpEditProject, rp, err, http.StatusOK) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil && w.Version > 0 {
			c.version = w.Version
			c.wrote(c.acct.token, c.project, w.Version, at)
			return
		}
	}
	if ctx.Err() == nil && (err != nil || rp.status == http.StatusOK || rp.status == http.StatusPreconditionFailed) {
		c.refresh(ctx) // the version is unknown now: read it (not measured)
	}
}

// refresh reads the own project's version after a write whose outcome is
// unknown; if the read model lags, the next PATCH may get a 412 and refresh
// again.
func (c *client) refresh(ctx context.Context) {
	rp, err := c.r.api.do(ctx, http.MethodGet, "/v1/projects/"+c.project, c.acct.token, nil, -1)
	var w written
	if err == nil && rp.status == http.StatusOK && json.Unmarshal(rp.body, &w) == nil && w.Version > c.version {
		c.version = w.Version
	}
}

func (c *client) createSubmit(ctx context.Context) {
	sup := c.rng.IntN(len(c.r.sups))
	rp, err := c.r.api.do(ctx, http.MethodPost, "/v1/projects", c.acct.token, c.projectBody(sup), -1)
	at := time.Now()
	if c.record(ctx, OpCreateSubmit, rp, err, http.StatusCreated, codeTooManyOpenProjects) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil && w.ID != "" {
			c.r.push(proposal{id: w.ID, sup: sup})
			c.wrote(c.acct.token, w.ID, w.Version, at)
		}
	}
}

// Expected refusals of a decision to accept, and of a proposal by a
// student who has as many open projects as the service allows.
const (
	codeCapacityReached     = "capacity-reached"
	codeAlreadyPlaced       = "student-already-placed"
	codeTooManyOpenProjects = "too-many-open-projects"
)

func (c *client) decide(ctx context.Context) {
	p, ok := c.r.pop()
	if !ok {
		c.r.fallback.Add(1)
		c.createSubmit(ctx)
		return
	}
	decision := "reject"
	if c.rng.Float64() < c.r.o.AcceptRate {
		decision = "accept"
	}
	sup := c.r.sups[p.sup]
	body := map[string]string{"decision": decision, "comment": "Decided by capstone bench."}
	rp, err := c.r.api.do(ctx, http.MethodPost, "/v1/projects/"+p.id+"/decision", sup.token, body, -1)
	at := time.Now()
	if c.record(ctx, OpDecide, rp, err, http.StatusOK, codeCapacityReached, codeAlreadyPlaced) {
		var w written
		if json.Unmarshal(rp.body, &w) == nil {
			c.wrote(sup.token, p.id, w.Version, at)
		}
	}
}
