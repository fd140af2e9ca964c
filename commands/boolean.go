package commands

import (
	"fmt"
	"strconv"
	"strings"
)

// BoolSpellings says which spellings a yes/no takes, for errors.
const BoolSpellings = "true or false (also 1/0, yes/no, on/off)"

// ParseBool is the one reading of a yes/no that a person writes, wherever
// they write it: a setting, a flag, a query parameter. It takes the usual
// spellings, case-insensitively: true/false, 1/0, yes/no, on/off. Anything
// else is an error, never a silent false: CAPSTONE_DEMO=yes must not be
// ignored, and ?dry_run=yes must not import for real.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a boolean: want %s", strconv.Quote(s), BoolSpellings)
}
