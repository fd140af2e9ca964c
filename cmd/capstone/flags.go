package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
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

// exitCode is the process's exit status after run: 0 when it succeeded or
// only printed the help asked for, 2 otherwise.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
