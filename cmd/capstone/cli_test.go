package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

// TestUsersCreateCLI: `capstone users create` adds a coordinator who can then
// sign in to the server started on the same data dir.
func TestUsersCreateCLI(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"users", "create", "--data-dir", dir, "--email", "Cli@Uni.Example", "--name", "Cli Coord", "--roles", "coordinator", "--log-level", "error"},
		strings.NewReader("a long cli password\n"), &out, &errOut, env)
	if err != nil {
		t.Fatalf("users create: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "cli@uni.example") {
		t.Fatalf("output %q", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), "a long cli password") {
		t.Fatal("the password was echoed")
	}
	err = run(context.Background(), []string{"users", "create", "--data-dir", dir, "--email", "cli@uni.example", "--name", "Again", "--log-level", "error"},
		strings.NewReader("another long password\n"), &out, &errOut, env)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create with the e-mail: %v", err)
	}
	s := startServiceIn(t, dir, &syncBuffer{})
	tok := s.signIn("cli@uni.example", "a long cli password")
	if me := s.expect(s.do("GET", "/v1/me", tok, nil), 200); me.str("name") != "Cli Coord" {
		t.Fatalf("me: %s", me.Raw)
	}
}

// TestServeHelp lists every flag with its environment variable.
func TestServeHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, nil, &out, &errOut, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve --help: %v", err)
	}
	for _, want := range []string{"-addr", "CAPSTONE_ADDR", "-data-dir", "CAPSTONE_DATA_DIR", "-components", "CAPSTONE_COMPONENTS",
		"-mongodb-uri", "MONGODB_URI", "MONGO_CREDS", "-jwt-secret", "CAPSTONE_JWT_SECRET", "CAPSTONE_BOOTSTRAP_EMAIL"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
