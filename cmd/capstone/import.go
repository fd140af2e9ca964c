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

// importFile is `capstone import [--dry-run] [--passwords] KIND FILE`: the
// CLI twin of POST /v1/imports/{kind}, with progress on large files. It
// fails (exit 1, errRowsRefused) when rows were refused, after the report.
func importFile(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	dry := config.Bool(fs, "dry-run", false, "check every row and report, storing nothing (?dry_run=true)")
	passwords := config.Bool(fs, "passwords", false, "set the Password column's passwords of the users of a people file who have none yet (?passwords=true)")
	asJSON := config.Bool(fs, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: capstone import [flags] KIND FILE\n\n"+
			"KIND: %s\nThe columns of each kind: docs/imports.md. Flags may also follow KIND and FILE.\n"+
			"Exit status: 0 when every row was applied (or, with --dry-run, could be), 1 when rows were refused\n"+
			"(the others are applied all the same), 2 when the file or the command was refused.\n\nFlags:\n", importKinds())
		fs.PrintDefaults()
	}
	cfg, err := parseStoreFlags(ctx, fs, args, env, stdout, stderr)
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
			var query []string
			if *dry {
				query = append(query, "dry_run=true")
			}
			if *passwords {
				query = append(query, "passwords=true")
			}
			url := base + "/v1/imports/" + string(kind)
			if len(query) > 0 {
				url += "?" + strings.Join(query, "&")
			}
			return fmt.Sprintf("curl -X POST %s -H \"Authorization: Bearer $TOKEN\" -F %s", shellQuote(url), shellQuote("file=@"+fs.Arg(1)))
		})
	}
	defer app.Close(context.Background())
	im := app.Importer(*dry)
	im.Passwords = *passwords
	rep, err := im.Run(ctx, commands.Meta{Actor: events.SystemActor, CorrelationID: "cli-import"}, parsed.Batch(),
		func(n int) { progress("applied", n) })
	if err != nil {
		return err
	}
	rep.Rows, rep.DryRun = parsed.Rows, *dry
	rep.Errors = append(parsed.ParseErrors(), rep.Errors...)
	if *asJSON {
		err = json.NewEncoder(stdout).Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if err == nil && len(rep.Errors) > 0 {
		err = fmt.Errorf("%w: %d of %d", errRowsRefused, len(rep.Errors), rep.Rows)
	}
	return err
}

// errRowsRefused ends an import some of whose rows were refused (the report
// lists them): the command exits 1, apart from a command that failed.
var errRowsRefused = errors.New("rows were refused")

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
