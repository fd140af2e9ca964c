package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/embedded"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// devProcesses is the topology `capstone dev` runs: the components as
// production runs them, one OS process each (name, --components).
var devProcesses = []struct{ name, components string }{
	{"api1", "api"}, {"api2", "api"}, {"relay", "relay"}, {"projector1", "projector"}, {"projector2", "projector"},
}

// devTopology is `capstone dev`: the whole multi-process topology on one
// machine, for trying it out. The store (on a Unix socket only this user can
// reach) and the Pub/Sub emulator run in this process; two API replicas, the
// relay and two projectors run as child processes on the ports given or
// free ones, never the default ports of a real MongoDB or emulator. Nothing
// is exported into the shell: the children get their settings from here.
// Ctrl-C or SIGTERM stops the children, then the emulator and the store; if
// any child dies, everything is stopped and the command fails.
func devTopology(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dir := fs.String("data-dir", "./data-dev", "directory of the store's files (kept between runs)")
	addr1 := fs.String("addr", "127.0.0.1:8080", "the first API replica's listen address")
	addr2 := fs.String("addr2", "127.0.0.1:8082", "the second API replica's listen address (8081 is the original frontend's, see --legacy-ui-addr)")
	demo := config.Bool(fs, "demo", false, "load the demo cohort into an empty store (as serve --demo)")
	logLevel := fs.String("log-level", "warn", "the processes' log level (debug, info, warn, error)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: capstone dev [flags]\n\n"+
			"Runs the whole local topology: the embedded store and the Pub/Sub emulator in this process, two API\n"+
			"replicas, the relay and two projectors as processes of their own. Ctrl-C stops everything.\n"+
			"CAPSTONE_BOOTSTRAP_EMAIL and CAPSTONE_BOOTSTRAP_PASSWORD create the first coordinator, as for serve.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(stdout, stderr, func(w io.Writer) error { fs.SetOutput(w); return fs.Parse(args) }); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	addrs := map[string]string{"api1": *addr1, "api2": *addr2}
	for _, p := range devProcesses {
		if addrs[p.name] == "" {
			if addrs[p.name], err = freeLoopback(); err != nil {
				return err
			}
		}
	}
	for name, flag := range map[string]string{"api1": "--addr", "api2": "--addr2"} { // a busy port is found before anything starts
		ln, err := listen(addrs[name], flag)
		if err != nil {
			return err
		}
		_ = ln.Close()
	}

	store, err := embedded.Start(ctx, embedded.Options{DataDir: *dir})
	if err != nil {
		return dataDirInUse(err, nil)
	}
	defer store.Close()
	if err := store.PrepareCollections(ctx, "capstone", embeddedCollections()...); err != nil {
		return err
	}
	emulator, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer emulator.Close()

	common := []string{"MONGODB_URI=" + store.URI(), "CAPSTONE_DATABASE=capstone", "PUBSUB_PROJECT_ID=capstone-local",
		"PUBSUB_EMULATOR_HOST=" + emulator.Addr(),
		"CAPSTONE_LOG_LEVEL=" + *logLevel, "CAPSTONE_LOG_FORMAT=text", "MONGO_CREDS=", "GOOGLE_CLOUD_PROJECT=", "CAPSTONE_DEMO=", "CAPSTONE_METRICS_ADDR="}
	// Tokens and bookmarks are signed with the secret kept in the store (as
	// any serve on it given none would use), not one of this run's: an extra
	// process given the printed MONGODB_URI accepts the children's, and a
	// restart keeps everyone signed in. One in the environment is theirs.
	secretFrom := "CAPSTONE_JWT_SECRET, from your environment"
	if env("CAPSTONE_JWT_SECRET") == "" {
		secret, err := imongo.JWTSecretAt(ctx, store.URI(), "capstone")
		if err != nil {
			return err
		}
		common = append(common, "CAPSTONE_JWT_SECRET="+string(secret))
		secretFrom = "the secret kept in the store (any serve given this MONGODB_URI and no CAPSTONE_JWT_SECRET uses it)"
	}
	group := &devGroup{stderr: stderr, died: make(chan string, len(devProcesses))}
	defer group.stop()
	for _, p := range devProcesses {
		extra := []string{"CAPSTONE_COMPONENTS=" + p.components, "CAPSTONE_ADDR=" + addrs[p.name]}
		if p.name != "api1" { // the first replica alone creates the first coordinator and the demo
			extra = append(extra, "CAPSTONE_BOOTSTRAP_EMAIL=", "CAPSTONE_BOOTSTRAP_PASSWORD=")
		} else if *demo {
			extra = append(extra, "CAPSTONE_DEMO=true")
		}
		if err := group.start(bin, p.name, append(common, extra...)); err != nil {
			return err
		}
		if err := group.waitReady(ctx, p.name, addrs[p.name]); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "capstone dev: the local topology is up (Ctrl-C stops it all)\n")
	fmt.Fprintf(stdout, "  API          http://%s  http://%s\n", addrs["api1"], addrs["api2"])
	for _, p := range devProcesses {
		fmt.Fprintf(stdout, "  %-12s pid %d, health and metrics on http://%s\n", p.name, group.pid(p.name), addrs[p.name])
	}
	fmt.Fprintf(stdout, "  store        MONGODB_URI='%s' (a Unix socket only this user can reach; files in %s)\n", store.URI(), *dir)
	fmt.Fprintf(stdout, "  Pub/Sub      PUBSUB_EMULATOR_HOST=%s PUBSUB_PROJECT_ID=capstone-local\n", emulator.Addr())
	fmt.Fprintf(stdout, "  tokens       signed with %s\n", secretFrom)
	if email := env("CAPSTONE_BOOTSTRAP_EMAIL"); email != "" {
		fmt.Fprintf(stdout, "  sign in as   %s (CAPSTONE_BOOTSTRAP_PASSWORD) on either API\n", email)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "capstone dev: stopping")
		return nil
	case name := <-group.died:
		return fmt.Errorf("%s stopped on its own: stopped everything else too", name)
	}
}

