package config

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
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

// TestBooleanSpellings: every boolean setting takes the usual spellings in
// any case, from the environment and from a flag, and refuses anything else
// with an error that names the variable (CAPSTONE_DEMO=yes was ignored).
func TestBooleanSpellings(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	randomCase := func(s string) string {
		b := []byte(s)
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = byte(unicode.ToUpper(rune(b[i])))
			}
		}
		return string(b)
	}
	for _, sp := range []struct {
		word string
		want bool
	}{{"true", true}, {"1", true}, {"yes", true}, {"on", true}, {"false", false}, {"0", false}, {"no", false}, {"off", false}} {
		for range 4 {
			word := randomCase(sp.word)
			c, err := ParseServe(nil, envOf(map[string]string{"CAPSTONE_DEMO": word}), io.Discard)
			if err != nil || c.Demo != sp.want {
				t.Errorf("CAPSTONE_DEMO=%s: demo %v, err %v; want %v", word, c.Demo, err, sp.want)
			}
			c, err = ParseServe([]string{"--demo=" + word}, envOf(nil), io.Discard)
			if err != nil || c.Demo != sp.want {
				t.Errorf("--demo=%s: demo %v, err %v; want %v", word, c.Demo, err, sp.want)
			}
		}
	}
	if c, err := ParseServe([]string{"--demo"}, envOf(nil), io.Discard); err != nil || !c.Demo {
		t.Errorf("--demo alone: %v %v", c.Demo, err)
	}
	for _, bad := range []string{"maybe", "y", "enabled", "tru", "2"} {
		_, err := ParseServe(nil, envOf(map[string]string{"CAPSTONE_DEMO": bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "CAPSTONE_DEMO") || strings.Contains(err.Error(), "\n") {
			t.Errorf("CAPSTONE_DEMO=%s: %v, want one line naming the variable", bad, err)
		}
		if _, err := ParseServe([]string{"--demo=" + bad}, envOf(nil), io.Discard); err == nil {
			t.Errorf("--demo=%s accepted", bad)
		}
	}
}

// TestCheckSecrets: a short JWT secret or a bootstrap password the policy
// refuses is reported by the settings check, before anything starts.
func TestCheckSecrets(t *testing.T) {
	for name, c := range map[string]Config{
		"short secret":            {JWTSecret: "too-short"},
		"weak bootstrap password": {BootstrapEmail: "a@b.example", BootstrapPassword: "short"},
	} {
		if err := c.CheckSecrets(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (Config{JWTSecret: strings.Repeat("x", 32), BootstrapPassword: "a long enough password"}).CheckSecrets(); err != nil {
		t.Errorf("good secrets refused: %v", err)
	}
}

// TestTrustedProxies: CIDRs and bare addresses are read from the flag or the
// environment; anything that is not one, or a CIDR with host bits set, stops
// the start.
func TestTrustedProxies(t *testing.T) {
	c, err := ParseServe(nil, envOf(map[string]string{"CAPSTONE_TRUSTED_PROXIES": " 130.211.0.0/22, 35.191.0.0/16,2001:db8::/32 ,10.0.0.7,::ffff:192.0.2.0/120"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	want := []string{"130.211.0.0/22", "35.191.0.0/16", "2001:db8::/32", "10.0.0.7/32", "192.0.2.0/24"}
	if !slices.Equal(got, want) {
		t.Fatalf("trusted proxies %v, want %v", got, want)
	}
	if !strings.Contains(c.String(), "trusted-proxies=130.211.0.0/22,35.191.0.0/16") {
		t.Errorf("String() does not show the trusted proxies: %s", c)
	}
	if c, err := ParseServe(nil, envOf(nil), io.Discard); err != nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("default: %v %v, want no trusted proxy", c.TrustedProxies, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "10.1.2.3/8", "proxy.internal", "10.0.0.0/8;", "fe80::1%eth0", "::ffff:0:0/64", "*"} {
		if _, err := ParseServe([]string{"--trusted-proxies", bad}, envOf(nil), io.Discard); err == nil {
			t.Errorf("--trusted-proxies %q accepted", bad)
		}
	}
}

// TestPubSubCreate: processes create their Pub/Sub topics and subscriptions
// unless told (env or flag) that they were set up beforehand.
func TestPubSubCreate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{nil, nil, true},
		{nil, map[string]string{"CAPSTONE_PUBSUB_CREATE": "false"}, false},
		{nil, map[string]string{"CAPSTONE_PUBSUB_CREATE": "On"}, true},
		{[]string{"--pubsub-create=false"}, nil, false},
		{[]string{"--pubsub-create=true"}, map[string]string{"CAPSTONE_PUBSUB_CREATE": "0"}, true},
	} {
		c, err := ParseServe(tc.args, envOf(tc.env), io.Discard)
		if err != nil || c.PubSubCreate != tc.want {
			t.Errorf("%v %v: create %v, err %v; want %v", tc.args, tc.env, c.PubSubCreate, err, tc.want)
		}
	}
	if _, err := ParseServe(nil, envOf(map[string]string{"CAPSTONE_PUBSUB_CREATE": "never"}), io.Discard); err == nil || !strings.Contains(err.Error(), "CAPSTONE_PUBSUB_CREATE") {
		t.Errorf("CAPSTONE_PUBSUB_CREATE=never: %v, want an error naming it", err)
	}
}

// TestNoStandardBooleans: every yes/no a person writes (a setting, a flag, a
// query parameter) goes through commands.ParseBool. The flag package's own
// boolean flags refuse yes/no/on/off, comparing an environment variable with
// "true" ignores every other spelling silently (CAPSTONE_DEMO=yes was), and
// strconv.ParseBool takes neither (?dry_run=yes imported for real), so none
// of them may appear in the binary's code.
func TestNoStandardBooleans(t *testing.T) {
	banned := regexp.MustCompile(`\b(fs|flag|flags|set)\.Bool(Var)?\(|env\w*\(\s*"[A-Z0-9_]+"\s*\)\s*[!=]=\s*"[^"]+"|strconv\.ParseBool\(`)
	checked := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(src), "\n") {
			if banned.MatchString(line) {
				t.Errorf("%s:%d: a yes/no read without commands.ParseBool: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the walk at the repository's root?", checked)
	}
}

// TestLimitsAndMetricsAddr: the connection and body limits have defaults, are
// read from the flags or the environment, and anything out of range stops
// the start; --metrics-addr may not be --addr.
func TestLimitsAndMetricsAddr(t *testing.T) {
	c, err := ParseServe(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != (Limits{MaxConnections: 2048, MaxConnectionsPerClient: 128, BodyTimeout: 10 * time.Second, MaxOpenProjects: 10}) || c.MetricsAddr != "" {
		t.Fatalf("defaults: %+v metrics-addr %q", c.Limits, c.MetricsAddr)
	}
	c, err = ParseServe([]string{"--max-connections", "100", "--body-timeout", "2s"}, envOf(map[string]string{
		"CAPSTONE_MAX_CONNECTIONS_PER_CLIENT": "10", "CAPSTONE_METRICS_ADDR": ":9090", "CAPSTONE_MAX_OPEN_PROJECTS": "3"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != (Limits{MaxConnections: 100, MaxConnectionsPerClient: 10, BodyTimeout: 2 * time.Second, MaxOpenProjects: 3}) || c.MetricsAddr != ":9090" {
		t.Fatalf("set: %+v metrics-addr %q", c.Limits, c.MetricsAddr)
	}
	for name, args := range map[string][]string{
		"zero connections":           {"--max-connections", "0"},
		"not a number":               {"--max-connections", "many"},
		"per client above the total": {"--max-connections", "10", "--max-connections-per-client", "11"},
		"no body timeout":            {"--body-timeout", "0s"},
		"body timeout not a time":    {"--body-timeout", "10"},
		"metrics on the API port":    {"--addr", ":8080", "--metrics-addr", ":8080"},
	} {
		if _, err := ParseServe(args, envOf(nil), io.Discard); err == nil {
			t.Errorf("%s: %v accepted", name, args)
		}
	}
}
