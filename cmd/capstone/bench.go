package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/tools/loadgen"
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
	supervisors := fs.Int("supervisors", 0, "supervisors to create, whom list-supervisors lists (default a fifth of --clients, at least 2)")
	duration := fs.Duration("duration", 30*time.Second, "length of the measured phase")
	count := fs.Int("count", 0, "total operations instead of a duration")
	rate := fs.Float64("rate", 0, "operations per second across all clients (0: as fast as they go), e.g. half the sustained rate to measure the lag")
	baseline := fs.Duration("baseline", 0, "duration of each raw baseline operation (default: a third of the run, at least 5s)")
	mixFlag := fs.String("mix", "default", `operations and weights, e.g. "get-project" (reads alone) or "edit-project=3,get-project=1"`)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured run to this file (of this process: with no --target, the service too); with --soak, one per window, to FILE.1, FILE.2, ...")
	memProfile := fs.String("memprofile", "", "write a heap profile after the measured run to this file; with --soak, one at the end of each window, to FILE.1, FILE.2, ...")
	soak := fs.Duration("soak", 0, "hold --rate for this long (e.g. 10m) and judge whether the service stays the same: p99, memory and data per event, window by window; fails when it does not")
	window := fs.Duration("window", 0, "with --soak, the length of a window (default 1m, or a fifth of a shorter soak)")
	dataDir := fs.String("data-dir", "", "with --soak and --target, the target's data directory, whose size is judged against the events it holds")
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
		Count: *count, Rate: *rate, MongoURI: *mongoURI, Database: *database, BaselineDuration: *baseline, Log: stderr, Mix: mix,
		Supervisors: *supervisors}
	if *soak > 0 {
		if err := soakOptions(&opts, *soak, *window, *count); err != nil {
			return err
		}
	}
	if *memProfile != "" {
		runtime.MemProfileRate = memProfileRate // before anything is allocated, so the profile sees it
	}
	if *dataDir != "" {
		opts.DataBytes = func() int64 { return dirSize(*dataDir) }
	}
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
		opts.DataBytes = func() int64 { return dirSize(dir) }
		fmt.Fprintf(stderr, "benchmarking a fresh service on %s (embedded store)\n", opts.Target)
	} else if *email == "" || *password == "" {
		return fmt.Errorf("--target needs --email and --password (or CAPSTONE_BENCH_PASSWORD)")
	}
	if *soak > 0 {
		opts.MongoURI = "" // the raw baseline says nothing about drift
		profiles, err := newWindowProfiles(*cpuProfile, *memProfile, int((opts.Duration+opts.Window-1)/opts.Window))
		if err != nil {
			return err
		}
		defer profiles.stop()
		opts.WindowEnded = profiles.next
	} else if *cpuProfile != "" {
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
	if *memProfile != "" && *soak == 0 {
		if err := writeHeapProfile(*memProfile); err != nil {
			return err
		}
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil || *soak == 0 {
		return err
	}
	verdict := loadgen.Judge(rep.Windows)
	if !*asJSON {
		if err := loadgen.WriteSoak(stdout, rep.Windows, verdict); err != nil {
			return err
		}
	}
	if !verdict.OK {
		return errSoakFailed
	}
	return nil
}

// errSoakFailed is a soak whose verdict is a failure (the command fails).
var errSoakFailed = errors.New("the soak's verdict is FAIL: the service did not stay the same under a constant load")

// soakOptions makes a run a soak of length d: a constant offered load, in
// windows of w (default a minute, or a fifth of a shorter soak).
func soakOptions(o *loadgen.Options, d, w time.Duration, count int) error {
	if o.Rate <= 0 {
		return errors.New("--soak holds a constant offered load: give it a --rate (operations per second)")
	}
	if count > 0 {
		return errors.New("--soak runs for a time, not a --count")
	}
	if w == 0 {
		w = min(time.Minute, d/5)
	}
	if w <= 0 || w > d/2 {
		return fmt.Errorf("--window %s: a soak of %s needs at least two windows", w, d)
	}
	o.Duration, o.Window = d, w
	return nil
}

// dirSize is the size of the files under dir (0 if it cannot be read).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// windowProfiles writes a CPU profile of each window of a soak, and a heap
// profile at the end of each, to FILE.1, FILE.2, ...
type windowProfiles struct {
	cpu, mem string
	windows  int
	stopCPU  func()
}

func newWindowProfiles(cpu, mem string, windows int) (*windowProfiles, error) {
	p := &windowProfiles{cpu: cpu, mem: mem, windows: windows}
	if cpu != "" {
		stop, err := startCPUProfile(cpu + ".1")
		if err != nil {
			return nil, err
		}
		p.stopCPU = stop
	}
	return p, nil
}

// next ends window n's profiles and starts the next window's CPU profile.
func (p *windowProfiles) next(n int) {
	if p.stopCPU != nil {
		p.stopCPU()
		p.stopCPU = nil
		if n < p.windows {
			if stop, err := startCPUProfile(fmt.Sprintf("%s.%d", p.cpu, n+1)); err == nil {
				p.stopCPU = stop
			}
		}
	}
	if p.mem != "" {
		_ = writeHeapProfile(fmt.Sprintf("%s.%d", p.mem, n))
	}
}

func (p *windowProfiles) stop() {
	if p.stopCPU != nil {
		p.stopCPU()
	}
}

// memProfileRate samples an allocation every 16 KiB (the default, 512 KiB,
// leaves most of a service's few tens of MiB unseen).
const memProfileRate = 16 << 10

// writeHeapProfile writes a heap profile (after a collection) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(f)
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
