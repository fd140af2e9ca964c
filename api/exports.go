package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/quote"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

// CSVWriter writes exports in the import formats, escaping cells a
// spreadsheet would run as formulas.
type CSVWriter interface {
	Assignments(w io.Writer, rows []queries.AssignmentRow) error
	Grades(w io.Writer, rows []queries.GradeRow) error
	Marks(w io.Writer, rows []queries.MarkRow) error
}

// The exports are named after the import kind whose format they are written
// in, so that an export imports back under its own name; the marks export
// is a report of the marking, with no import of its own.
const (
	ExportSupervisorAssignments = "supervisor-assignments"
	ExportFinalGrades           = "final-grades"
	ExportMarks                 = "marks"
)

// ExportNames lists the exports, in the order the docs give them.
var ExportNames = []string{ExportSupervisorAssignments, ExportFinalGrades, ExportMarks}

// ReportExports are the exports that are reports, written in no import's
// format (so nothing imports them back).
var ReportExports = []string{ExportMarks}

// exportAliases are the exports' earlier names, still answered for clients
// written against them; the docs give only ExportNames.
var exportAliases = map[string]string{"assignments": ExportSupervisorAssignments, "grades": ExportFinalGrades}

func (s *Server) exportRoutes(r *mux.Router) {
	r.HandleFunc("/v1/exports/{name}.csv", s.authed(s.reads(s.export, projections.CollStudents, projections.CollUsers, projections.CollProjects), events.RoleCoordinator)).Methods(http.MethodGet)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, a actor) error {
	if err := notPaged(r, "an export"); err != nil {
		return err
	}
	var buf bytes.Buffer
	name := mux.Vars(r)["name"]
	if canonical, ok := exportAliases[name]; ok {
		name = canonical
	}
	var err error
	switch name {
	case ExportSupervisorAssignments:
		err = writeExport(r, a, &buf, s.ExportQ.Assignments, s.CSV.Assignments)
	case ExportFinalGrades:
		err = writeExport(r, a, &buf, s.ExportQ.Grades, s.CSV.Grades)
	case ExportMarks:
		err = writeExport(r, a, &buf, s.ExportQ.Marks, s.CSV.Marks)
	default:
		return &commands.Error{Kind: commands.KindNotFound, Code: "unknown-export",
			Message: "unknown export " + quote.Bounded(name) + ": use one of " + strings.Join(ExportNames, ", ")}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(buf.Bytes())
	return err
}

// writeExport reads an export's rows for the caller and writes them as CSV.
func writeExport[R any](r *http.Request, a actor, w io.Writer, rows func(context.Context, queries.Viewer) ([]R, error),
	write func(io.Writer, []R) error) error {
	got, err := rows(r.Context(), a)
	if err != nil {
		return err
	}
	return write(w, got)
}
