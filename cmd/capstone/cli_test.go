package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// TestServeHelp lists every flag with its environment variable, on stdout.
func TestServeHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--help"}, nil, &out, &errOut, func(string) string { return "" })
	if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
		t.Fatalf("serve --help: %v (exit %d)", err, exitCode(err))
	}
	for _, want := range []string{"-addr", "CAPSTONE_ADDR", "-data-dir", "CAPSTONE_DATA_DIR", "-components", "CAPSTONE_COMPONENTS",
		"-mongodb-uri", "MONGODB_URI", "MONGO_CREDS", "-jwt-secret", "CAPSTONE_JWT_SECRET", "CAPSTONE_BOOTSTRAP_EMAIL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if errOut.Len() > 0 {
		t.Errorf("help asked for went to stderr: %s", errOut.String())
	}
}

// TestHelpExitsZero runs the binary: every command's --help prints its help
// on stdout and exits 0; a bad flag prints the usage on stderr and exits 2.
func TestHelpExitsZero(t *testing.T) {
	bin := buildBinary(t)
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"users", "--help"}, {"serve", "--help"}, {"serve", "-h"},
		{"users", "create", "--help"}, {"import", "--help"}, {"replay", "--help"}, {"bench", "--help"},
		{"pubsub-setup", "--help"}, {"pubsub-emulator", "--help"}, {"dev-store", "--help"}, {"dev", "--help"}} {
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil || out.Len() == 0 || errOut.Len() > 0 {
			t.Errorf("capstone %s: %v; stdout %d bytes, stderr %q", strings.Join(args, " "), err, out.Len(), errOut.String())
		}
		bad := append(args[:len(args)-1:len(args)-1], "--no-such-flag")
		if args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
			bad = []string{"no-such-command"}
		}
		out.Reset()
		errOut.Reset()
		cmd = exec.Command(bin, bad...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		var exit *exec.ExitError
		if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 2 || errOut.Len() == 0 {
			t.Errorf("capstone %s: %v, stderr %q: want exit 2 and the error on stderr", strings.Join(bad, " "), err, errOut.String())
		}
	}
}

// TestReadmeConfigTable: the README's configuration table lists every flag
// of serve with its environment variable, and every variable serve reads.
func TestReadmeConfigTable(t *testing.T) {
	var out bytes.Buffer
	_ = run(context.Background(), []string{"serve", "--help"}, nil, &out, io.Discard, func(string) string { return "" })
	help := out.String()
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	envOf := regexp.MustCompile(`\(env ([A-Z][A-Z0-9_]+)`)
	helpFlags := map[string]string{} // flag -> its env variable
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		m := flagLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		text := l
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "    "); j++ {
			text += " " + lines[j]
		}
		e := envOf.FindStringSubmatch(text)
		if e == nil {
			t.Errorf("serve --help: -%s names no environment variable", m[1])
			continue
		}
		helpFlags[m[1]] = e[1]
	}
	if len(helpFlags) < 10 {
		t.Fatalf("read only %d flags from serve --help:\n%s", len(helpFlags), help)
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## Configuration")
	if start < 0 {
		t.Fatal("README has no Configuration section")
	}
	section = section[start:]
	section = section[:strings.Index(section, "\n\n###")]
	tableFlags := map[string]string{} // flag -> its environment cell
	for _, row := range strings.Split(section, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		tableFlags[strings.Trim(strings.TrimSpace(cells[1]), "`-")] = cells[2]
	}
	for f, env := range helpFlags {
		cell, ok := tableFlags[f]
		if !ok {
			t.Errorf("README configuration table lacks --%s", f)
		} else if !strings.Contains(cell, "`"+env) {
			t.Errorf("README configuration table: --%s has %q, want %s", f, cell, env)
		}
	}
	for f := range tableFlags {
		if _, ok := helpFlags[f]; !ok {
			t.Errorf("README configuration table lists --%s, which serve does not have", f)
		}
	}
	for _, v := range regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b`).FindAllString(help, -1) {
		if !strings.Contains(section, "`"+v) {
			t.Errorf("serve --help mentions %s; the README configuration table does not", v)
		}
	}
}

