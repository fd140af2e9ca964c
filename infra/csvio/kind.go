package csvio

import (
	"errors"
	"fmt"
	"strings"
)

// Kind names one of the CSV files the system imports. The values are the
// {kind} segment of POST /v1/imports/{kind}, so they are part of the API and
// must not change.
type Kind string

// The import kinds. The first six are the original system's files; the
// preferences file is ours (a student's ranked supervisor choices).
const (
	KindStudents              Kind = "students"
	KindSupervisors           Kind = "supervisors"
	KindExaminers             Kind = "examiners"
	KindSupervisorAssignments Kind = "supervisor-assignments"
	KindExaminerAssignments   Kind = "examiner-assignments"
	KindFinalGrades           Kind = "final-grades"
	KindPreferences           Kind = "preferences"
)

// ErrUnknownKind is wrapped by every error about a kind name that is not one
// of the constants, so the API can answer 404 (unknown import) rather than 400.
var ErrUnknownKind = errors.New("unknown import kind")

var allKinds = []Kind{
	KindStudents, KindSupervisors, KindExaminers,
	KindSupervisorAssignments, KindExaminerAssignments,
	KindFinalGrades, KindPreferences,
}

// Kinds lists every import kind in a stable order, for help texts, the
// OpenAPI enum and tests. The slice is a copy the caller may modify.
func Kinds() []Kind {
	return append([]Kind(nil), allKinds...)
}

// ParseKind turns a URL segment or command-line argument into a Kind. It is
// lenient about case and surrounding spaces only, so a typo is an error and
// not a silent import of the wrong file type.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := schemas[k]; ok {
		return k, nil
	}
	return "", unknownKind(s)
}

func unknownKind(s string) error {
	names := make([]string, len(allKinds))
	for i, k := range allKinds {
		names[i] = string(k)
	}
	return fmt.Errorf("%w %s: use one of %s", ErrUnknownKind, quote(s), strings.Join(names, ", "))
}

// Column names, as the original system wrote them.
const (
	colStudentCode     = "Student Code"
	colSupervisorCode  = "Supervisor Code"
	colExaminerCode    = "Examiner Code"
	colName            = "Name"
	colEnrolmentStatus = "Enrolment Status"
	colProgramme       = "Programme"
	colRoute           = "Route"
	colStartDate       = "Start Date"
	colPosition        = "Position"
	colDepartment      = "Department"
	colQMEmail         = "QM Email"
	colUsername        = "Username"
	colPassword        = "Password"
	colSlots           = "Slots"

	colStudentID    = "Student Id"
	colStudentEmail = "Student Email"
	colStudentName  = "Student Name"
	colFinalGrade   = "Final Grade"
	colFeedback     = "Feedback"
)

// column is one column of a kind's header; optional columns may be absent
// from the file (their values then read as blank).
type column struct {
	name     string
	optional bool
}

// staffColumns are the three staff columns of an assignment file, which
// differ only in their role prefix.
func staffColumns(role string) (code, email, name string) {
	return role + " Id", role + " Email", role + " Name"
}

var (
	supervisorID, supervisorEmail, supervisorName = staffColumns("Supervisor")
	examinerID, examinerEmail, examinerName       = staffColumns("Secondary Examiner")
	choiceColumns                                 = []string{"Choice 1", "Choice 2", "Choice 3", "Choice 4", "Choice 5"}
)

// schemas gives each kind's columns in the order the export writes them.
var schemas = map[Kind]columns{
	KindStudents: required(colStudentCode, colName, colEnrolmentStatus, colProgramme, colRoute,
		colStartDate, colQMEmail, colUsername).plusOptional(colPassword),
	KindSupervisors: append(required(colSupervisorCode, colName, colPosition, colDepartment, colQMEmail,
		colUsername).plusOptional(colPassword), column{name: colSlots}),
	KindExaminers: required(colExaminerCode, colName, colPosition, colDepartment, colQMEmail,
		colUsername).plusOptional(colPassword),
	KindSupervisorAssignments: required(colStudentID, colStudentEmail, colStudentName,
		supervisorID, supervisorEmail, supervisorName),
	KindExaminerAssignments: required(colStudentID, colStudentEmail, colStudentName,
		examinerID, examinerEmail, examinerName),
	KindFinalGrades: required(colStudentID, colStudentEmail, colStudentName, colFinalGrade, colFeedback),
	KindPreferences: required(append([]string{colStudentEmail}, choiceColumns...)...),
}

type columns []column

func required(names ...string) columns {
	cs := make(columns, len(names))
	for i, n := range names {
		cs[i] = column{name: n}
	}
	return cs
}

func (cs columns) plusOptional(name string) columns {
	return append(cs, column{name: name, optional: true})
}

// headerNames is the header row of kind as the export writes it: every
// column, including the optional ones.
func headerNames(kind Kind) []string {
	cs := schemas[kind]
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return names
}
