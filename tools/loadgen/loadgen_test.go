package loadgen

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestAccounting runs a fixed number of operations against the fake API and
// checks that every request the fake served is counted once under the right
// operation, that injected failures are errors by status and that refused
// acceptances are expected outcomes, not errors.
func TestAccounting(t *testing.T) {
	f, url := startFake(t, &fakeAPI{failEveryPatch: 4})
	const clients, count = 8, 800
	var log strings.Builder
	rep, err := Run(context.Background(), Options{Target: url + "/", Email: fakeAdminEmail, Password: fakeAdminPassword,
		Clients: clients, Count: count, LagEvery: -1, AcceptRate: 0.3, Seed: 7, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	f.mu.Lock()
	defer f.mu.Unlock()

	if rep.Total != count || rep.Clients != clients || rep.Supervisors != 2 {
		t.Fatalf("total %d, clients %d, supervisors %d", rep.Total, rep.Clients, rep.Supervisors)
	}
	sum := 0
	for _, o := range rep.Ops {
		sum += o.Count
		if o.Count == 0 {
			t.Errorf("%s never ran", o.Name)
		}
	}
	if sum != count || len(rep.Ops) != len(opOrder) {
		t.Fatalf("ops add up to %d in %d operations", sum, len(rep.Ops))
	}
	// Setup: the coordinator, 2 supervisors and 8 students signed in; each
	// student made a draft and a submitted proposal and read the draft back;
	// after the measured phase, the drain read each client's last write.
	sup := rep.Op(OpSignIn).Count + 1 + 2 + clients
	for route, want := range map[string]int{
		"POST /v1/auth/sign-in":            sup,
		"GET /v1/supervisors":              rep.Op(OpListSupervisors).Count,
		"GET /v1/projects/{id}":            rep.Op(OpGetProject).Count + 2*clients, // setup and drain read once per client; no lag probes; no refreshes (no 412)
		"GET /v1/projects":                 rep.Op(OpListProjects).Count,
		"PATCH /v1/projects/{id}":          rep.Op(OpEditProject).Count,
		"POST /v1/projects":                rep.Op(OpCreateSubmit).Count + 2*clients,
		"POST /v1/projects/{id}/decision":  rep.Op(OpDecide).Count,
		"POST /v1/users":                   2 + clients,
		"PUT /v1/supervisors/{id}/profile": 2,
		"DELETE /v1/users/{id}":            2 + clients,
	} {
		if f.hits[route] != want {
			t.Errorf("%s: the fake served %d, the report accounts for %d", route, f.hits[route], want)
		}
	}
	if f.created["submitted"] != rep.Op(OpCreateSubmit).Count+clients || f.created["draft"] != clients {
		t.Errorf("created %v", f.created)
	}
	edit := rep.Op(OpEditProject)
	if f.patch500 == 0 || edit.Errors != f.patch500 || edit.ErrorsByStatus[500] != f.patch500 || len(edit.ErrorsByStatus) != 1 {
		t.Errorf("edit errors %d %v, the fake failed %d", edit.Errors, edit.ErrorsByStatus, f.patch500)
	}
	dec := rep.Op(OpDecide)
	if f.accepts == 0 || dec.Errors != 0 || dec.Expected[codeCapacityReached] != f.accepts ||
		dec.Count != f.accepts+f.rejects {
		t.Errorf("decide: %+v; the fake saw %d accepts, %d rejects", dec, f.accepts, f.rejects)
	}
	if rep.Errors != f.patch500 {
		t.Errorf("%d errors in all, want only the %d injected", rep.Errors, f.patch500)
	}
	if rep.Lag.Polls != clients || rep.Lag.DrainTimedOut { // the drain's one GET per client
		t.Errorf("lag %+v", rep.Lag)
	}
	if f.deleted != 2+clients {
		t.Errorf("cleanup deleted %d users", f.deleted)
	}
	// The mix: the two 25% reads are about half of everything.
	reads := rep.Op(OpListSupervisors).Count + rep.Op(OpGetProject).Count
	if reads < count*40/100 || reads > count*60/100 {
		t.Errorf("%d of %d were the 50%% reads", reads, count)
	}
	for _, o := range rep.Ops {
		if o.P50 <= 0 || o.P50 > o.P95 || o.P95 > o.P99 || o.P99 > o.Max || o.PerSec <= 0 {
			t.Errorf("%s: p50 %s p95 %s p99 %s max %s, %.1f/s", o.Name, o.P50, o.P95, o.P99, o.Max, o.PerSec)
		}
	}
	if rep.Baseline != nil || rep.Ratios != nil || rep.Lag.Samples != 0 {
		t.Errorf("baseline %v, ratios %v, lag %+v without asking", rep.Baseline, rep.Ratios, rep.Lag)
	}
}

// TestDurationAndLag runs for a duration against a fake whose read side
// lags 20 ms: the lag samples show at least that, and the run stops on time.
func TestDurationAndLag(t *testing.T) {
	const lag = 20 * time.Millisecond
	_, url := startFake(t, &fakeAPI{lag: lag})
	rep, err := Run(context.Background(), Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword,
		Clients: 4, Duration: 700 * time.Millisecond, LagEvery: 1,
		Mix: Mix{OpEditProject: 1, OpCreateSubmit: 1, OpDecide: 1, OpGetProject: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Elapsed < 700*time.Millisecond || rep.Elapsed > 3*time.Second {
		t.Errorf("elapsed %s", rep.Elapsed)
	}
	if len(rep.Ops) != 4 || rep.Errors != 0 || rep.Total == 0 {
		t.Fatalf("ops %+v", rep.Ops)
	}
	l := rep.Lag
	if l.Samples == 0 || l.P50 < lag || l.Max > lag+time.Second || l.Timeouts != 0 || l.Failed != 0 ||
		l.DrainTimedOut || l.Drain > lag+time.Second || l.Polls < l.Samples {
		t.Fatalf("lag %+v", l)
	}
	t.Logf("%d operations, lag %+v", rep.Total, l)
}

func TestSetupFailures(t *testing.T) {
	f, url := startFake(t, &fakeAPI{})
	f.mu.Lock()
	f.addUser("student@uni.example", "student pw 123", []string{"student"})
	f.mu.Unlock()
	ctx := context.Background()
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Target: url, Email: fakeAdminEmail, Password: "wrong password"}, "status 401"},
		{Options{Target: url, Email: "student@uni.example", Password: "student pw 123"}, "not a coordinator"},
		{Options{Target: "localhost:8080", Email: "a@b.c", Password: "p"}, "not an http(s) URL"},
		{Options{Target: url}, "e-mail and password are required"},
		{Options{Target: url, Email: "a@b.c", Password: "p", Mix: Mix{"delete-everything": 1}}, `unknown operation "delete-everything"`},
		{Options{Target: url, Email: "a@b.c", Password: "p", Mix: Mix{OpSignIn: 0}}, "no operation with a weight"},
		{Options{Target: url, Email: "a@b.c", Password: "p", Clients: -1}, "negative"},
	} {
		_, err := Run(ctx, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opts, err, c.want)
		}
	}
}

