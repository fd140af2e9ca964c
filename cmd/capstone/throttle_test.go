package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
)

// from returns s sending from the local address addr (any of 127.0.0.0/8
// reaches the service on Linux), as a client on another machine would.
func (s *service) from(addr string) *service {
	c := *s
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	c.client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 512}}
	return &c
}

// answer is what the attack goroutines keep of a response (they may not
// fail the test themselves).
type answer struct {
	status     int
	code       string
	retryAfter string
	took       time.Duration
	err        error
	body       map[string]any // the JSON object answered, if one was
}

// send sends a request without touching the test (safe from any goroutine).
func (s *service) send(method, path, token string, body any, headers ...string) answer {
	req, err := s.request(method, path, token, body, headers...)
	if err != nil {
		return answer{err: err}
	}
	start := time.Now()
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	var got map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &got)
	code, _ := got["code"].(string)
	return answer{status: resp.StatusCode, code: code, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start), body: got}
}

func (s *service) post(path, token string, body any, headers ...string) answer {
	return s.send("POST", path, token, body, headers...)
}

// meanwhile signs in with c after a moment, in the background, as someone
// else would during an attack; wait returns the answer.
func meanwhile(c *service, after time.Duration, email, password string, headers ...string) (wait func() answer) {
	done := make(chan answer, 1)
	go func() {
		time.Sleep(after)
		done <- c.post("/v1/auth/sign-in", "", map[string]string{"email": email, "password": password}, headers...)
	}()
	return func() answer { return <-done }
}

