package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/capstone-pms/capstone/infra/embedded"
)

// dataDirInUse explains a data dir refused because another process holds it
// (embedded.LockedError) and says what to do: run the same thing through the
// running service's API (instead, given its base URL, writes the call) or
// stop that service first. Any other error is returned as it is.
func dataDirInUse(err error, instead func(base string) string) error {
	var locked *embedded.LockedError
	if !errors.As(err, &locked) {
		return err
	}
	who := "another capstone process"
	if locked.Holder.PID > 0 {
		who += fmt.Sprintf(" (pid %d)", locked.Holder.PID)
	}
	base := serviceURL(locked.Holder.ServiceAddr)
	if base != "" {
		who += " serving " + base
	}
	msg := fmt.Sprintf("the data dir %s is in use by %s", locked.Dir, who)
	if base == "" || instead == nil {
		return fmt.Errorf("%s: stop it first, or give this command another --data-dir", msg)
	}
	return fmt.Errorf("%s. Do it through the running service, as a coordinator (TOKEN: the \"token\" of POST /v1/auth/sign-in):\n  %s\nor stop the service first and run this again", msg, instead(base))
}

// serviceURL is the base URL a local client reaches a listen address at.
func serviceURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// curlJSON writes a curl call with a JSON body, quoted for a POSIX shell.
func curlJSON(url string, body any) string {
	var raw strings.Builder
	enc := json.NewEncoder(&raw)
	enc.SetEscapeHTML(false) // a placeholder such as <the password> stays readable
	_ = enc.Encode(body)
	return fmt.Sprintf("curl -X POST %s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -d %s",
		shellQuote(url), shellQuote(strings.TrimSpace(raw.String())))
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
