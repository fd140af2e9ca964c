package legacy

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/events"
)

// The files the Admin page uploads, as the import kinds of /v1.
const (
	kindStudents              = imports.Students
	kindSupervisors           = imports.Supervisors
	kindExaminers             = imports.Examiners
	kindSupervisorAssignments = imports.SupervisorAssignments
	kindExaminerAssignments   = imports.ExaminerAssignments
	kindFinalGrades           = imports.FinalGrades
)

// upload (C02 to C07) imports a file of a kind through the /v1 import,
// with the original's differences: the passwords of a people file are set
// (the coordinator hands them out; a user who has one keeps it),
// supervisors are examiners too, and grades are released to the students
// at once (the original knew no release). Good rows are kept and the import is
// idempotent, so a fixed file can be uploaded again; if any row failed the
// answer is 400 with the line of each and why, so that the Admin page does
// not report success.
func (s *Server) upload(kind string) handler {
	in := api.Import{Kind: kind}
	switch kind {
	case kindStudents, kindExaminers:
		in.Passwords = true
	case kindSupervisors:
		in.Passwords, in.Roles = true, []string{events.RoleSupervisor, events.RoleExaminer}
	case kindFinalGrades:
		in.ReleaseGrades = true
	}
	return func(w http.ResponseWriter, r *http.Request, a events.Actor) error {
		file, err := csvFile(w, r)
		if err != nil {
			return err
		}
		in := in
		in.File = file
		rep, err := s.API.Import(r, a, in)
		if err != nil {
			return err
		}
		if len(rep.Errors) > 0 {
			return badRows(rep)
		}
		writeJSON(w, http.StatusOK, rep)
		return nil
	}
}

// badRows is the refusal of a file some of whose rows failed: each row's
// line and reason, one a line, after what was kept.
func badRows(rep imports.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d rows failed (the others were kept: %d created, %d updated, %d unchanged); fix these and upload the file again:",
		len(rep.Errors), rep.Rows, rep.Created, rep.Updated, rep.Unchanged)
	for _, e := range rep.Errors {
		fmt.Fprintf(&b, "\nline %d: %s", e.Line, e.Message)
	}
	return &api.Problem{Status: http.StatusBadRequest, Code: "rows-refused", Detail: b.String()}
}

// csvFile returns the multipart part named "file", which must be a .csv
// file, as the original required.
func csvFile(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxCSVUpload+64<<10)
	if mt, _, err := api.MediaType(r); err != nil || mt != "multipart/form-data" {
		return nil, &api.Problem{Status: http.StatusUnsupportedMediaType, Code: "unsupported-media-type",
			Detail: `send the file as multipart/form-data, in a part named "file"`}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, &api.Problem{Status: http.StatusBadRequest, Code: "malformed-multipart", Detail: "the multipart body cannot be read"}
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, &api.Problem{Status: http.StatusBadRequest, Code: "invalid", Detail: `no file: send it in a part named "file"`}
		}
		if part.FormName() != "file" {
			continue
		}
		if !strings.HasSuffix(strings.ToLower(part.FileName()), ".csv") {
			return nil, &api.Problem{Status: http.StatusBadRequest, Code: "invalid", Detail: "the file must be a .csv file"}
		}
		return api.FormFile(mr, part), nil
	}
}
