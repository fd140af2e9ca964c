package allocation

import (
	"fmt"
	"strings"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/internal/quote"
)

// maxListed caps how many problems one refusal spells out in its message;
// all of them are still in its Fields.
const maxListed = 10

// validate checks the input and returns the effective objective. It reports
// every problem at once, each naming the offending id, so a coordinator can
// fix a broken import in one go; the error is a *commands.Error of kind
// KindInvalid, which the HTTP layer already maps to 400.
func validate(in Input) (Objective, error) {
	var v commands.Validation
	obj := in.Objective
	switch obj {
	case "":
		obj = Generous
	case Generous, Greedy, RankSum:
	default:
		v.Add("objective", fmt.Sprintf("unknown objective %s (want %q, %q or %q)", quote.Bounded(string(obj)), Generous, Greedy, RankSum))
	}
	sups := make(map[string]bool, len(in.Supervisors))
	for i, s := range in.Supervisors {
		switch {
		case s.ID == "":
			v.Add(field("supervisors", i, ".id"), "supervisor id is empty")
		case sups[s.ID]:
			v.Add(field("supervisors", i, ".id"), fmt.Sprintf("duplicate supervisor id %q", s.ID))
		}
		sups[s.ID] = true
		if s.Remaining < 0 {
			v.Add(field("supervisors", i, ".remaining"), fmt.Sprintf("supervisor %q has negative remaining capacity %d", s.ID, s.Remaining))
		}
	}
	students := make(map[string]bool, len(in.Students))
	for i, s := range in.Students {
		switch {
		case s.ID == "":
			v.Add(field("students", i, ".id"), "student id is empty")
		case students[s.ID]:
			v.Add(field("students", i, ".id"), fmt.Sprintf("duplicate student id %q", s.ID))
		}
		students[s.ID] = true
		validateChoices(&v, i, s, sups)
	}
	for i, b := range in.Bars {
		if !students[b.StudentID] {
			v.Add(field("bars", i, ".student_id"), "bar on unknown student "+quote.Bounded(b.StudentID))
		}
		if !sups[b.SupervisorID] {
			v.Add(field("bars", i, ".supervisor_id"), "bar on unknown supervisor "+quote.Bounded(b.SupervisorID))
		}
	}
	return obj, refusal(v)
}

// validateChoices checks one student's ranked list.
func validateChoices(v *commands.Validation, i int, s Student, sups map[string]bool) {
	if len(s.Choices) > MaxChoices {
		v.Add(field("students", i, ".choices"), fmt.Sprintf("student %q ranks %d supervisors, more than %d", s.ID, len(s.Choices), MaxChoices))
	}
	for j, c := range s.Choices {
		switch {
		case !sups[c]:
			v.Add(field("students", i, fmt.Sprintf(".choices[%d]", j)), fmt.Sprintf("student %q: choice %d names unknown supervisor %q", s.ID, j+1, c))
		case j > 0 && containsBefore(s.Choices, j):
			v.Add(field("students", i, fmt.Sprintf(".choices[%d]", j)), fmt.Sprintf("student %q ranks supervisor %q more than once", s.ID, c))
		}
	}
}

// field names the offending part of the input, e.g. "students[3].choices[1]".
// It is only formatted for problems, so valid inputs cost no formatting.
func field(list string, i int, sub string) string {
	return fmt.Sprintf("%s[%d]%s", list, i, sub)
}

// containsBefore reports whether choices[j] already occurs before j.
func containsBefore(choices []string, j int) bool {
	for _, c := range choices[:j] {
		if c == choices[j] {
			return true
		}
	}
	return false
}

// refusal turns the collected problems into one error whose message names
// them (commands.Invalid only does that for a single problem).
func refusal(v commands.Validation) error {
	if len(v) == 0 {
		return nil
	}
	msgs := make([]string, 0, min(len(v), maxListed)+1)
	for _, f := range v[:min(len(v), maxListed)] {
		msgs = append(msgs, f.Field+": "+f.Message)
	}
	if len(v) > maxListed {
		msgs = append(msgs, fmt.Sprintf("and %d more", len(v)-maxListed))
	}
	return &commands.Error{
		Kind:    commands.KindInvalid,
		Code:    "invalid",
		Message: "invalid allocation input: " + strings.Join(msgs, "; "),
		Fields:  v,
	}
}