// TestSetupWaitsOutABusyService: sign-ins the service refuses for now
// (503 with Retry-After, as it does while many passwords are checked at
// once) are sent again after the wait it asks for, and the run goes on.
func TestSetupWaitsOutABusyService(t *testing.T) {
	f, url := startFake(t, &fakeAPI{busySignIns: 6})
	rep, err := Run(context.Background(), Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword,
		Clients: 4, Count: 40, LagEvery: -1, Seed: 3})
	if err != nil {
		t.Fatalf("a run against a service busy for a moment: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rep.Total != 40 || f.busySignIns != 0 {
		t.Fatalf("total %d, refusals left %d", rep.Total, f.busySignIns)
	}
}

// TestCancel: cancelling the context ends the measured phase and returns
// what was measured with the error.
func TestCancel(t *testing.T) {
	_, url := startFake(t, &fakeAPI{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	rep, err := Run(ctx, Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword, Clients: 2, Duration: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("error %v", err)
	}
	if rep.Total == 0 || rep.Errors != 0 || rep.Elapsed > 10*time.Second {
		t.Fatalf("report: %d operations, %d errors in %s", rep.Total, rep.Errors, rep.Elapsed)
	}
}

// TestRate: with a Rate the clients together stay at it (the fake answers at
// once, so without the limit they would issue thousands of operations).
func TestRate(t *testing.T) {
	_, url := startFake(t, &fakeAPI{})
	rep, err := Run(context.Background(), Options{Target: url, Email: fakeAdminEmail, Password: fakeAdminPassword,
		Clients: 4, Duration: time.Second, Rate: 40, LagEvery: -1, Mix: Mix{OpGetProject: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total < 20 || rep.Total > 60 {
		t.Fatalf("%d operations in 1 s at 40/s", rep.Total)
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mix
		err  string
	}{
		{"", DefaultMix(), ""},
		{"default", DefaultMix(), ""},
		{"get-project", Mix{OpGetProject: 1}, ""},
		{"get-project=3, edit-project=1", Mix{OpGetProject: 3, OpEditProject: 1}, ""},
		{"get-project=x", nil, `weight "x" of get-project`},
		{"get-project=-1", nil, `weight "-1" of get-project`},
		{"drop-db=1", nil, `unknown operation "drop-db"`},
	} {
		got, err := ParseMix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMix(%q) error = %v, want it to mention %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParseMix(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
