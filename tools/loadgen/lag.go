package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// lagProbe is a sampled write: the resource, the version it produced and
// when its response arrived.
type lagProbe struct {
	token, id string
	version   int64
	at        time.Time
}

// lagPollers is how many lag probes may run at once: a poller polling
// back to back costs about what a client does, so they are kept to an
// eighth of the clients (at least 2).
func lagPollers(clients int) int { return max(2, clients/8) }

// wrote notes a successful write: the client's last, and perhaps a lag sample.
func (c *client) wrote(token, id string, version int64, at time.Time) {
	if id != "" && version > 0 {
		c.last = lagProbe{token: token, id: id, version: version, at: at}
	}
	c.r.wrote(token, id, version, at)
}

// wrote samples a write for the projection lag.
func (r *runner) wrote(token, id string, version int64, at time.Time) {
	if r.o.LagEvery <= 0 || id == "" || r.writes.Add(1)%int64(r.o.LagEvery) != 0 {
		return
	}
	select {
	case r.probes <- lagProbe{token: token, id: id, version: version, at: at}:
	default:
		r.skipped.Add(1)
	}
}

// poll resolves lag probes until the channel is closed.
func (r *runner) poll(ctx context.Context) {
	for p := range r.probes {
		lag, outcome := r.probe(ctx, p, lagTimeout)
		r.lagMu.Lock()
		switch outcome {
		case probeSeen:
			r.lag = append(r.lag, lag)
		case probeTimeout:
			r.lagOut++
		case probeFailed:
			r.lagFail++
		}
		r.lagMu.Unlock()
	}
}

const (
	probeSeen = iota
	probeTimeout
	probeFailed
	probeCancelled
)

// probe polls until GET shows p's version and returns the time since p.at.
func (r *runner) probe(ctx context.Context, p lagProbe, timeout time.Duration) (time.Duration, int) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		rp, err := r.api.do(ctx, http.MethodGet, "/v1/projects/"+p.id, p.token, nil, -1)
		r.polls.Add(1)
		switch {
		case ctx.Err() != nil:
			return 0, probeCancelled
		case err != nil:
			return 0, probeFailed
		case rp.status == http.StatusOK:
			var w written
			if json.Unmarshal(rp.body, &w) != nil {
				return 0, probeFailed
			}
			if w.Version >= p.version {
				return time.Since(p.at), probeSeen
			}
		case rp.status != http.StatusNotFound: // 404: a creation not projected yet
			return 0, probeFailed
		}
		if time.Since(p.at) > timeout {
			return 0, probeTimeout
		}
		t.Reset(max(lagPollEvery, time.Since(p.at)/lagPollShare))
		select {
		case <-ctx.Done():
			return 0, probeCancelled
		case <-t.C:
		}
	}
}
