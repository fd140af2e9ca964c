package csvio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
)

// parser turns records into typed rows or row errors for one file.
type parser struct {
	kind   Kind
	header header
	limits Limits
	seen   map[string]int // key e-mail -> line of the first row that had it
	file   File
}

func newParser(kind Kind, h header, limits Limits) *parser {
	return &parser{kind: kind, header: h, limits: limits, seen: map[string]int{}, file: File{Kind: kind}}
}

// malformed reports a row that encoding/csv could not split into fields.
// The reader resumes on the next line, so the rows after it still count.
func (p *parser) malformed(pe *csv.ParseError) {
	p.file.Rows++
	msg := "Row is not valid CSV: " + pe.Err.Error()
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		msg = `Row has a double quote (") inside a value that does not start with one; ` +
			`put the whole value in double quotes and write each quote inside it twice ("")`
	case errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine:
		msg = fmt.Sprintf("Row has a quoted value, read from line %d to line %d, that is not closed properly "+
			"or has text after its closing quote", pe.StartLine, pe.Line)
	case errors.Is(pe.Err, csv.ErrQuote):
		msg = `Row has a quoted value that is not closed properly, or text after its closing quote`
	}
	p.file.Errors = append(p.file.Errors, RowError{Line: pe.StartLine, Message: msg})
}

// record checks one data row and files it as a typed row or as an error.
func (p *parser) record(line int, rec []string) {
	p.file.Rows++
	r := &row{line: line, rec: rec, header: p.header}
	if r.wellFormed(p.limits.MaxField) {
		switch p.kind {
		case KindStudents, KindSupervisors, KindExaminers:
			p.person(r)
		case KindSupervisorAssignments, KindExaminerAssignments:
			p.assignment(r)
		case KindFinalGrades:
			p.grade(r)
		case KindPreferences:
			p.preference(r)
		}
	}
	if len(r.problems) > 0 {
		p.file.Errors = append(p.file.Errors, RowError{Line: line, Message: strings.Join(r.problems, "; ")})
	}
}

// claim records the row's key e-mail, or reports it as a duplicate: the
// import is keyed by e-mail, so a second row for the same person would
// silently overwrite the first. An e-mail is claimed even by a row with
// other problems, so that both rows are reported in one pass.
func (p *parser) claim(r *row, col, email string) {
	if email == "" {
		return
	}
	if first, dup := p.seen[email]; dup {
		r.fail(col, "%s already appears on line %d", quote(email), first)
		return
	}
	p.seen[email] = r.line
}

// person reads a students, supervisors or examiners row, checking the
// cells in column order so that the problems are listed in that order too.
func (p *parser) person(r *row) {
	var person Person
	switch p.kind {
	case KindStudents:
		person = Person{
			Code:            r.text(colStudentCode, maxCode),
			Name:            r.name(colName),
			EnrolmentStatus: r.text(colEnrolmentStatus, maxText),
			Programme:       r.text(colProgramme, maxText),
			Route:           r.text(colRoute, maxText),
			StartDate:       r.text(colStartDate, maxText),
		}
	default:
		code := colSupervisorCode
		if p.kind == KindExaminers {
			code = colExaminerCode
		}
		person = Person{
			Code:       r.text(code, maxCode),
			Name:       r.name(colName),
			Position:   r.text(colPosition, maxText),
			Department: r.text(colDepartment, maxText),
		}
	}
	person.Line = r.line
	person.Email = r.email(colQMEmail, true)
	person.Username = r.text(colUsername, maxCode)
	person.Password = r.password(colPassword)
	if p.kind == KindSupervisors {
		if n, ok := r.number(colSlots, maxSlots); ok {
			person.Slots = &n
		}
	}
	p.claim(r, colQMEmail, person.Email)
	if len(r.problems) == 0 {
		p.file.People = append(p.file.People, person)
	}
}

func (p *parser) assignment(r *row) {
	code, email, name := supervisorID, supervisorEmail, supervisorName
	if p.kind == KindExaminerAssignments {
		code, email, name = examinerID, examinerEmail, examinerName
	}
	a := Assignment{
		Line:         r.line,
		StudentCode:  r.text(colStudentID, maxCode),
		StudentEmail: r.email(colStudentEmail, true),
		StudentName:  r.name(colStudentName),
		StaffCode:    r.text(code, maxCode),
		StaffEmail:   r.email(email, true),
		StaffName:    r.name(name),
	}
	p.claim(r, colStudentEmail, a.StudentEmail)
	if len(r.problems) == 0 {
		p.file.Assignments = append(p.file.Assignments, a)
	}
}

func (p *parser) grade(r *row) {
	g := Grade{
		Line:         r.line,
		StudentCode:  r.text(colStudentID, maxCode),
		StudentEmail: r.email(colStudentEmail, true),
		StudentName:  r.name(colStudentName),
	}
	g.Grade, g.Label = r.finalGrade(colFinalGrade)
	g.Feedback = r.feedback(colFeedback)
	p.claim(r, colStudentEmail, g.StudentEmail)
	if len(r.problems) == 0 {
		p.file.Grades = append(p.file.Grades, g)
	}
}

// preference reads up to five ranked supervisor e-mails. Blanks are allowed
// only after the last choice: a gap usually means a cell was deleted by
// mistake, and closing it silently would change the student's ranking.
func (p *parser) preference(r *row) {
	pref := Preference{Line: r.line, StudentEmail: r.email(colStudentEmail, true)}
	firstBlank, gapReported := "", false
	listed := map[string]string{} // e-mail -> column where it was listed
	for _, col := range choiceColumns {
		if r.value(col) == "" {
			if firstBlank == "" {
				firstBlank = col
			}
			continue
		}
		if firstBlank != "" && !gapReported {
			r.fail(col, "is filled but %s is blank; list the choices without gaps", firstBlank)
			gapReported = true
		}
		email := r.email(col, true)
		if email == "" {
			continue
		}
		if prev, dup := listed[email]; dup {
			r.fail(col, "repeats %s (%s); list each supervisor once", prev, quote(email))
			continue
		}
		listed[email] = col
		pref.Choices = append(pref.Choices, email)
	}
	if firstBlank == choiceColumns[0] && len(listed) == 0 && !gapReported {
		r.fail(choiceColumns[0], "is required: list at least one supervisor e-mail")
	}
	p.claim(r, colStudentEmail, pref.StudentEmail)
	if len(r.problems) == 0 {
		p.file.Preferences = append(p.file.Preferences, pref)
	}
}