// TestSettingsCheckedFirst: a bad JWT secret or a busy port stops serve with
// one line before the store has started (the data dir is not even created).
func TestSettingsCheckedFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"short JWT secret":   {[]string{"--addr", "127.0.0.1:0"}, map[string]string{"CAPSTONE_JWT_SECRET": "short"}, "CAPSTONE_JWT_SECRET"},
		"busy port":          {[]string{"--addr", busy.Addr().String()}, nil, "already in use"},
		"bad boolean":        {[]string{"--addr", "127.0.0.1:0"}, map[string]string{"CAPSTONE_DEMO": "sure"}, "CAPSTONE_DEMO"},
		"weak bootstrap pwd": {[]string{"--addr", "127.0.0.1:0"}, map[string]string{"CAPSTONE_BOOTSTRAP_EMAIL": "a@b.example", "CAPSTONE_BOOTSTRAP_PASSWORD": "short"}, "CAPSTONE_BOOTSTRAP_PASSWORD"},
		"busy legacy port":   {[]string{"--addr", "127.0.0.1:0", "--legacy-addr", busy.Addr().String()}, nil, "--legacy-addr"},
		"busy pages port":    {[]string{"--addr", "127.0.0.1:0", "--legacy-ui", "testdata-ui", "--legacy-ui-addr", busy.Addr().String()}, nil, "--legacy-ui-addr"},
		"pages not built":    {[]string{"--addr", "127.0.0.1:0", "--legacy-ui", "."}, nil, "index.html"},
		"bad origin":         {[]string{"--addr", "127.0.0.1:0"}, map[string]string{"CAPSTONE_LEGACY_ORIGINS": "localhost:8081"}, "--legacy-origins"},
	} {
		t.Run(name, func(t *testing.T) {
			for i, a := range c.args {
				if a == "testdata-ui" { // a built app, so that only the port is wrong
					c.args[i] = t.TempDir()
					if err := os.WriteFile(filepath.Join(c.args[i], "index.html"), []byte("<html></html>"), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			dir := filepath.Join(t.TempDir(), "data")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var errOut bytes.Buffer
			err := run(ctx, append([]string{"serve", "--data-dir", dir}, c.args...), nil, io.Discard, &errOut, func(k string) string { return c.env[k] })
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("serve: %v; want one line about %s", err, c.want)
			}
			if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("the data dir was created (the store started) before %q was reported; logs:\n%s", err, errOut.String())
			}
		})
	}
}

// TestDefaultDirsIgnored: every directory a command writes by default (a
// flag whose default is a relative path, as --data-dir's ./data and
// ./data-dev, which hold password hashes) is in .gitignore, so a run at the
// root of a clone can never be committed.
func TestDefaultDirsIgnored(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		ignored[strings.Trim(strings.TrimSpace(l), "/")] = true
	}
	relDefault := regexp.MustCompile(`\(default "\./([^"/]+)/?"\)`)
	seen := 0
	for _, cmd := range commandNames(t) {
		var out bytes.Buffer
		_ = run(context.Background(), append(strings.Fields(cmd), "--help"), nil, &out, io.Discard, func(string) string { return "" })
		for _, m := range relDefault.FindAllStringSubmatch(out.String(), -1) {
			seen++
			if !ignored[m[1]] {
				t.Errorf("capstone %s writes ./%s by default, which .gitignore does not list", cmd, m[1])
			}
		}
	}
	if seen == 0 {
		t.Fatal("no command's help names a relative default: the check reads nothing")
	}
}

