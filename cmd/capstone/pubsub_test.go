package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// proxy is a TCP forwarder that a test can cut and restore: a real network
// failure between the service and the Pub/Sub emulator.
type proxy struct {
	addr, backend string
	mu            sync.Mutex
	ln            net.Listener
	conns         []net.Conn
}

func newProxy(t *testing.T, backend string) *proxy {
	p := &proxy{backend: backend}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

// cut closes the listener and every connection: Pub/Sub is unreachable.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restore listens again on the same address.
func (p *proxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// startWithPubSub starts the whole service with Google's Pub/Sub fake as the
// bus, with the settings of extra on top.
func startWithPubSub(t *testing.T, emulatorHost string, extra ...string) *service {
	t.Helper()
	s, err := tryStartWithPubSub(t, emulatorHost, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryStartWithPubSub(t *testing.T, emulatorHost string, extra ...string) (*service, error) {
	t.Helper()
	env := map[string]string{
		"CAPSTONE_BOOTSTRAP_EMAIL": adminEmail, "CAPSTONE_BOOTSTRAP_PASSWORD": adminPassword,
		"CAPSTONE_LOG_LEVEL": "error", "PUBSUB_PROJECT_ID": "capstone-test", "PUBSUB_EMULATOR_HOST": emulatorHost,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	dir := t.TempDir()
	cfg, err := config.ParseServe([]string{"--addr", "127.0.0.1:0", "--data-dir", dir}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := &syncBuffer{}
	app, err := StartApp(ctx, cfg, newLogger(logs, cfg), nil)
	if err != nil {
		return nil, err
	}
	s := &service{t: t, app: app, base: "http://" + app.Addr(), dataDir: dir, logs: logs}
	t.Cleanup(s.stop)
	return s, nil
}

// TestPubSubSetupThenCheckOnly: with CAPSTONE_PUBSUB_CREATE=false a process
// creates nothing in Pub/Sub, so it refuses to start before
// `capstone pubsub-setup` and works after it, its commits reaching the read
// models through the subscriptions the set-up made.
func TestPubSubSetupThenCheckOnly(t *testing.T) {
	em, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	_, err = tryStartWithPubSub(t, em.Addr(), "CAPSTONE_PUBSUB_CREATE", "false")
	if !errors.Is(err, pubsub.ErrNotSetUp) || !strings.Contains(err.Error(), "capstone pubsub-setup") {
		t.Fatalf("start before the set-up: %v, want ErrNotSetUp naming capstone pubsub-setup", err)
	}

	env := map[string]string{"PUBSUB_PROJECT_ID": "capstone-test", "PUBSUB_EMULATOR_HOST": em.Addr()}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"pubsub-setup"}, nil, &out, &errOut, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("pubsub-setup: %v\n%s", err, errOut.String())
	}
	for _, g := range projectionGroups {
		if want := pubsub.SubscriptionName(pubsub.CommitsTopic, g) + ": ready"; !strings.Contains(out.String(), want) {
			t.Errorf("pubsub-setup output lacks %q:\n%s", want, out.String())
		}
	}

	s := startWithPubSub(t, em.Addr(), "CAPSTONE_PUBSUB_CREATE", "false")
	admin := s.admin()
	id := s.createUser(admin, "least.privilege@uni.example", "Least Privilege", []string{"student"}, "")
	s.expect(s.do("GET", "/v1/users/"+id+"?min_version=1", admin, nil), 200)

	if err := run(context.Background(), []string{"pubsub-setup"}, nil, io.Discard, io.Discard, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "PUBSUB_PROJECT_ID") {
		t.Errorf("pubsub-setup without a project: %v, want an error naming PUBSUB_PROJECT_ID", err)
	}
}

// TestPubSubBus: with Pub/Sub as the bus, writes reach the read models; while
// Pub/Sub is unreachable commands are still accepted, and once it is back
// every event arrives (the relay publishes what the writer could not).
func TestPubSubBus(t *testing.T) {
	em, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	px := newProxy(t, em.Addr())
	s := startWithPubSub(t, px.addr)
	admin := s.admin()
	first := s.createUser(admin, "via.pubsub@uni.example", "Via PubSub", []string{"student"}, "")
	s.expect(s.do("GET", "/v1/users/"+first+"?min_version=1", admin, nil), 200)

	px.cut()
	var ids []string
	for i := range 10 {
		ids = append(ids, s.createUser(admin, fmt.Sprintf("while.down%d@uni.example", i), "Down", []string{"examiner"}, ""))
	}
	time.Sleep(500 * time.Millisecond)
	px.restore(t)
	for _, id := range ids {
		waitForLong(t, "user "+id+" in the read model", 60*time.Second, func() bool {
			return s.do("GET", "/v1/users/"+id, admin, nil).Status == 200
		})
	}
}

func waitForLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
