// Command capstone is the Capstone Project Management service in one binary:
// `capstone serve` runs the API and the projectors (or the --components
// given), `capstone users create` adds a user from the shell.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.opentelemetry.io/otel/trace"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/secrets"
	"github.com/capstone-pms/capstone/infra/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	followMemory(ctx, os.Args[1:], os.Getenv)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "capstone:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// commandList is the top-level help's list of commands, in its order.
var commandList = []struct{ name, summary string }{
	{"serve", "run the service (API and projectors) on embedded defaults or MONGODB_URI"},
	{"users create", "create a user (e.g. a coordinator); the password is read from stdin"},
	{"import", "import a CSV file of a KIND: %s"},
	{"replay", "rebuild read models from the event store (or --verify them against a rebuild)"},
	{"bench", "load-test a service (or a fresh one in this process) against the raw database"},
	{"bench-cohort", "generate a cohort (5,000 students, 400 supervisors), import it, allocate, and time each step"},
	{"pubsub-setup", "create the Pub/Sub topics and subscriptions once (then CAPSTONE_PUBSUB_CREATE=false)"},
	{"pubsub-emulator", "serve Google's Pub/Sub fake over gRPC (for multi-process runs)"},
	{"dev-store", "serve the embedded store on its own (for multi-process runs)"},
	{"dev", "run the whole local topology (store, Pub/Sub emulator, 2 APIs, relay, 2 projectors); Ctrl-C stops it"},
	{"help", "show this help"},
}

const usersUsage = "usage: capstone users create --email E --name N --roles coordinator[,..] < password\n" +
	`(run "capstone users create --help" for every flag)`

// isHelp reports whether arg asks for help, as the flag package reads it.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

// usageText is the top-level help: the commands in one aligned column, with
// the import kinds read from csvio so that it names exactly the kinds import
// and the API take.
func usageText() string {
	width := 0
	for _, c := range commandList {
		width = max(width, len(c.name))
	}
	var b strings.Builder
	b.WriteString("Usage: capstone <command> [flags]\n\nCommands:\n")
	for _, c := range commandList {
		summary := c.summary
		if strings.Contains(summary, "%s") {
			summary = fmt.Sprintf(summary, importKinds())
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, c.name, summary)
	}
	b.WriteString("\nRun \"capstone <command> --help\" for the flags of a command.\n")
	return b.String()
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, env)
	case "users":
		if len(args) == 2 && isHelp(args[1]) {
			fmt.Fprintln(stdout, usersUsage)
			return flag.ErrHelp
		}
		if len(args) < 2 || args[1] != "create" {
			return errors.New(usersUsage)
		}
		return createUser(ctx, args[2:], stdin, stdout, stderr, env)
	case "import":
		return importFile(ctx, args[1:], stdout, stderr, env)
	case "replay":
		return replay(ctx, args[1:], stdout, stderr, env)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr, env)
	case "bench-cohort":
		return benchCohort(ctx, args[1:], stdout, stderr, env)
	case "pubsub-setup":
		return pubsubSetup(ctx, args[1:], stdout, stderr, env)
	case "pubsub-emulator":
		return pubsubEmulator(ctx, args[1:], stdout, stderr)
	case "dev-store":
		return devStore(ctx, args[1:], stdout, stderr)
	case "dev":
		return devTopology(ctx, args[1:], stdout, stderr, env)
	case "help":
		fmt.Fprint(stdout, usageText())
		return nil
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usageText())
		return nil
	}
	fmt.Fprint(stderr, usageText())
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	cfg, err := parseServe(ctx, args, stdout, stderr, env)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg)
	log.Info("starting", "config", cfg.String())
	stopTracing, err := telemetry.Setup(ctx, cfg.Tracing, "capstone", instanceName())
	if err != nil {
		return err
	}
	defer stopTracing(context.Background())
	app, err := StartApp(ctx, cfg, log, nil)
	if err != nil {
		return dataDirInUse(err, nil)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining requests")
	case err = <-app.Served():
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	app.Close(shutdown)
	log.Info("stopped")
	return err
}

// secretSettings may name Secret Manager versions (sm://projects/P/secrets/S/versions/V)
// instead of holding the secret, in the environment or in a flag.
var secretSettings = []string{"MONGODB_URI", "MONGO_CREDS", "CAPSTONE_JWT_SECRET", "CAPSTONE_BOOTSTRAP_PASSWORD"}