// freeLoopback picks a free loopback port for an internal listener.
func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// devGroup is the children of `capstone dev`: each in a process group of its
// own (Ctrl-C reaches this process alone, which stops them in order) and, on
// Linux, killed by the kernel if this process dies first.
type devGroup struct {
	stderr io.Writer
	mu     sync.Mutex
	procs  []*devChild
	died   chan string // names of children that ended while not asked to
}

type devChild struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
	tail     []string // the last lines it printed, for an error
}

func (g *devGroup) start(bin, name string, env []string) error {
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	c := &devChild{name: name, cmd: cmd, done: make(chan struct{})}
	g.mu.Lock()
	g.procs = append(g.procs, c)
	g.mu.Unlock()
	lines := make(chan struct{})
	go func() { // its output, each line prefixed with its name
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			g.mu.Lock()
			fmt.Fprintf(g.stderr, "%-10s | %s\n", name, sc.Text())
			c.tail = append(c.tail[max(0, len(c.tail)-9):], sc.Text())
			g.mu.Unlock()
		}
	}()
	go func() {
		<-lines
		_ = cmd.Wait()
		g.mu.Lock()
		asked := c.stopping
		g.mu.Unlock()
		close(c.done)
		if !asked {
			g.died <- name
		}
	}()
	return nil
}

func (g *devGroup) pid(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.procs {
		if c.name == name {
			return c.cmd.Process.Pid
		}
	}
	return 0
}

// waitReady waits for a child's /readyz, failing if it ends first.
func (g *devGroup) waitReady(ctx context.Context, name, addr string) error {
	g.mu.Lock()
	c := g.procs[len(g.procs)-1]
	g.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			g.mu.Lock()
			defer g.mu.Unlock()
			return fmt.Errorf("%s ended while starting:\n  %s", name, strings.Join(c.tail, "\n  "))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not ready on %s after 90 s", name, addr)
		}
	}
}

// stop sends SIGTERM to every child still running, in reverse order of
// start (the APIs last: they drain their requests), and waits for each;
// one that has not ended within 30 s is killed.
func (g *devGroup) stop() {
	g.mu.Lock()
	procs := append([]*devChild(nil), g.procs...)
	for _, c := range procs {
		c.stopping = true
	}
	g.mu.Unlock()
	for _, c := range procs {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	for i := len(procs) - 1; i >= 0; i-- {
		c := procs[i]
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}