// burst sends n requests at once (each built by req) and returns their answers.
func burst(n int, req func(i int) answer) []answer {
	out := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func count(as []answer, status int) int {
	n := 0
	for _, a := range as {
		if a.status == status {
			n++
		}
	}
	return n
}

func checkAnswers(t *testing.T, as []answer, allowed ...int) {
	t.Helper()
	for i, a := range as {
		if a.err != nil {
			t.Fatalf("request %d: %v", i, a.err)
		}
		if !slices.Contains(allowed, a.status) {
			t.Fatalf("request %d: status %d (%s), want one of %v", i, a.status, a.code, allowed)
		}
		if (a.status == 429 || a.status == 503) && a.retryAfter == "" {
			t.Fatalf("request %d: %d without Retry-After", i, a.status)
		}
	}
}

// cpuTime is the CPU this process (service and test client) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baseline times sign-ins of one user on a quiet service: the median wall
// time and the mean CPU of one, to judge the attacks against on whatever
// machine runs the test.
func baseline(t *testing.T, s *service, email, password string, headers ...string) (wall, cpu time.Duration) {
	t.Helper()
	var walls []time.Duration
	c0 := cpuTime()
	for range 5 {
		a := s.post("/v1/auth/sign-in", "", map[string]string{"email": email, "password": password}, headers...)
		if a.status != 200 {
			t.Fatalf("baseline sign-in: %d %s %v", a.status, a.code, a.err)
		}
		walls = append(walls, a.took)
	}
	slices.Sort(walls)
	return walls[2], (cpuTime() - c0) / 5
}

// countingHasher counts the passwords the service checks.
type countingHasher struct {
	commands.PasswordHasher
	checks *atomic.Int64
}

func (h countingHasher) Compare(hash, password string) bool {
	h.checks.Add(1)
	return h.PasswordHasher.Compare(hash, password)
}

func (h countingHasher) CompareDummy(password string) {
	h.checks.Add(1)
	h.PasswordHasher.CompareDummy(password)
}

// TestSignInBurstOnOneAccount: 300 concurrent sign-ins for one account
// from one address, the right password among them, sent once the limit of 5
// has been passed while the wrong guesses are still in flight (as soon as
// the first is refused, or once all of them are sent). Attempts are counted
// when they start, so no more than 5 are judged and the right password is
// refused with the rest; those 5 are all the password work the burst
// causes (counted at the hasher), so another user signing in from another
// address meanwhile is served about as fast as on a quiet service, and
// the burst costs about what as many requests refused at once cost, measured
// in the same run, plus those checks.
func TestSignInBurstOnOneAccount(t *testing.T) {
	var checks atomic.Int64
	defer func(p commands.PasswordHasher) { passwordHasher = p }(passwordHasher)
	passwordHasher = countingHasher{PasswordHasher: passwordHasher, checks: &checks}
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "victim@uni.example", "Victim", []string{"student"}, "the victim's password")
	s.createUser(admin, "bystander@uni.example", "Bystander", []string{"student"}, "the bystander's password")
	attacker, bystander := s.from("127.0.0.2"), s.from("127.0.0.3")
	wall0, cpu0 := baseline(t, bystander, "bystander@uni.example", "the bystander's password")

	const n, rights = 300, 3
	// What the requests alone cost here (the HTTP exchange on both sides,
	// a body read and refused, 300 goroutines, and whatever else the test
	// process is doing at the time), measured before the burst and after
	// it: sign-ins whose body is not an object, from an address of their
	// own, are refused (400) before any count or password work.
	refused := s.from("127.0.0.4")
	control := func() time.Duration {
		checksBefore, ctlStart := checks.Load(), cpuTime()
		as := burst(n, func(int) answer {
			return untilNotBusy(func() answer { return refused.post("/v1/auth/sign-in", "", "not an object") })
		})
		took := cpuTime() - ctlStart
		checkAnswers(t, as, 400)
		if c := checks.Load() - checksBefore; c != 0 {
			t.Fatalf("sign-ins refused for their body had %d passwords checked", c)
		}
		return took
	}
	controlBefore := control()

	checksBefore := checks.Load()
	cpuStart, start := cpuTime(), time.Now()
	waitBystander := meanwhile(bystander, 20*time.Millisecond, "bystander@uni.example", "the bystander's password") // the burst is under way
	limitPassed := make(chan struct{})
	var once sync.Once
	pass := func() { once.Do(func() { close(limitPassed) }) }
	var sent sync.WaitGroup
	sent.Add(n - rights)
	go func() { sent.Wait(); time.Sleep(50 * time.Millisecond); pass() }()
	as := burst(n, func(i int) answer {
		if i >= n-rights {
			<-limitPassed
			return untilNotBusy(func() answer {
				return attacker.post("/v1/auth/sign-in", "", map[string]string{"email": "victim@uni.example", "password": "the victim's password"})
			})
		}
		sent.Done()
		a := untilNotBusy(func() answer {
			return attacker.post("/v1/auth/sign-in", "", map[string]string{"email": "victim@uni.example", "password": fmt.Sprintf("guess number %d", i)})
		})
		if a.status == 429 {
			pass()
		}
		return a
	})
	burstWall, burstCPU := time.Since(start), cpuTime()-cpuStart
	during := waitBystander()
	checked := checks.Load() - checksBefore
	controlCPU := max(controlBefore, control())
	t.Logf("baseline sign-in %v (%v CPU); %d requests refused at once: %v CPU; burst of %d: %v, %v CPU (%.1f sign-ins' worth above the refused ones), %d passwords checked (the bystander's among them); bystander during it %v; 401 %d, 200 %d, 429 %d, 503 %d",
		wall0, cpu0, n, controlCPU, n, burstWall, burstCPU, float64(burstCPU-controlCPU)/float64(cpu0), checked, during.took,
		count(as, 401), count(as, 200), count(as, 429), count(as, 503))

	checkAnswers(t, as, 200, 401, 429)
	if judged := count(as, 401) + count(as, 200); judged > 5 {
		t.Fatalf("%d attempts of the burst had their password checked, want at most the limit of 5", judged)
	}
	if count(as, 200) > 0 {
		t.Fatal("the right password got in after the limit was passed")
	}
	if a := attacker.post("/v1/auth/sign-in", "", map[string]string{"email": "victim@uni.example", "password": "the victim's password"}); a.status != 429 {
		t.Fatalf("after the burst the right password from the attacker's address: %d, want 429", a.status)
	}
	if during.status != 200 {
		t.Fatalf("the bystander's sign-in during the burst: %d %s %v", during.status, during.code, during.err)
	}
	if limit := max(time.Second, 10*wall0); during.took > limit {
		t.Fatalf("the bystander's sign-in took %v during the burst, want within %v (baseline %v)", during.took, limit, wall0)
	}
	if checked > 5+1 {
		t.Fatalf("%d passwords were checked during the burst, want at most the limit of 5 and the bystander's", checked)
	}
	if limit := controlCPU + 10*cpu0; burstCPU > limit {
		t.Fatalf("the burst cost %v of CPU: %v for as many requests refused at once, and %.0f sign-ins' worth more; want at most 10 more",
			burstCPU, controlCPU, float64(burstCPU-controlCPU)/float64(cpu0))
	}
}