// parseServe reads and checks every setting, reading secrets from Secret
// Manager where a setting names a secret version (without such a setting
// nothing is dialled), so that a bad one is reported before anything starts.
func parseServe(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) (config.Config, error) {
	cfg, err := parseWithSecrets(ctx, env, func(env func(string) string) (cfg config.Config, err error) {
		err = parseFlags(stdout, stderr, func(w io.Writer) (err error) {
			cfg, err = config.ParseServe(args, env, w)
			return err
		})
		return cfg, err
	})
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.CheckSecrets()
}

// parseWithSecrets runs parse with the secret settings of the environment
// resolved, then resolves those given as flags: every command that reaches
// the store takes the same sm:// references as serve does.
func parseWithSecrets(ctx context.Context, env func(string) string, parse func(env func(string) string) (config.Config, error)) (config.Config, error) {
	r, err := secrets.NewResolver(ctx)
	if err != nil {
		return config.Config{}, err
	}
	defer r.Close()
	if env, err = r.Env(ctx, env, secretSettings...); err != nil {
		return config.Config{}, err
	}
	cfg, err := parse(env)
	if err != nil {
		return cfg, err
	}
	return cfg, r.ResolveAll(ctx, &cfg.MongoURI, &cfg.JWTSecret, &cfg.BootstrapPassword)
}

func createUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	email := fs.String("email", "", "e-mail address (required)")
	name := fs.String("name", "", "full name (required)")
	roles := fs.String("roles", events.RoleCoordinator, "comma-separated roles: coordinator, supervisor, examiner, student")
	noPassword := config.Bool(fs, "no-password", false, "create the user without a password (they cannot sign in until one is set)")
	cfg, err := parseStoreFlags(ctx, fs, args, env, stdout, stderr)
	if err != nil {
		return err
	}
	// The store first: a data dir in use is refused before the password is asked.
	app, err := startOneOff(ctx, cfg, stderr)
	if err != nil {
		return dataDirInUse(err, func(base string) string {
			body := map[string]any{"email": *email, "name": *name, "roles": strings.Split(*roles, ",")}
			if !*noPassword {
				body["password"] = "<the password>"
			}
			return curlJSON(base+"/v1/users", body)
		})
	}
	password := ""
	if !*noPassword {
		fmt.Fprint(stderr, "password (one line on stdin): ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			app.Close(context.Background())
			return errors.New("no password on stdin (or use --no-password)")
		}
		password = strings.TrimRight(line, "\r\n")
		fmt.Fprintln(stderr)
	}
	defer app.Close(context.Background())
	res, err := app.Users.Create(ctx, commands.Meta{Actor: events.SystemActor, CorrelationID: "cli"},
		user.Create{Email: *email, Name: *name, Roles: strings.Split(*roles, ",")}, password)
	if err != nil {
		if e, ok := commands.AsError(err); ok {
			return errors.New(refusalText(e))
		}
		return err
	}
	fmt.Fprintf(stdout, "created user %s <%s> roles=%s\n", res.State.ID, res.State.Email, strings.Join(res.State.Roles, ","))
	return nil
}

// refusalText is a refusal as the shell shows it: its message, then each
// invalid field on a line of its own, but for one the message already
// states (a refusal for a single field says "password: must be ...").
func refusalText(e *commands.Error) string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		if line := f.Field + ": " + f.Message; !strings.Contains(e.Message, line) {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}

// newLogger logs JSON with a "severity" field that Google Cloud Logging reads,
// and the request id on every line logged inside a request.
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.LevelKey {
			a.Key = "severity"
			if lvl, ok := a.Value.Any().(slog.Level); ok && lvl == slog.LevelWarn {
				a.Value = slog.StringValue("WARNING")
			}
		}
		if len(groups) == 0 && a.Key == slog.MessageKey {
			a.Key = "message"
		}
		return a
	}}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	log := slog.New(requestIDHandler{h})
	slog.SetDefault(log)
	return log
}

// requestIDHandler adds the request id and trace id of the context to each record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := api.RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if id := api.ClientRequestID(ctx); id != "" {
		r.AddAttrs(slog.String("client_request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