// commandNames are the commands the top-level help lists (help aside).
func commandNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(usageText(), "\n") {
		if strings.HasPrefix(l, "  ") {
			name, _, _ := strings.Cut(strings.TrimSpace(l), "  ")
			if name != "help" {
				names = append(names, name)
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("read %v from the help", names)
	}
	return names
}

// TestHelpValueNames: every flag of every command shows its value as its
// type. The flag package takes backquoted text in a usage as the value's
// name, so `capstone pubsub-setup` in a usage printed
// "-pubsub-create capstone".
func TestHelpValueNames(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^  -(\S+)(?: (.+))?$`)
	types := map[string]bool{"": true, "string": true, "int": true, "uint": true, "int64": true, "uint64": true, "float": true, "duration": true, "value": true}
	for _, cmd := range commandNames(t) {
		var out bytes.Buffer
		_ = run(context.Background(), append(strings.Fields(cmd), "--help"), nil, &out, io.Discard, func(string) string { return "" })
		lines := flagLine.FindAllStringSubmatch(out.String(), -1)
		if len(lines) == 0 && cmd != "users create" {
			t.Errorf("capstone %s --help lists no flag:\n%s", cmd, out.String())
		}
		for _, m := range lines {
			if !types[m[2]] {
				t.Errorf("capstone %s --help shows -%s %s: a backquote in its usage?", cmd, m[1], m[2])
			}
		}
	}
}

// TestTopLevelHelpAligned: the commands' summaries start in one column.
func TestTopLevelHelpAligned(t *testing.T) {
	col := -1
	for _, l := range strings.Split(usageText(), "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(l), "  ")
		at := 2 + len(name) + len(l[2+len(name):]) - len(strings.TrimLeft(l[2+len(name):], " "))
		if col == -1 {
			col = at
		}
		if at != col {
			t.Errorf("the summary of %q starts at column %d, the first one's at %d:\n%s", name, at, col, usageText())
		}
	}
	if col == -1 {
		t.Fatal("no command in the help")
	}
}

// TestImportCLIRoughEdges: `capstone import` takes its flags after KIND and
// FILE too, sets passwords with --passwords as ?passwords=true does, exits 1
// when rows were refused (and 0 when none were), and prints no start-up log
// line of the store.
func TestImportCLIRoughEdges(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "students.csv")
	const header = "Student Code,Name,Enrolment Status,Programme,Route,Start Date,QM Email,Username,Password\n"
	csv := header + "ST1,Student One,Enrolled,MSc,Full-time,2026-09-21,cli1@uni.example,cli1,cli password number one\n" +
		"ST2,,Enrolled,MSc,Full-time,2026-09-21,cli2@uni.example,cli2,cli password number two\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", "students", file, "--dry-run", "--data-dir", data}, nil, &out, &errOut, env)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "dry run") || !strings.Contains(out.String(), "Name is required") {
		t.Fatalf("import with flags after the arguments and a refused row: %v (exit %d)\n%s%s", err, exitCode(err), out.String(), errOut.String())
	}
	if strings.Contains(errOut.String(), `"message"`) || strings.Contains(errOut.String(), "FerretDB") {
		t.Errorf("a one-off command logged the store's start-up: %s", errOut.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"import", "--data-dir", data, "students", file, "--passwords"}, nil, &out, &errOut, env)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "created 1") {
		t.Fatalf("import: %v (exit %d)\n%s", err, exitCode(err), out.String())
	}
	if err := os.WriteFile(file, []byte(header+"ST1,Student One,Enrolled,MSc,Full-time,2026-09-21,cli1@uni.example,cli1,cli password number one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"import", "students", "--data-dir", data, file}, nil, &out, &errOut, env); exitCode(err) != 0 {
		t.Fatalf("a file without refused rows: %v (exit %d)", err, exitCode(err))
	}
	s := startServiceIn(t, data, &syncBuffer{})
	s.signIn("cli1@uni.example", "cli password number one") // --passwords set it
}

// TestUsersCreateRefusalOnce: a refusal for one field is printed once, not
// as its message and again as its field.
func TestUsersCreateRefusalOnce(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"users", "create", "--data-dir", t.TempDir(), "--email", "once@uni.example", "--name", "Once"},
		strings.NewReader("short\n"), &out, &errOut, func(string) string { return "" })
	if err == nil || strings.Count(err.Error(), "at least") != 1 {
		t.Fatalf("users create with a short password: %q", err)
	}
}

// TestOneOffCommandsResolveSecretReferences: the commands that reach the store
// take the sm:// references serve takes, in the environment and in flags, so
// that a Job or an operator's shell can use the Deployment's settings as they
// are. A malformed reference is reported as one (never handed to the MongoDB
// driver as a connection string, nor used as a password), before the store is
// touched. A well-formed one would be fetched from Secret Manager, which no
// test here can reach; infra/secrets tests the fetch.
func TestOneOffCommandsResolveSecretReferences(t *testing.T) {
	const bad = "sm://projects/p/secrets/not a name/versions/1"
	commands := map[string][]string{
		"users create": {"users", "create", "--email", "x@uni.example", "--name", "X", "--no-password"},
		"import":       {"import", "students", "students.csv"},
		"replay":       {"replay"},
	}
	for name, args := range commands {
		for _, how := range []string{"env MONGODB_URI", "flag --mongodb-uri", "env MONGO_CREDS"} {
			t.Run(name+" "+how, func(t *testing.T) {
				dir := t.TempDir()
				env := map[string]string{}
				argv := append(append([]string(nil), args...), "--data-dir", dir)
				switch how {
				case "env MONGODB_URI":
					env["MONGODB_URI"] = bad
				case "env MONGO_CREDS":
					env["MONGO_CREDS"] = bad
				default:
					argv = append(argv, "--mongodb-uri", bad)
				}
				var out, errOut bytes.Buffer
				err := run(context.Background(), argv, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
				if err == nil || !strings.Contains(err.Error(), "secret reference") {
					t.Fatalf("%s with %s=%q: got %v, want the malformed secret reference reported\n%s", name, how, bad, err, errOut.String())
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Fatalf("the data dir was touched before the reference was refused: %v", entries)
				}
			})
		}
	}
}
