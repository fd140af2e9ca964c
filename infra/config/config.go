// Package config reads the service's settings from flags, each with an
// environment variable equivalent and a default, so that the binary starts
// with no configuration at all and a Deployment configures it with env only.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/infra/auth"
)

// Components a process can run; "all" is every one of them.
var Components = []string{"api", "projector", "relay"}

// Config is every setting of `capstone serve`.
type Config struct {
	Addr       string
	DataDir    string
	Components []string
	MongoURI   string // secret: may hold a password
	Database   string
	JWTSecret  string // secret
	TokenTTL   time.Duration
	LogLevel   string
	LogFormat  string

	BootstrapEmail    string
	BootstrapPassword string // secret

	// Demo loads the demo cohort at start-up (README: the documented sign-ins).
	Demo bool

	// PubSubProject selects Google Cloud Pub/Sub as the bus (else in-process);
	// PubSubEmulator points the client at an emulator (host:port).
	PubSubProject  string
	PubSubEmulator string
	// PubSubCreate lets the process create (and correct) its topics and
	// subscriptions at start-up. Off, it only checks that they exist, so
	// that its identity needs no right to create, change or delete them:
	// they are made once beforehand by `capstone pubsub-setup`.
	PubSubCreate bool

	// Tracing turns OpenTelemetry tracing on ("otlp") or off.
	Tracing string

	// TrustedProxies are the networks of the proxies in front of the
	// service (the load balancer) whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix

	// MetricsAddr, when set, is a listener of its own for /metrics (and
	// any future debug endpoint), which --addr then no longer serves.
	MetricsAddr string

	// Legacy serves the original system's frontend beside the API.
	Legacy Legacy

	Limits Limits
}

// Has reports whether the process runs component c.
func (c Config) Has(component string) bool { return slices.Contains(c.Components, component) }

// Embedded reports whether the process uses the embedded store.
func (c Config) Embedded() bool { return c.MongoURI == "" }

// String prints the settings with secrets masked, for the start-up log line.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "*****"
	}
	uri := c.MongoURI
	if u, err := url.Parse(uri); err == nil && u.User != nil {
		u.User = url.UserPassword(u.User.Username(), "*****")
		uri = u.String()
	}
	bus := "in-process"
	if c.PubSubProject != "" {
		bus = "pubsub:" + c.PubSubProject
		if c.PubSubEmulator != "" {
			bus += "@" + c.PubSubEmulator
		}
	}
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	return fmt.Sprintf("addr=%s data-dir=%s components=%s mongodb-uri=%s database=%s bus=%s jwt-secret=%s token-ttl=%s log=%s/%s bootstrap-email=%s trusted-proxies=%s metrics-addr=%s max-connections=%d max-connections-per-client=%d body-timeout=%s max-open-projects=%d legacy-addr=%s legacy-ui=%s",
		c.Addr, c.DataDir, strings.Join(c.Components, ","), uri, c.Database, bus, mask(c.JWTSecret), c.TokenTTL,
		c.LogLevel, c.LogFormat, c.BootstrapEmail, strings.Join(proxies, ","), c.MetricsAddr,
		c.Limits.MaxConnections, c.Limits.MaxConnectionsPerClient, c.Limits.BodyTimeout, c.Limits.MaxOpenProjects, c.Legacy.Addr, c.Legacy.UI)
}

// Store holds the flags that say where the data is; every subcommand that
// touches the store shares them.
func (c *Config) storeFlags(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&c.DataDir, "data-dir", envOr(env, "CAPSTONE_DATA_DIR", "./data"), "directory of the embedded store and generated secrets (env CAPSTONE_DATA_DIR)")
	fs.StringVar(&c.MongoURI, "mongodb-uri", env("MONGODB_URI"), "MongoDB connection string; empty runs the embedded store (env MONGODB_URI, or MONGO_CREDS as JSON {\"username\",\"password\",\"cluster_id\"})")
	fs.StringVar(&c.Database, "database", envOr(env, "CAPSTONE_DATABASE", "capstone"), "database name (env CAPSTONE_DATABASE)")
	fs.StringVar(&c.LogLevel, "log-level", envOr(env, "CAPSTONE_LOG_LEVEL", "info"), "debug, info, warn or error (env CAPSTONE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(env, "CAPSTONE_LOG_FORMAT", "json"), "json or text (env CAPSTONE_LOG_FORMAT)")
}