// TestSignInSprayIsBoundedByTheGate: 300 concurrent wrong sign-ins for as
// many accounts from as many addresses (through a trusted proxy), which no
// throttle stops. The password checks in flight are bounded: the excess is
// answered at once with 503 and Retry-After, the burst is over about a
// second after it started instead of when 300 checks are done, and a
// returning user is served first and signs in meanwhile.
func TestSignInSprayIsBoundedByTheGate(t *testing.T) {
	logs := &syncBuffer{}
	s := startServiceWith(t, t.TempDir(), logs, "--trusted-proxies", "127.0.0.1/32")
	admin := s.admin()
	s.createUser(admin, "regular@uni.example", "Regular", []string{"student"}, "the regular's password")
	home := []string{"X-Forwarded-For", "198.51.100.7"}
	wall0, cpu0 := baseline(t, s, "regular@uni.example", "the regular's password", home...)

	const n = 300
	cpuStart, start := cpuTime(), time.Now()
	waitRegular := meanwhile(s, 50*time.Millisecond, "regular@uni.example", "the regular's password", home...) // the gate is full by then
	as := burst(n, func(i int) answer {
		return s.post("/v1/auth/sign-in", "", map[string]string{"email": fmt.Sprintf("sprayed%d@uni.example", i), "password": "Password1!"},
			"X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256))
	})
	burstWall, burstCPU := time.Since(start), cpuTime()-cpuStart
	during := waitRegular()
	var busy []time.Duration
	for _, a := range as {
		if a.status == 503 {
			busy = append(busy, a.took)
		}
	}
	slices.Sort(busy)
	t.Logf("baseline sign-in %v (%v CPU); spray of %d: %v, %v CPU (%.1f sign-ins' worth); returning user during it %v; 401 %d, 503 %d (median answer %v)",
		wall0, cpu0, n, burstWall, burstCPU, float64(burstCPU)/float64(cpu0), during.took, count(as, 401), len(busy), median(busy))

	checkAnswers(t, as, 401, 503)
	if len(busy) == 0 {
		t.Fatal("no attempt of the spray was refused: the password checks in flight are not bounded")
	}
	for _, a := range as {
		if a.status == 503 && a.code != "busy" {
			t.Fatalf("503 with code %q, want busy", a.code)
		}
	}
	// Shedding load is not a failure: the refusals are a warning each,
	// not an error "request failed".
	if i := strings.Index(logs.String(), `"request failed"`); i >= 0 {
		t.Errorf("the refused sign-ins were logged as failed requests: %.300s", logs.String()[max(0, i-150):])
	}
	if during.status != 200 {
		t.Fatalf("the returning user during the spray: %d %s %v", during.status, during.code, during.err)
	}
	if limit := max(time.Second, 10*wall0); during.took > limit {
		t.Fatalf("the returning user's sign-in took %v during the spray, want within %v (baseline %v)", during.took, limit, wall0)
	}
	if limit := time.Second + 30*wall0; burstWall > limit {
		t.Fatalf("the spray was answered in %v, want within %v: the excess must not queue", burstWall, limit)
	}
	if limit := 100 * cpu0; burstCPU > limit {
		t.Fatalf("the spray cost %v of CPU, %.0f sign-ins' worth; want at most 100 of its 300", burstCPU, float64(burstCPU)/float64(cpu0))
	}
}

// untilNotBusy repeats a request refused with 503 (the password gate was
// full, or the client had too many connections open), as an attacker
// following Retry-After would: on a loaded machine a wave of attempts may
// not all find a slot within a second.
func untilNotBusy(req func() answer) answer {
	a := req()
	for range 20 {
		if a.status != 503 {
			break
		}
		time.Sleep(time.Second)
		a = req()
	}
	return a
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

// TestNoThirdPartyLockout: whoever guesses at an account locks out only
// themselves. The owner signs in from another address at once. Behind the
// guesser's own address (a campus NAT), after 150 failures on 30 accounts
// (past the limit of 100 per address),
// somebody who signed in from there before still signs in at once, and
// somebody new to it waits at most a second: slowed down, never locked out.
func TestNoThirdPartyLockout(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "owner@uni.example", "Owner", []string{"student"}, "the owner's password")
	s.createUser(admin, "regular@uni.example", "Regular", []string{"student"}, "the regular's password")
	s.createUser(admin, "newcomer@uni.example", "Newcomer", []string{"student"}, "the newcomer's password")
	nat := s.from("127.0.0.2")
	nat.signIn("regular@uni.example", "the regular's password") // signs in from the NAT every day

	checkAnswers(t, burst(30, func(i int) answer {
		return untilNotBusy(func() answer {
			return nat.post("/v1/auth/sign-in", "", map[string]string{"email": "owner@uni.example", "password": fmt.Sprintf("guess %d", i)})
		})
	}), 401, 429)
	if a := nat.post("/v1/auth/sign-in", "", map[string]string{"email": "owner@uni.example", "password": "the owner's password"}); a.status != 429 {
		t.Fatalf("the guessing address with the right password: %d, want 429", a.status)
	}
	elsewhere := s.from("127.0.0.3")
	elsewhere.expect(elsewhere.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "owner@uni.example", "password": "the owner's password"}), 200)

	var spray []answer
	for wave := range 15 {
		spray = append(spray, burst(10, func(i int) answer {
			n := wave*10 + i // five guesses at each of 30 accounts: within each pair's limit
			return untilNotBusy(func() answer {
				return nat.post("/v1/auth/sign-in", "", map[string]string{"email": fmt.Sprintf("target%d@uni.example", n%30), "password": fmt.Sprintf("guess %d", n)})
			})
		})...)
	}
	checkAnswers(t, spray, 401, 429)
	t.Logf("the NAT's spray: 401 %d, 429 %d", count(spray, 401), count(spray, 429))
	if count(spray, 429) == 0 {
		t.Fatal("150 failures from one address were never slowed down")
	}

	nat.expect(nat.do("POST", "/v1/auth/sign-in", "", map[string]string{"email": "regular@uni.example", "password": "the regular's password"}), 200)
	newcomer := map[string]string{"email": "newcomer@uni.example", "password": "the newcomer's password"}
	for try := 0; ; try++ {
		a := nat.post("/v1/auth/sign-in", "", newcomer)
		if a.status == 200 {
			t.Logf("the newcomer signed in after %d refusals", try)
			break
		}
		if a.status != 429 || a.retryAfter != "1" || try == 3 {
			t.Fatalf("the newcomer behind the NAT, try %d: %d Retry-After %q, want 200 or a wait of a second", try, a.status, a.retryAfter)
		}
		time.Sleep(time.Second)
	}
}

