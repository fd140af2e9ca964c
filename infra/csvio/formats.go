package csvio

import "fmt"

// format is what the cells of a column take. Each column name has one, the
// same in every kind that has the column; the parser's checks (rows.go) are
// what it describes, and a test probes each column of each kind against
// them, so that the documentation Columns gives cannot drift from them.
type format int

const (
	fmtCode     format = iota // one line, at most maxCode runes, may be blank
	fmtName                   // required, one line, at most maxName runes
	fmtText                   // one line, at most maxText runes, may be blank
	fmtKeyEmail               // required address, the row's key: once per file
	fmtEmail                  // required address
	fmtSlots                  // required whole number from 0 to maxSlots
	fmtGrade                  // required: a mark from 0 to maxGrade, or words
	fmtFeedback               // several lines, at most maxFeedback runes, may be blank
	fmtPassword               // only trimmed; used only when asked for
	fmtChoice                 // a supervisor's address; the first one required, no gaps
)

// formats gives every column name its format.
var formats = map[string]format{
	colStudentCode: fmtCode, colSupervisorCode: fmtCode, colExaminerCode: fmtCode, colUsername: fmtCode,
	colStudentID: fmtCode, supervisorID: fmtCode, examinerID: fmtCode,
	colName: fmtName, colStudentName: fmtName, supervisorName: fmtName, examinerName: fmtName,
	colEnrolmentStatus: fmtText, colProgramme: fmtText, colRoute: fmtText, colStartDate: fmtText,
	colPosition: fmtText, colDepartment: fmtText,
	colQMEmail: fmtKeyEmail, colStudentEmail: fmtKeyEmail,
	supervisorEmail: fmtEmail, examinerEmail: fmtEmail,
	colSlots: fmtSlots, colFinalGrade: fmtGrade, colFeedback: fmtFeedback, colPassword: fmtPassword,
	choiceColumns[0]: fmtChoice, choiceColumns[1]: fmtChoice, choiceColumns[2]: fmtChoice,
	choiceColumns[3]: fmtChoice, choiceColumns[4]: fmtChoice,
}

func (f format) String() string {
	switch f {
	case fmtCode:
		return fmt.Sprintf("one line of at most %d characters; may be blank", maxCode)
	case fmtName:
		return fmt.Sprintf("required; one line of at most %d characters", maxName)
	case fmtText:
		return fmt.Sprintf("one line of at most %d characters; may be blank", maxText)
	case fmtKeyEmail:
		return fmt.Sprintf("required; an e-mail address in ASCII of at most %d characters, read in lower case; it names the row's person, "+
			"so a second row with the same address is an error", maxEmail)
	case fmtEmail:
		return fmt.Sprintf("required; an e-mail address in ASCII of at most %d characters, read in lower case", maxEmail)
	case fmtSlots:
		return fmt.Sprintf("required; a whole number from 0 to %d, in plain digits (the supervisor's capacity)", maxSlots)
	case fmtGrade:
		return fmt.Sprintf("required; a mark, a whole number from 0 to %d in plain digits, or a grade in words (A, Pass, 2:1), "+
			"which is not a number in any notation (72.5, 1E+02, NaN, Infinity, 0x10, 1_000 and digits of other scripts are refused)", maxGrade)
	case fmtFeedback:
		return fmt.Sprintf("text of at most %d characters, line breaks allowed; may be blank", maxFeedback)
	case fmtPassword:
		return "the user's first password, only trimmed; read only when the import is asked to set passwords " +
			"(`?passwords=true`, `--passwords`), and only for a user who has none, under the password rules; may be blank"
	case fmtChoice:
		return fmt.Sprintf("a supervisor's e-mail address, read in lower case; %s is required, the later ones may be blank "+
			"after the last choice but not in between, and each supervisor is listed once", choiceColumns[0])
	}
	return "?"
}

// ColumnDoc is one column of a kind's file, as the import's documentation
// states it.
type ColumnDoc struct {
	Name string
	// Optional: the column may be left out of the file (its cells then read
	// as blank). Every other column must be in the header.
	Optional bool
	// Format is what its cells take.
	Format string
}

// Columns documents the columns of kind's file, in the order the export
// writes them; nil for a kind that does not exist.
func Columns(kind Kind) []ColumnDoc {
	cs, ok := schemas[kind]
	if !ok {
		return nil
	}
	out := make([]ColumnDoc, len(cs))
	for i, c := range cs {
		out[i] = ColumnDoc{Name: c.name, Optional: c.optional, Format: formats[c.name].String()}
	}
	return out
}
