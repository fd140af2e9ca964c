package auth

import (
	_ "embed"
	"strings"
	"unicode"
)

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the blocklist of passwords attackers try first, shipped
// with the binary (no network, no file to install).
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsFile, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// isCommon reports whether the (normalised) password is on the blocklist,
// in any case, or is an entry with digits, symbols or spaces added before
// or after it ("Password2026!", "123 monkey").
func isCommon(p string) bool {
	lower := strings.ToLower(p)
	if commonPasswords[lower] {
		return true
	}
	padding := func(r rune) bool { return !unicode.IsLetter(r) }
	base := strings.TrimFunc(lower, padding)
	return base != "" && base != lower && commonPasswords[base]
}
