package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/events"
)

// MaxCSVUpload is the largest CSV upload accepted (docs/api.md, Limits).
const MaxCSVUpload = 10 << 20

// ImportWriteTimeout bounds the answer of an import, instead of the
// server's write timeout (a minute), which a large file on a busy store can
// outlast. Where writes wait for the read models (SettleEvery), the answer
// gets AnswerTimeout from the end of that wait instead, however long the
// file took.
var ImportWriteTimeout = 10 * time.Minute

// ErrFileTooLarge is wrapped by an ImportParser for a file over the limit.
var ErrFileTooLarge = errors.New("the file is too large")

// ParsedFile is an upload read by an ImportParser.
type ParsedFile struct {
	Batch  imports.Batch
	Rows   int
	Errors []imports.RowError
}

// ImportParser reads a CSV upload of a kind. A file refused whole returns an
// error (a *commands.Error for the client, or wrapping ErrFileTooLarge).
type ImportParser func(kind string, r io.Reader) (ParsedFile, error)

func (s *Server) importRoutes(r *mux.Router) {
	r.HandleFunc("/v1/imports/{kind}", s.authed(s.importFile, events.RoleCoordinator)).Methods(http.MethodPost)
}

// importFile applies a CSV file (multipart field "file", or a text/csv body)
// and answers the report; with ?dry_run=true nothing is stored, and with
// ?passwords=true the Password column sets the passwords of users who have
// none yet (otherwise it is ignored).
func (s *Server) importFile(w http.ResponseWriter, r *http.Request, a actor) error {
	dry, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	passwords, err := queryBool(r, "passwords")
	if err != nil {
		return err
	}
	body, err := csvBody(w, r)
	if err != nil {
		return err
	}
	rep, err := s.Import(r, a, Import{Kind: mux.Vars(r)["kind"], File: body, DryRun: dry, Passwords: passwords})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// Import is one CSV file to apply.
type Import struct {
	Kind string
	// File is the CSV; a form's part wrapped by FormFile is refused when
	// the form holds another file.
	File      io.Reader
	DryRun    bool
	Passwords bool // set the Password column's passwords (see imports.Importer)
	// ReleaseGrades releases the grades of a final-grades file at once.
	ReleaseGrades bool
	// Roles replaces the roles a people file gives (nil: the kind's role).
	Roles []string
}

// Import parses and applies a CSV file for a, as POST /v1/imports/{kind}
// does, and reports every row: the rows refused while reading the file
// and those the import refused, by line.
func (s *Server) Import(r *http.Request, a events.Actor, in Import) (imports.Report, error) {
	parsed, err := s.ParseImport(in.Kind, in.File)
	if errors.Is(err, ErrFileTooLarge) {
		return imports.Report{}, problem(http.StatusRequestEntityTooLarge, "file-too-large", "CSV uploads are limited to 10 MiB")
	}
	if err != nil {
		return imports.Report{}, err
	}
	if f, ok := in.File.(*formFile); ok {
		if err := f.onlyFile(); err != nil {
			return imports.Report{}, err
		}
	}
	batch := parsed.Batch
	batch.Roles = in.Roles
	im := s.Importer(in.DryRun)
	im.Passwords, im.ReleaseGrades = in.Passwords, in.ReleaseGrades
	rep, err := im.Run(r.Context(), meta(r, a), batch, nil)
	if err != nil {
		return imports.Report{}, err
	}
	rep.Rows, rep.DryRun = parsed.Rows, in.DryRun
	rep.Errors = mergeRowErrors(parsed.Errors, rep.Errors)
	return rep, nil
}

// CSVBody returns the uploaded file of a CSV upload (see csvBody).
func CSVBody(w http.ResponseWriter, r *http.Request) (io.Reader, error) { return csvBody(w, r) }

// csvBody returns the uploaded file: the "file" part of a multipart form, or
// the body itself when it is sent as text/csv.
func csvBody(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	// The answer comes once every row is applied: a cohort's file may take
	// longer than the server's write timeout, which would cut it off.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(ImportWriteTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, MaxCSVUpload+64<<10)
	mt, _, err := MediaType(r)
	if p := (*Problem)(nil); errors.As(err, &p) {
		return nil, p
	}
	switch {
	case err == nil && mt == "text/csv":
		return r.Body, nil
	case err == nil && mt == "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, problem(http.StatusBadRequest, "malformed-multipart", "the multipart body cannot be read")
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, commands.Invalid(commands.FieldError{Field: "file", Message: "is required (a CSV file)"})
			}
			if part.FormName() == "file" {
				return FormFile(mr, part), nil
			}
		}
	}
	return nil, problem(http.StatusUnsupportedMediaType, "unsupported-media-type", "send the CSV as multipart/form-data (field \"file\") or as text/csv")
}

func mergeRowErrors(a, b []imports.RowError) []imports.RowError {
	out := append(append([]imports.RowError{}, a...), b...)
	for i := 1; i < len(out); i++ { // insertion sort: both are sorted, and short
		for j := i; j > 0 && out[j].Line < out[j-1].Line; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
