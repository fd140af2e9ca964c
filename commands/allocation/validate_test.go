package allocation

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
)

func TestInvalidInput(t *testing.T) {
	sups := []Supervisor{{"x", 1}, {"y", 1}}
	tests := []struct {
		name  string
		in    Input
		field string
		names string // the offending id or value the message must name
	}{
		{"unknown objective", Input{Objective: "fairest"}, "objective", `"fairest"`},
		{"duplicate student", Input{Supervisors: sups, Students: []Student{{"s1", nil}, {"s1", nil}}}, "students[1].id", `"s1"`},
		{"duplicate supervisor", Input{Supervisors: []Supervisor{{"x", 1}, {"x", 2}}}, "supervisors[1].id", `"x"`},
		{"empty student id", Input{Students: []Student{{"", nil}}}, "students[0].id", "empty"},
		{"empty supervisor id", Input{Supervisors: []Supervisor{{"", 1}}}, "supervisors[0].id", "empty"},
		{"negative capacity", Input{Supervisors: []Supervisor{{"x", -1}}}, "supervisors[0].remaining", `"x"`},
		{"unknown supervisor", Input{Supervisors: sups, Students: []Student{{"s1", []string{"x", "ghost"}}}}, "students[0].choices[1]", `"ghost"`},
		{"too many choices", Input{Supervisors: []Supervisor{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}},
			Students: []Student{{"s9", []string{"a", "b", "c", "d", "e", "f"}}}}, "students[0].choices", `"s9"`},
		{"duplicate choice", Input{Supervisors: sups, Students: []Student{{"s2", []string{"x", "y", "x"}}}}, "students[0].choices[2]", `"s2"`},
		{"bar on an unknown student", Input{Supervisors: sups, Bars: []Bar{{"nobody", "x"}}}, "bars[0].student_id", `"nobody"`},
		{"bar on an unknown supervisor", Input{Supervisors: sups, Students: []Student{{"s3", nil}}, Bars: []Bar{{"s3", "ghost"}}}, "bars[0].supervisor_id", `"ghost"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Allocate(tc.in)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			e, ok := commands.AsError(err)
			if !ok || e.Kind != commands.KindInvalid {
				t.Fatalf("error %v is not an invalid-input refusal", err)
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Fatalf("fields %+v, want one on %s", e.Fields, tc.field)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("error %q does not name %s", err, tc.names)
			}
		})
	}
}

// TestInvalidInputListsAll: one refusal names every problem, so a broken
// import is fixed in one round.
func TestInvalidInputListsAll(t *testing.T) {
	in := Input{
		Objective:   "best",
		Supervisors: []Supervisor{{"x", -2}},
		Students:    []Student{{"s1", []string{"nobody"}}, {"s1", nil}},
	}
	_, err := Allocate(in)
	e, ok := commands.AsError(err)
	if !ok || len(e.Fields) != 4 {
		t.Fatalf("error %v: want 4 fields", err)
	}
	for _, s := range []string{`"best"`, `"x"`, `"nobody"`, `duplicate student id "s1"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if errors.Is(err, ErrTooLarge) {
		t.Errorf("invalid input must not match ErrTooLarge")
	}
}

// TestInvalidInputQuotesBounded: a value the request gave (an objective, a
// bar's ids) is quoted to at most quote.MaxRunes characters in the refusal:
// a 10,000-character objective used to come back whole.
func TestInvalidInputQuotesBounded(t *testing.T) {
	long := strings.Repeat("x", 10000)
	sups := []Supervisor{{"x", 1}}
	for _, in := range []Input{
		{Objective: Objective(long)},
		{Supervisors: sups, Bars: []Bar{{long, "x"}}},
		{Supervisors: sups, Students: []Student{{"s1", nil}}, Bars: []Bar{{"s1", long}}},
	} {
		_, err := Allocate(in)
		if err == nil || len(err.Error()) > 400 {
			t.Fatalf("refusal of %d characters: %.200v", len(fmt.Sprint(err)), err)
		}
	}
}
