package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/bus"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// cluster is the product run as separate OS processes, as in production:
// one shared store, the Pub/Sub emulator, API replicas, a relay and
// projector replicas.
type cluster struct {
	t      *testing.T
	bin    string
	dir    string
	env    []string
	mongo  string
	pubsub string
	procs  map[string]*exec.Cmd
	addrs  map[string]string
	mu     sync.Mutex
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// buildBinary builds the capstone binary once for every test that runs it
// as a process (removed by TestMain when the tests end).
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.path = filepath.Join(binaryDir, "capstone")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

var binary struct {
	once sync.Once
	path string
	err  error
}

// start runs `capstone args...` as process name, logging to a file.
func (c *cluster) start(name string, extraEnv []string, args ...string) {
	c.t.Helper()
	// Appended to: a process started again (after a kill) keeps what the
	// one before it logged, which is what explains a failure.
	log, err := os.OpenFile(filepath.Join(c.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(append(os.Environ(), c.env...), extraEnv...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.procs[name] = cmd
	c.mu.Unlock()
}

// startStore starts the store (dev-store) on c.mongo, on the cluster's data.
func (c *cluster) startStore() {
	c.start("store", nil, "dev-store", "--addr", c.mongo, "--data-dir", filepath.Join(c.dir, "data"))
}

// serve starts a service process with the given components and waits until it is ready.
func (c *cluster) serve(name, components string, extraEnv ...string) {
	c.t.Helper()
	addr := c.addrs[name]
	if addr == "" {
		addr = freeAddr(c.t)
		c.addrs[name] = addr
	}
	c.start(name, append(extraEnv, "CAPSTONE_COMPONENTS="+components, "CAPSTONE_ADDR="+addr), "serve")
	c.waitReady(name, addr)
}

func (c *cluster) waitReady(name, addr string) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			c.dump(name)
			c.t.Fatalf("%s is not ready on %s", name, addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loadOpenProjects turns the limit on a student's open projects off for the
// clusters under load: their students propose again and again, and what
// they test is that no write is lost and the replicas converge, not that
// limit.
const loadOpenProjects = "CAPSTONE_MAX_OPEN_PROJECTS=0"

// serveAll starts, on the running store and emulator, two APIs (the first
// creating the bootstrap coordinator), a relay and two projectors.
func (c *cluster) serveAll() {
	c.t.Helper()
	c.env = []string{"MONGODB_URI=mongodb://" + c.mongo + "/", "PUBSUB_PROJECT_ID=capstone-test", "PUBSUB_EMULATOR_HOST=" + c.pubsub,
		"CAPSTONE_JWT_SECRET=a-test-secret-that-is-long-enough-0123456789", "CAPSTONE_LOG_LEVEL=warn", loadOpenProjects}
	c.serve("api1", "api", "CAPSTONE_BOOTSTRAP_EMAIL="+adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD="+adminPassword)
	c.serve("api2", "api")
	c.serve("relay", "relay")
	c.serve("proj1", "projector")
	c.serve("proj2", "projector")
}

func (c *cluster) kill(name string) {
	c.mu.Lock()
	cmd := c.procs[name]
	c.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range c.procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range c.procs {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
}

func (c *cluster) dump(name string) {
	raw, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
	lines := strings.Split(string(raw), "\n")
	c.t.Logf("--- %s (last lines)\n%s", name, strings.Join(lines[max(0, len(lines)-30):], "\n"))
}

// TestConvergenceAcrossProcesses: 2 APIs, 1 relay and 2 projector replicas
// as separate processes on one store and the Pub/Sub emulator, under a
// random workload from concurrent clients; one projector is SIGKILLed and
// restarted mid-run and duplicated, reordered deliveries are injected. At the
// end every read model equals a fresh rebuild from the store (invariant "read models converge").
func TestConvergenceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs seven processes")
	}
	c := &cluster{t: t, bin: buildBinary(t), dir: t.TempDir(), procs: map[string]*exec.Cmd{}, addrs: map[string]string{}}
	t.Cleanup(c.stopAll)
	c.mongo, c.pubsub = freeAddr(t), freeAddr(t)
	c.startStore()
	c.start("emulator", nil, "pubsub-emulator", "--addr", c.pubsub)
	time.Sleep(time.Second)
	c.serveAll()

	apis := []*service{{t: t, base: "http://" + c.addrs["api1"]}, {t: t, base: "http://" + c.addrs["api2"]}}
	admin := apis[0].admin()
	apis[1].expect(apis[1].do("GET", "/v1/me", admin, nil), 200) // replicas accept each other's tokens

	// A few students with passwords, signed in on either API.
	type student struct{ id, token string }
	var students []student
	for i := range 6 {
		email := fmt.Sprintf("conv%d@uni.example", i)
		id := apis[0].createUser(admin, email, fmt.Sprint("Student ", i), []string{"student"}, "convergence password")
		students = append(students, student{id, apis[i%2].signIn(email, "convergence password")})
	}

	// Duplicates and reordering: republish random stored commits, shuffled.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + c.mongo + "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database("capstone")
	pub, err := pubsub.NewPublisher(ctx, pubsub.Config{ProjectID: "capstone-test", EmulatorHost: c.pubsub})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var injected atomic.Int64
	var chaos sync.WaitGroup
	chaos.Add(1)
	go func() {
		defer chaos.Done()
		es := imongo.NewEventStore(db, events.NewRegistry(events.All()...))
		p := &bus.Publisher{Pub: pub, Topic: bus.Topic}
		for ctx.Err() == nil {
			var commits []events.Commit
			_, _ = es.Scan(ctx, time.Now().Add(-3*time.Second), func(c events.Commit) error { commits = append(commits, c); return nil })
			rand.Shuffle(len(commits), func(i, j int) { commits[i], commits[j] = commits[j], commits[i] })
			for _, cm := range commits[:min(len(commits), 20)] {
				if p.Publish(ctx, cm) == nil {
					injected.Add(1)
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
	}()

	// The workload: concurrent clients on both APIs.
	var ops, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			st := students[w%len(students)]
			var mine []string
			for i := 0; i < 250; i++ {
				api := apis[rng.IntN(2)]
				var r response
				switch k := rng.IntN(10); {
				case k < 3 || len(mine) == 0:
					r = api.do("POST", "/v1/projects", st.token, map[string]string{"title": fmt.Sprintf("P %d-%d", w, i)})
					if r.Status == 201 {
						mine = append(mine, r.str("id"))
					}
				case k < 8:
					r = api.do("PATCH", "/v1/projects/"+mine[rng.IntN(len(mine))], st.token, map[string]string{"aim": fmt.Sprint("aim ", i)})
				case k < 9:
					r = api.do("PATCH", "/v1/users/"+st.id, st.token, map[string]string{"name": fmt.Sprintf("Student %d.%d", w, i)})
				default:
					r = api.do("POST", "/v1/users", admin, map[string]any{"email": fmt.Sprintf("w%d-%d@uni.example", w, i), "name": "Extra", "roles": []string{"examiner"}})
				}
				ops.Add(1)
				if r.Status >= 500 || r.Status == 0 {
					failures.Add(1)
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	c.kill("proj1") // mid-run
	time.Sleep(2 * time.Second)
	c.serve("proj1", "projector")
	wg.Wait()
	cancel()
	chaos.Wait()
	if failures.Load() > 0 {
		c.dump("api1")
		t.Fatalf("%d of %d requests failed with 5xx or no answer", failures.Load(), ops.Load())
	}
	t.Logf("%d requests, %d duplicated/reordered deliveries injected", ops.Load(), injected.Load())

	// Converge: the outbox empties and a rebuild equals the live read models.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var out strings.Builder
		cmd := exec.Command(c.bin, "replay", "--verify", "--log-level", "error")
		cmd.Env = append(os.Environ(), c.env...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		backlog, _ := db.Collection("outbox").CountDocuments(context.Background(), bson.D{})
		if err == nil && backlog == 0 {
			t.Logf("converged:\n%s", out.String())
			break
		}
		if time.Now().After(deadline) {
			for _, n := range []string{"proj1", "proj2", "relay"} {
				c.dump(n)
			}
			t.Fatalf("read models did not converge (outbox backlog %d):\n%s", backlog, out.String())
		}
		time.Sleep(2 * time.Second)
	}
	var status map[string]any
	r := apis[1].expect(apis[1].do("GET", "/v1/admin/projections", admin, nil), 200)
	_ = json.Unmarshal([]byte(r.Raw), &status)
	t.Logf("projection status: %.500s", r.Raw)
}
