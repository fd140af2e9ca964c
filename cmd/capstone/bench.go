package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/loadgen"
)

// bench is `capstone bench`: drive a service over HTTP with a realistic mix
// and report the figures next to the raw database doing the same work.
// Without --target it benchmarks a fresh service started in this process on
// a temporary embedded store (the raw baseline then runs on that store, with
// the same _id index fix as the service's collections).
func bench(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	target := fs.String("target", "", "base URL of a running service; empty: start one here on a temporary embedded store")
	email := fs.String("email", "", "a coordinator's e-mail (with --target)")
	password := fs.String("password", env("CAPSTONE_BENCH_PASSWORD"), "that coordinator's password (or env CAPSTONE_BENCH_PASSWORD)")
	mongoURI := fs.String("mongodb-uri", env("MONGODB_URI"), "the service's MongoDB, for the raw baseline (with --target)")
	database := fs.String("database", "capstone", "the service's database name")
	clients := fs.Int("clients", 16, "concurrent clients")
	duration := fs.Duration("duration", 30*time.Second, "length of the measured phase")
	count := fs.Int("count", 0, "total operations instead of a duration")
	rate := fs.Float64("rate", 0, "operations per second across all clients (0: as fast as they go), e.g. half the sustained rate to measure the lag")
	baseline := fs.Duration("baseline", 0, "duration of each raw baseline operation (default: a third of the run, at least 5s)")
	mixFlag := fs.String("mix", "default", `operations and weights, e.g. "get-project" (reads alone) or "edit-project=3,get-project=1"`)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured run to this file (of this process: with no --target, the service too)")
	asJSON := config.Bool(fs, "json", false, "print the report as JSON")
	err := parseFlags(stdout, stderr, func(w io.Writer) error {
		fs.SetOutput(w)
		return fs.Parse(args)
	})
	if err != nil {
		return err
	}
	mix, err := loadgen.ParseMix(*mixFlag)
	if err != nil {
		return fmt.Errorf("--mix: %w", err)
	}
	opts := loadgen.Options{Target: *target, Email: *email, Password: *password, Clients: *clients, Duration: *duration,
		Count: *count, Rate: *rate, MongoURI: *mongoURI, Database: *database, BaselineDuration: *baseline, Log: stderr, Mix: mix}
	if *target == "" {
		dir, err := os.MkdirTemp("", "capstone-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		pw := rand.Text()
		vars := map[string]string{"CAPSTONE_BOOTSTRAP_EMAIL": "bench@capstone.example", "CAPSTONE_BOOTSTRAP_PASSWORD": pw,
			"CAPSTONE_LOG_LEVEL": "warn"}
		// Each bench client is a student proposing again and again: the limit
		// on open projects is off, so that proposals are measured, not refused.
		cfg, err := config.ParseServe([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--max-open-projects", "0"},
			func(k string) string { return vars[k] }, io.Discard)
		if err != nil {
			return err
		}
		app, err := StartApp(ctx, cfg, newLogger(stderr, cfg), nil)
		if err != nil {
			return err
		}
		defer app.Close(context.Background())
		opts.Target, opts.Email, opts.Password = "http://"+app.Addr(), "bench@capstone.example", pw
		opts.MongoURI, opts.Database = app.store.Embedded.URI(), cfg.Database
		fmt.Fprintf(stderr, "benchmarking a fresh service on %s (embedded store)\n", opts.Target)
	} else if *email == "" || *password == "" {
		return fmt.Errorf("--target needs --email and --password (or CAPSTONE_BENCH_PASSWORD)")
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep, err := loadgen.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

// startCPUProfile writes a CPU profile to path until the returned stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
