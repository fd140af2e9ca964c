package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"

	"github.com/capstone-pms/capstone/infra/config"
)

// parseFlags runs parse with w as the flag set's output, then passes on what
// the flag set printed: help that was asked for (-h, --help) goes to stdout
// and the command exits 0, a usage printed after a mistake goes to stderr.
func parseFlags(stdout, stderr io.Writer, parse func(w io.Writer) error) error {
	var out bytes.Buffer
	err := parse(&out)
	w := stderr
	if errors.Is(err, flag.ErrHelp) {
		w = stdout
	}
	_, _ = out.WriteTo(w)
	return err
}

// parseStoreFlags parses a one-off command's flags: the store's settings
// (config.ParseStore) and those the command registered on fs, with secret
// references resolved as serve resolves them.
func parseStoreFlags(ctx context.Context, fs *flag.FlagSet, args []string, env func(string) string, stdout, stderr io.Writer) (config.Config, error) {
	return parseWithSecrets(ctx, env, func(env func(string) string) (cfg config.Config, err error) {
		err = parseFlags(stdout, stderr, func(w io.Writer) (err error) {
			fs.SetOutput(w)
			cfg, err = config.ParseStore(fs, args, env)
			return err
		})
		fs.SetOutput(stderr) // for a usage printed after parsing
		return cfg, err
	})
}

// exitCode is the process's exit status after run: 0 when it succeeded or
// only printed the help asked for, 1 when an import applied its file but
// refused rows of it, 2 otherwise.
func exitCode(err error) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errRowsRefused):
		return 1
	}
	return 2
}
