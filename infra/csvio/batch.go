package csvio

import (
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/events"
)

// Batch converts a parsed file into the rows the import use case applies.
// Passwords are handed on as typed: only an importer that sets passwords
// (one the coordinator asked for) uses them; otherwise an imported user has
// none until one is set through a one-time token (no default password,
// ever: see the README).
func (f File) Batch() imports.Batch {
	b := imports.Batch{Kind: string(f.Kind)}
	for _, p := range f.People {
		b.People = append(b.People, imports.Person{Line: p.Line, Email: p.Email, Name: p.Name, Slots: p.Slots, Password: p.Password,
			Profile: events.Profile{Code: p.Code, Username: p.Username, Programme: p.Programme, Route: p.Route,
				EnrolmentStatus: p.EnrolmentStatus, StartDate: p.StartDate, Position: p.Position, Department: p.Department}})
	}
	for _, a := range f.Assignments {
		b.Pairs = append(b.Pairs, imports.Pair{Line: a.Line, StudentEmail: a.StudentEmail, StaffEmail: a.StaffEmail})
	}
	for _, g := range f.Grades {
		b.Grades = append(b.Grades, imports.Grade{Line: g.Line, StudentEmail: g.StudentEmail, Grade: g.Grade, Label: g.Label, Feedback: g.Feedback})
	}
	for _, p := range f.Preferences {
		b.Preferences = append(b.Preferences, imports.Preference{Line: p.Line, StudentEmail: p.StudentEmail, Choices: p.Choices})
	}
	return b
}

// ParseErrors converts the rows refused while parsing into report rows.
func (f File) ParseErrors() []imports.RowError {
	out := make([]imports.RowError, len(f.Errors))
	for i, e := range f.Errors {
		out[i] = imports.RowError{Line: e.Line, Message: e.Message}
	}
	return out
}
