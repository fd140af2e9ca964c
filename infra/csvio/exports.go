package csvio

import (
	"io"

	"github.com/capstone-pms/capstone/queries"
)

// Exports writes the read side's export rows in the original system's
// formats (it is the API's CSV writer).
type Exports struct{}

// Assignments writes the supervisor assignments.
func (Exports) Assignments(w io.Writer, rows []queries.AssignmentRow) error {
	out := make([]Assignment, len(rows))
	for i, r := range rows {
		out[i] = Assignment{StudentCode: r.Student.Code, StudentEmail: r.Student.Email, StudentName: r.Student.Name,
			StaffCode: r.Supervisor.Code, StaffEmail: r.Supervisor.Email, StaffName: r.Supervisor.Name}
	}
	return WriteAssignments(w, KindSupervisorAssignments, out)
}

// Grades writes the final grades.
func (Exports) Grades(w io.Writer, rows []queries.GradeRow) error {
	out := make([]Grade, len(rows))
	for i, r := range rows {
		out[i] = Grade{StudentCode: r.Student.Code, StudentEmail: r.Student.Email, StudentName: r.Student.Name,
			Grade: r.Grade, Label: r.Label, Feedback: r.Feedback}
	}
	return WriteGrades(w, out)
}

// Marks writes every mark of the marking.
func (Exports) Marks(w io.Writer, rows []queries.MarkRow) error {
	out := make([]Marks, len(rows))
	for i, r := range rows {
		out[i] = Marks{StudentCode: r.Student.Code, StudentEmail: r.Student.Email, StudentName: r.Student.Name,
			ProjectID: r.ProjectID, ProjectTitle: r.Title, State: r.State,
			SupervisorEmail: r.Supervisor.Email, SupervisorMark: r.SupervisorMark, SupervisorFeedback: r.SupervisorFeedback,
			ExaminerEmail: r.Examiner.Email, ExaminerMark: r.ExaminerMark, ExaminerFeedback: r.ExaminerFeedback,
			AgreedMark: r.AgreedMark, AgreedBy: r.AgreedBy, ModerationComment: r.ModerationComment, Feedback: r.Feedback,
			ReleasedMark: r.ReleasedMark, AgreedLabel: r.AgreedLabel, ReleasedLabel: r.ReleasedLabel}
	}
	return WriteMarks(w, out)
}
