package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
)

// replay is `capstone replay [--projection NAME]... [--verify]`.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var only multiFlag
	fs.Var(&only, "projection", "a projection to rebuild (repeatable; default all: "+fmt.Sprint(projections.Names())+")")
	verify := config.Bool(fs, "verify", false, "rebuild into scratch collections and compare with the live ones, switching nothing")
	cfg, err := parseStoreFlags(ctx, fs, args, env, stdout, stderr)
	if err != nil {
		return err
	}
	app, err := startOneOff(ctx, cfg, stderr)
	if err != nil {
		return dataDirInUse(err, func(base string) string {
			return curlJSON(base+"/v1/admin/projections/rebuild", map[string]any{"projections": append([]string{}, only...), "verify": *verify}) +
				"\n  (then GET " + base + "/v1/admin/projections shows its progress and result)"
		})
	}
	defer app.Close(context.Background())
	res, err := app.Rebuild(ctx, only, *verify, func(p rebuild.Progress) {
		fmt.Fprintf(stderr, "%s: %d/%d commits\n", p.Phase, p.Commits, p.Total)
	})
	if err != nil {
		return err
	}
	for _, n := range res.Projections {
		fmt.Fprintf(stdout, "%-12s rebuilt into %s", n, res.Collections[n])
		switch {
		case *verify && len(res.Differences[n]) == 0:
			fmt.Fprint(stdout, ": equal to the live read model")
		case *verify:
			fmt.Fprintf(stdout, ": %d documents differ, e.g. %s\n  live:    %s\n  rebuilt: %s", len(res.Differences[n]),
				res.Differences[n][0], res.Sample[n][0], res.Sample[n][1])
		default:
			fmt.Fprint(stdout, ", now live")
		}
		fmt.Fprintln(stdout)
	}
	if *verify && len(res.Differences) > 0 {
		return errors.New("the live read models differ from a rebuild")
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
