package api

import (
	"bytes"
	"io"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// CSVWriter writes exports in the import formats, escaping cells a
// spreadsheet would run as formulas.
type CSVWriter interface {
	Assignments(w io.Writer, rows []queries.AssignmentRow) error
	Grades(w io.Writer, rows []queries.GradeRow) error
}

func (s *Server) exportRoutes(r *mux.Router) {
	r.HandleFunc("/v1/exports/{name:assignments|grades}.csv", s.authed(s.export, events.RoleCoordinator)).Methods(http.MethodGet)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, a actor) error {
	var buf bytes.Buffer
	name := mux.Vars(r)["name"]
	switch name {
	case "assignments":
		rows, err := s.ExportQ.Assignments(r.Context())
		if err != nil {
			return err
		}
		err = s.CSV.Assignments(&buf, rows)
		if err != nil {
			return err
		}
	case "grades":
		rows, err := s.ExportQ.Grades(r.Context())
		if err != nil {
			return err
		}
		if err := s.CSV.Grades(&buf, rows); err != nil {
			return err
		}
	default:
		return commands.ErrNotFound
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(buf.Bytes())
	return err
}
