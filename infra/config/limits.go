package config

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// Limits bound what clients can make the service hold or store
// (docs/security.md has the reasons and how to set them on GKE).
type Limits struct {
	// MaxConnections bounds the HTTP connections open at once, and
	// MaxConnectionsPerClient those from one client address (the trusted
	// proxies are not bounded per client). Past them a connection is
	// answered 503 at once.
	MaxConnections          int
	MaxConnectionsPerClient int
	// BodyTimeout is how long a JSON request body may take to arrive.
	BodyTimeout time.Duration
	// MaxOpenProjects bounds the projects a student may have open (created
	// and not withdrawn) at once; 0 is no bound.
	MaxOpenProjects int
}

// flags registers the limits' flags on fs; the returned function checks
// them once fs is parsed.
func (l *Limits) flags(fs *flag.FlagSet, env func(string) string) func() error {
	maxConns := fs.String("max-connections", envOr(env, "CAPSTONE_MAX_CONNECTIONS", "2048"), "HTTP connections open at once; past it a connection is answered 503 (env CAPSTONE_MAX_CONNECTIONS)")
	perClient := fs.String("max-connections-per-client", envOr(env, "CAPSTONE_MAX_CONNECTIONS_PER_CLIENT", "128"), "HTTP connections open at once from one client address; trusted proxies are exempt (env CAPSTONE_MAX_CONNECTIONS_PER_CLIENT)")
	open := fs.String("max-open-projects", envOr(env, "CAPSTONE_MAX_OPEN_PROJECTS", "10"), "projects a student may have open (created and not withdrawn) at once; 0: no limit (env CAPSTONE_MAX_OPEN_PROJECTS)")
	body := fs.String("body-timeout", envOr(env, "CAPSTONE_BODY_TIMEOUT", "10s"), "how long a JSON request body may take to arrive (env CAPSTONE_BODY_TIMEOUT)")
	return func() error {
		var err error
		if l.MaxConnections, err = positive("max-connections", *maxConns, 1<<20); err != nil {
			return err
		}
		if l.MaxConnectionsPerClient, err = positive("max-connections-per-client", *perClient, l.MaxConnections); err != nil {
			return err
		}
		if *open == "0" { // no limit, and nothing counted
			l.MaxOpenProjects = 0
		} else if l.MaxOpenProjects, err = positive("max-open-projects", *open, 1<<20); err != nil {
			return err
		}
		if l.BodyTimeout, err = time.ParseDuration(*body); err != nil || l.BodyTimeout < 100*time.Millisecond || l.BodyTimeout > 10*time.Minute {
			return fmt.Errorf("--body-timeout %q: want a duration between 100ms and 10m", *body)
		}
		return nil
	}
}

// positive parses a whole number from 1 to most.
func positive(name, s string, most int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("--%s %q: want a whole number from 1 to %d", name, s, most)
	}
	return n, nil
}
