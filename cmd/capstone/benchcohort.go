package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/capstone-pms/capstone/infra/embedded"
	"github.com/capstone-pms/capstone/tools/cohortbench"
)

// benchCohort is `capstone bench-cohort`: generate a cohort (5,000
// students, 400 supervisors, 5 choices each by default), import it through
// the API, run the allocation, and report each import's rows/s, the
// allocation's solve and answer times, how long after its answer the read
// models show every placement, and the service's peak RSS; next to a raw
// insertOne on the same store, measured in the same run. Without --target
// it starts `capstone serve` (the all-in-one service) as a child process on
// a temporary embedded store, so that the RSS is the service's alone.
func benchCohort(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("bench-cohort", flag.ContinueOnError)
	students := fs.Int("students", 5000, "students in the cohort")
	supervisors := fs.Int("supervisors", 400, "supervisors in the cohort")
	choices := fs.Int("choices", 5, "supervisors each student ranks (1 to 5)")
	seed := fs.Uint64("seed", 1, "seed of the generated cohort and of the allocation")
	out := fs.String("out", "", "only write the cohort's CSV files (supervisors.csv, students.csv, preferences.csv) to this directory, made if need be")
	target := fs.String("target", "", "base URL of a running service with an empty cohort; empty: start capstone serve on a temporary embedded store")
	email := fs.String("email", "", "a coordinator's e-mail (with --target)")
	password := fs.String("password", env("CAPSTONE_BENCH_PASSWORD"), "that coordinator's password (or env CAPSTONE_BENCH_PASSWORD)")
	pid := fs.Int("pid", 0, "the service's process id, for its RSS (with --target, on Linux)")
	mongoURI := fs.String("mongodb-uri", "", "the service's store, for the raw insertOne baseline (with --target)")
	database := fs.String("database", "capstone", "the service's database name")
	err := parseFlags(stdout, stderr, func(w io.Writer) error {
		fs.SetOutput(w)
		return fs.Parse(args)
	})
	if err != nil {
		return err
	}
	if *choices < 1 || *choices > 5 || *students < 1 || *supervisors < *choices {
		return errors.New("give at least one student, 1 to 5 choices and at least as many supervisors as choices")
	}
	files := cohortbench.Generate(cohortbench.Size{Students: *students, Supervisors: *supervisors, Choices: *choices, Seed: *seed})
	if *out != "" {
		// The directory is made if new, as a fresh clone's first run asks.
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for name, b := range map[string][]byte{"supervisors.csv": files.Supervisors, "students.csv": files.Students, "preferences.csv": files.Preferences} {
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote %d supervisors (%d slots), %d students and their preferences to %s\n", *supervisors, files.Slots, *students, *out)
		return nil
	}
	if *target == "" {
		svc, err := startChildService(ctx, stderr)
		if err != nil {
			return err
		}
		defer svc.stop()
		*target, *email, *password, *pid, *mongoURI = svc.base, svc.email, svc.password, svc.pid, svc.uri
	} else if *email == "" || *password == "" {
		return errors.New("--target needs --email and --password (or CAPSTONE_BENCH_PASSWORD)")
	}
	rep, err := cohortbench.Run(ctx, cohortbench.Options{Target: *target, Email: *email, Password: *password, PID: *pid,
		MongoURI: *mongoURI, Database: *database, Files: files, Seed: *seed, Log: stderr})
	if err != nil {
		return err
	}
	return rep.Write(stdout)
}

// childService is `capstone serve` run by bench-cohort.
type childService struct {
	base, email, password, uri string
	pid                        int
	stop                       func()
}

// startChildService starts this binary's `serve` on a free port and a
// temporary data directory, with a coordinator, and waits until it is ready.
func startChildService(ctx context.Context, stderr io.Writer) (*childService, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "capstone-cohort")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	svc := &childService{base: "http://" + addr, email: "bench@capstone.example", password: rand.Text(),
		uri: embedded.SocketURI(filepath.Join(dir, "store.sock"))}
	cmd := exec.CommandContext(ctx, exe, "serve", "--addr", addr, "--data-dir", dir)
	cmd.Env = append(os.Environ(), "CAPSTONE_BOOTSTRAP_EMAIL="+svc.email, "CAPSTONE_BOOTSTRAP_PASSWORD="+svc.password,
		"CAPSTONE_LOG_LEVEL=warn", "CAPSTONE_DEMO=false")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	svc.pid = cmd.Process.Pid
	svc.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		os.RemoveAll(dir)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(svc.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			svc.stop()
			return nil, errors.New("the service did not get ready within a minute")
		}
	}
	fmt.Fprintf(stderr, "benchmarking a fresh all-in-one service (pid %d) on %s\n", svc.pid, svc.base)
	return svc, nil
}
