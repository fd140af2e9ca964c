package legacy

import "github.com/capstone-pms/capstone/commands"

// field is a member of a body the original's forms always send whole,
// with whether the body gave it (a pointer left nil: absent, or null).
type field struct {
	name  string
	given bool
}

// required refuses a body that lacks any of fields, naming each one, as
// the original refused it (400 "Missing required fields"), rather than
// take what it leaves out for empty and clear it: a form sends them all,
// so a body without one is not the form's, and changes nothing.
func required(fields ...field) error {
	var v commands.Validation
	for _, f := range fields {
		if !f.given {
			v.Add(f.name, "is required")
		}
	}
	return v.Err()
}
