package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/csvio"
)

// importFile is `capstone import [--dry-run] KIND FILE`: the CLI twin of
// POST /v1/imports/{kind}, with progress on large files.
func importFile(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dry := config.Bool(fs, "dry-run", false, "check every row and report, storing nothing")
	asJSON := config.Bool(fs, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: capstone import [flags] KIND FILE\n\nKIND: %s\n\nFlags:\n", importKinds())
		fs.PrintDefaults()
	}
	cfg, err := parseStoreFlags(fs, args, env, stdout, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("give a KIND and a FILE")
	}
	kind, err := csvio.ParseKind(fs.Arg(0))
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(1))
	if err != nil {
		return err
	}
	defer f.Close()
	progress := throttledProgress(stderr)
	parsed, err := csvio.ParseWithProgress(kind, f, csvio.Limits{}, func(n int) { progress("read", n) })
	if err != nil {
		return err
	}
	app, err := startOneOff(ctx, cfg, stderr)
	if err != nil {
		return dataDirInUse(err, func(base string) string {
			url := base + "/v1/imports/" + string(kind)
			if *dry {
				url += "?dry_run=true"
			}
			return fmt.Sprintf("curl -X POST %s -H \"Authorization: Bearer $TOKEN\" -F %s", shellQuote(url), shellQuote("file=@"+fs.Arg(1)))
		})
	}
	defer app.Close(context.Background())
	rep, err := app.Importer(*dry).Run(ctx, commands.Meta{Actor: events.SystemActor, CorrelationID: "cli-import"}, parsed.Batch(),
		func(n int) { progress("applied", n) })
	if err != nil {
		return err
	}
	rep.Rows, rep.DryRun = parsed.Rows, *dry
	rep.Errors = append(parsed.ParseErrors(), rep.Errors...)
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

// importKinds lists the import kinds, as the CLI and the API take them.
func importKinds() string {
	kinds := make([]string, 0, len(csvio.Kinds()))
	for _, k := range csvio.Kinds() {
		kinds = append(kinds, string(k))
	}
	return strings.Join(kinds, ", ")
}

// throttledProgress prints at most one progress line a second.
func throttledProgress(w io.Writer) func(stage string, n int) {
	last := time.Now()
	return func(stage string, n int) {
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(w, "%s %d rows\n", stage, n)
		}
	}
}

func printReport(w io.Writer, rep imports.Report) {
	mode := ""
	if rep.DryRun {
		mode = " (dry run: nothing stored)"
	}
	fmt.Fprintf(w, "rows %d: created %d, updated %d, unchanged %d, errors %d%s\n",
		rep.Rows, rep.Created, rep.Updated, rep.Unchanged, len(rep.Errors), mode)
	for _, a := range rep.RolesAdded {
		fmt.Fprintf(w, "  line %d: %s, already a user, gains the role %s\n", a.Line, a.Email, a.Role)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "  line %d: %s\n", e.Line, e.Message)
	}
}