// ParseServe reads the settings of `capstone serve` from args and env.
func ParseServe(args []string, env func(string) string, usage io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(usage)
	c.storeFlags(fs, env)
	fs.StringVar(&c.Addr, "addr", envOr(env, "CAPSTONE_ADDR", ":8080"), "HTTP listen address (env CAPSTONE_ADDR)")
	components := fs.String("components", envOr(env, "CAPSTONE_COMPONENTS", "all"), "comma-separated subset of "+strings.Join(Components, ",")+", or all (env CAPSTONE_COMPONENTS)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", env("CAPSTONE_JWT_SECRET"), "HS256 signing secret, at least 32 bytes; empty: generated once and kept in the data dir, or in the database when MONGODB_URI is set (env CAPSTONE_JWT_SECRET)")
	proxies := fs.String("trusted-proxies", env("CAPSTONE_TRUSTED_PROXIES"), "comma-separated CIDRs of the proxies whose X-Forwarded-For is believed (the load balancer); empty: the peer is the client (env CAPSTONE_TRUSTED_PROXIES)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("CAPSTONE_METRICS_ADDR"), "listen address of /metrics, apart from --addr (which then does not serve it); empty: /metrics on --addr, to loopback clients only (env CAPSTONE_METRICS_ADDR)")
	checkLimits := c.Limits.flags(fs, env)
	checkLegacy := c.Legacy.flags(fs, env)
	fs.StringVar(&c.Tracing, "tracing", envOr(env, "CAPSTONE_TRACING", "off"), "off, or otlp to export OpenTelemetry spans to OTEL_EXPORTER_OTLP_ENDPOINT (env CAPSTONE_TRACING)")
	demo, demoErr := envBool(env, "CAPSTONE_DEMO", false)
	BoolVar(fs, &c.Demo, "demo", demo, "load the demo cohort with documented sign-ins into an empty store (env CAPSTONE_DEMO=true)")
	create, createErr := envBool(env, "CAPSTONE_PUBSUB_CREATE", true)
	BoolVar(fs, &c.PubSubCreate, "pubsub-create", create, "create the Pub/Sub topics and subscriptions if missing; false: only check that they exist (made beforehand by capstone pubsub-setup), so that no right to create them is needed (env CAPSTONE_PUBSUB_CREATE)")
	ttl := fs.String("token-ttl", envOr(env, "CAPSTONE_TOKEN_TTL", "12h"), "lifetime of a sign-in token (env CAPSTONE_TOKEN_TTL)")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: capstone serve [flags]\n\nRuns the API and the projector (or the --components given) on one port.\n"+
			"With no MONGODB_URI the embedded store keeps its data in --data-dir.\n"+
			"CAPSTONE_BOOTSTRAP_EMAIL and CAPSTONE_BOOTSTRAP_PASSWORD (env only) create the first coordinator.\n"+
			"PUBSUB_PROJECT_ID (or GOOGLE_CLOUD_PROJECT) selects Google Cloud Pub/Sub as the bus; PUBSUB_EMULATOR_HOST points it at an emulator.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if demoErr != nil {
		return c, demoErr
	}
	if createErr != nil {
		return c, createErr
	}
	var err error
	if c.Components, err = parseComponents(*components); err != nil {
		return c, err
	}
	if c.TrustedProxies, err = ParsePrefixes(*proxies); err != nil {
		return c, fmt.Errorf("--trusted-proxies: %w", err)
	}
	if err := checkLimits(); err != nil {
		return c, err
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
		return c, fmt.Errorf("--metrics-addr %q is --addr: metrics must have a listener of their own", c.MetricsAddr)
	}
	if err := checkLegacy(c.Addr); err != nil {
		return c, err
	}
	if c.Legacy.Addr != "" && !c.Has("api") {
		return c, fmt.Errorf("--legacy-addr %q needs the api component (--components)", c.Legacy.Addr)
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Legacy.Addr && !strings.HasSuffix(c.MetricsAddr, ":0") {
		return c, fmt.Errorf("--metrics-addr %q is --legacy-addr: metrics must have a listener of their own", c.MetricsAddr)
	}
	if c.Tracing != "off" && c.Tracing != "otlp" {
		return c, fmt.Errorf("--tracing %q: want off or otlp", c.Tracing)
	}
	if c.TokenTTL, err = time.ParseDuration(*ttl); err != nil || c.TokenTTL < time.Minute || c.TokenTTL > 30*24*time.Hour {
		return c, fmt.Errorf("--token-ttl %q: want a duration between 1m and 720h", *ttl)
	}
	c.PubSubProject = env("PUBSUB_PROJECT_ID")
	if c.PubSubProject == "" {
		c.PubSubProject = env("GOOGLE_CLOUD_PROJECT")
	}
	c.PubSubEmulator = env("PUBSUB_EMULATOR_HOST")
	c.BootstrapEmail = env("CAPSTONE_BOOTSTRAP_EMAIL")
	c.BootstrapPassword = env("CAPSTONE_BOOTSTRAP_PASSWORD")
	if (c.BootstrapEmail == "") != (c.BootstrapPassword == "") {
		return c, errors.New("set both CAPSTONE_BOOTSTRAP_EMAIL and CAPSTONE_BOOTSTRAP_PASSWORD, or neither")
	}
	return c, c.finish(env)
}

// ParseStore reads only the store settings, for subcommands such as
// `capstone users create`; extra flags are registered by the caller on fs.
//
// Flags may come before, between or after the command's arguments (capstone
// import KIND FILE --dry-run); after "--" everything is an argument. fs.Args()
// is then the arguments alone. A one-off command logs warnings and errors
// only unless told otherwise: its output is its result, not the store's
// start-up.
func ParseStore(fs *flag.FlagSet, args []string, env func(string) string) (Config, error) {
	var c Config
	c.storeFlags(fs, env)
	if f := fs.Lookup("log-level"); env("CAPSTONE_LOG_LEVEL") == "" {
		f.DefValue = "warn"
		_ = f.Value.Set("warn")
	}
	if err := parseInterspersed(fs, args); err != nil {
		return c, err
	}
	return c, c.finish(env)
}

// parseInterspersed parses fs from args, taking flags wherever they are
// among the arguments, and leaves the arguments alone in fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...) // after "--", all of it
			break
		}
		if len(rest) == 0 {
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

func (c *Config) finish(env func(string) string) error {
	if c.MongoURI == "" && env("MONGO_CREDS") != "" {
		uri, err := uriFromCreds(env("MONGO_CREDS"))
		if err != nil {
			return err
		}
		c.MongoURI = uri
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return fmt.Errorf("--log-format %q: want json or text", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Database == "" || strings.ContainsAny(c.Database, "/\\. \"$") {
		return fmt.Errorf("--database %q is not a valid database name", c.Database)
	}
	return nil
}

// ParsePrefixes reads a comma-separated list of CIDRs ("10.0.0.0/8,
// 2001:db8::/32"); a bare address stands for itself alone. Host bits set in
// a CIDR ("10.1.2.3/8") are refused: they usually mean a typo.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(f, "/") {
			var err error
			if p, err = netip.ParsePrefix(f); err != nil {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", f)
			}
			if p.Masked() != p {
				return nil, fmt.Errorf("%q has host bits set; did you mean %s?", f, p.Masked())
			}
		} else {
			a, err := netip.ParseAddr(f)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() { // ::ffff:10.0.0.0/104 is 10.0.0.0/8: clients are matched unmapped
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q spans IPv4-mapped and other IPv6 addresses", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseComponents(s string) ([]string, error) {
	if s == "" || s == "all" {
		return slices.Clone(Components), nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(Components, p) {
			return nil, fmt.Errorf("--components: unknown component %q (known: %s)", p, strings.Join(Components, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// uriFromCreds builds an Atlas connection string from the original system's
// MONGO_CREDS JSON: {"username","password","cluster_id"}, where cluster_id is
// the host part before .mongodb.net (e.g. "cluster0.ab1cd").
func uriFromCreds(raw string) (string, error) {
	var creds struct {
		Username  string `json:"username"`
		Password  string `json:"password"`
		ClusterID string `json:"cluster_id"`
	}
	if err := json.Unmarshal([]byte(raw), &creds); err != nil {
		return "", errors.New("MONGO_CREDS is not JSON of the form {\"username\",\"password\",\"cluster_id\"}")
	}
	if creds.Username == "" || creds.Password == "" || creds.ClusterID == "" {
		return "", errors.New("MONGO_CREDS needs username, password and cluster_id")
	}
	host := creds.ClusterID
	if !strings.Contains(host, ".mongodb.net") {
		host += ".mongodb.net"
	}
	u := url.URL{Scheme: "mongodb+srv", User: url.UserPassword(creds.Username, creds.Password), Host: host, Path: "/",
		RawQuery: "retryWrites=true&w=majority"}
	return u.String(), nil
}

func envOr(env func(string) string, key, def string) string {
	if v := env(key); v != "" {
		return v
	}
	return def
}

// CheckSecrets checks the settings that may come from Secret Manager, once
// they are resolved, so that a bad one stops the process before anything
// starts rather than after the store and the relay are up.
func (c Config) CheckSecrets() error {
	if c.JWTSecret != "" && len(c.JWTSecret) < auth.MinSecretBytes {
		return fmt.Errorf("CAPSTONE_JWT_SECRET (--jwt-secret) is %d bytes: want at least %d (e.g. openssl rand -hex 32)", len(c.JWTSecret), auth.MinSecretBytes)
	}
	if c.BootstrapPassword != "" {
		if err := auth.ValidatePassword(c.BootstrapPassword); err != nil {
			return fmt.Errorf("CAPSTONE_BOOTSTRAP_PASSWORD: %v", err)
		}
	}
	return nil
}
