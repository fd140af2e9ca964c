package config

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/capstone-pms/capstone/commands"
)

// boolSpellings says which spellings a boolean setting takes, for errors.
const boolSpellings = commands.BoolSpellings

// ParseBool reads a boolean setting as every yes/no of the product is read
// (commands.ParseBool): settings, flags and query parameters take the same
// spellings.
func ParseBool(s string) (bool, error) { return commands.ParseBool(s) }

// BoolVar defines a boolean flag that takes the spellings of ParseBool
// (--demo, --demo=yes, --demo=off), where the standard flag package takes
// only those of strconv.ParseBool and refuses yes/no/on/off.
func BoolVar(fs *flag.FlagSet, p *bool, name string, value bool, usage string) {
	*p = value
	fs.Var((*boolValue)(p), name, usage)
}

// Bool is BoolVar returning the variable.
func Bool(fs *flag.FlagSet, name string, value bool, usage string) *bool {
	p := new(bool)
	BoolVar(fs, p, name, value, usage)
	return p
}

type boolValue bool

func (b *boolValue) Set(s string) error {
	v, err := ParseBool(s)
	if err != nil {
		return fmt.Errorf("want %s", boolSpellings)
	}
	*b = boolValue(v)
	return nil
}

func (b *boolValue) String() string {
	if b == nil {
		return "false"
	}
	return strconv.FormatBool(bool(*b))
}

// IsBoolFlag lets the flag be given without a value (--demo).
func (b *boolValue) IsBoolFlag() bool { return true }

// envBool reads a boolean environment variable: def when unset, an error
// naming the variable when it is set to something that is not a boolean.
func envBool(env func(string) string, key string, def bool) (bool, error) {
	raw := env(key)
	if raw == "" {
		return def, nil
	}
	v, err := ParseBool(raw)
	if err != nil {
		return def, fmt.Errorf("%s=%s: want %s", key, strconv.Quote(raw), boolSpellings)
	}
	return v, nil
}
