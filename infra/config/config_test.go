package config

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := ParseServe(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || !slices.Equal(c.Components, Components) || !c.Embedded() ||
		c.Database != "capstone" || c.TokenTTL != 12*time.Hour || c.LogFormat != "json" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestEnvAndFlags(t *testing.T) {
	env := envOf(map[string]string{"CAPSTONE_ADDR": ":9000", "CAPSTONE_COMPONENTS": "projector", "MONGODB_URI": "mongodb://u:pw@h/"})
	c, err := ParseServe([]string{"--addr", ":9100"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9100" {
		t.Errorf("a flag must win over the environment: %s", c.Addr)
	}
	if !c.Has("projector") || c.Has("api") || c.Embedded() {
		t.Errorf("components/uri from env: %+v", c)
	}
	if strings.Contains(c.String(), "pw") {
		t.Errorf("String() shows the password: %s", c)
	}
}

func TestMongoCreds(t *testing.T) {
	c, err := ParseServe(nil, envOf(map[string]string{"MONGO_CREDS": `{"username":"app","password":"p@ss/w","cluster_id":"cluster0.ab1cd"}`}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.MongoURI != "mongodb+srv://app:p%40ss%2Fw@cluster0.ab1cd.mongodb.net/?retryWrites=true&w=majority" {
		t.Fatalf("uri %s", c.MongoURI)
	}
	if strings.Contains(c.String(), "p%40ss") {
		t.Fatalf("String() shows the password: %s", c)
	}
	for _, bad := range []string{`nope`, `{"username":"a"}`} {
		if _, err := ParseServe(nil, envOf(map[string]string{"MONGO_CREDS": bad}), io.Discard); err == nil {
			t.Errorf("MONGO_CREDS %q accepted", bad)
		}
	}
}

func TestRefusals(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown component": {"--components", "api,web"},
		"bad ttl":           {"--token-ttl", "forever"},
		"tiny ttl":          {"--token-ttl", "1s"},
		"bad log format":    {"--log-format", "xml"},
		"bad database":      {"--database", "a/b"},
		"stray argument":    {"extra"},
	} {
		if _, err := ParseServe(args, envOf(nil), io.Discard); err == nil {
			t.Errorf("%s: accepted %v", name, args)
		}
	}
	if _, err := ParseServe(nil, envOf(map[string]string{"CAPSTONE_BOOTSTRAP_EMAIL": "a@b.c"}), io.Discard); err == nil {
		t.Error("a bootstrap e-mail without a password was accepted")
	}
}