// TestSignInBehindTrustedProxy: behind the load balancer every peer is the
// proxy. The client is the address the proxy appended, so one client's
// failures do not lock everybody out; and what a client writes into
// X-Forwarded-For itself, directly or through the proxy, does not give it a
// fresh key.
func TestSignInBehindTrustedProxy(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--trusted-proxies", "127.0.0.1/32")
	admin := s.admin()
	s.createUser(admin, "owner@uni.example", "Owner", []string{"student"}, "the owner's password")
	wrong := func(c *service, i int, xff string) answer {
		return c.post("/v1/auth/sign-in", "", map[string]string{"email": "owner@uni.example", "password": fmt.Sprintf("guess %d", i)}, "X-Forwarded-For", xff)
	}
	right := map[string]string{"email": "owner@uni.example", "password": "the owner's password"}

	for i := range 5 { // the attacker is 203.0.113.5 as the proxy sees it
		wrong(s, i, "203.0.113.5")
	}
	for i, xff := range []string{"203.0.113.5", "1.2.3.4, 203.0.113.5", "10.0.0.1,203.0.113.5", "garbage, 203.0.113.5"} {
		if a := wrong(s, 10+i, xff); a.status != 429 {
			t.Fatalf("through the proxy with X-Forwarded-For %q: %d, want 429 (the client is the address the proxy added)", xff, a.status)
		}
	}
	direct := s.from("127.0.0.2") // not a trusted proxy: its X-Forwarded-For is ignored
	for i := range 5 {
		wrong(direct, i, fmt.Sprintf("192.0.2.%d", i))
	}
	if a := wrong(direct, 9, "192.0.2.99"); a.status != 429 {
		t.Fatalf("a client that is no proxy, with a new X-Forwarded-For: %d, want 429", a.status)
	}
	s.expect(s.do("POST", "/v1/auth/sign-in", "", right, "X-Forwarded-For", "198.51.100.7"), 200)
	if !strings.Contains(s.logs.String(), `"client":"203.0.113.5"`) {
		t.Fatal("the failed sign-ins were not logged with the client's address")
	}
}

// TestPasswordChangeThrottle: with a stolen token, 200 parallel guesses at
// the current password get no more than the limit of 5 checked; after
// them even the right current password is refused for a while.
func TestPasswordChangeThrottle(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	s.createUser(admin, "stolen@uni.example", "Stolen", []string{"student"}, "the real current password")
	token := s.signIn("stolen@uni.example", "the real current password")
	put := func(current string) answer {
		return s.send("PUT", "/v1/me/password", token, map[string]string{"current_password": current, "new_password": "the thief's new password"})
	}
	as := burst(200, func(i int) answer {
		return untilNotBusy(func() answer { return put(fmt.Sprintf("guess number %d", i)) })
	})
	checkAnswers(t, as, 422, 429)
	if n := count(as, 422); n > 5 {
		t.Fatalf("%d guesses at the current password were checked, want at most 5", n)
	}
	if a := put("the real current password"); a.status != 429 {
		t.Fatalf("the right current password after the burst: %d %s, want 429", a.status, a.code)
	}
	s.signIn("stolen@uni.example", "the real current password") // unchanged
}
