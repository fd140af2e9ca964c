package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/queries"
)

func (s *Server) markingRoutes(r *mux.Router) {
	coord := events.RoleCoordinator
	r.HandleFunc("/v1/projects/{id}/mark", s.authed(s.putMark, events.RoleSupervisor, events.RoleExaminer)).Methods(http.MethodPut)
	r.HandleFunc("/v1/projects/{id}/moderation", s.authed(s.moderate, coord)).Methods(http.MethodPost)
	r.HandleFunc("/v1/projects/{id}/grade", s.authed(s.putGrade, coord)).Methods(http.MethodPut)
	r.HandleFunc("/v1/marking", s.authed(s.reads(s.markingOverview, projections.CollStudents, projections.CollProjects, projections.CollCohort), coord)).Methods(http.MethodGet)
	r.HandleFunc("/v1/marking/threshold", s.authed(s.putThreshold, coord)).Methods(http.MethodPut)
	r.HandleFunc("/v1/marking/release", s.authed(s.releaseMarks, coord)).Methods(http.MethodPost)
	r.HandleFunc("/v1/me/marking", s.authed(s.reads(s.myMarking, projections.CollProjects), events.RoleSupervisor, events.RoleExaminer)).Methods(http.MethodGet)
}

// markingJSON is a project's marking, as much of it as the caller may see.
type markingJSON struct {
	State      string          `json:"state"`
	Supervisor *markJSON       `json:"supervisor,omitempty"`
	Examiner   *markJSON       `json:"examiner,omitempty"`
	Moderation *moderationJSON `json:"moderation,omitempty"`
	Agreed     *agreedJSON     `json:"agreed,omitempty"`
	Released   *releasedJSON   `json:"released,omitempty"`
}

type markJSON struct {
	MarkerID string     `json:"marker_id"`
	Mark     int        `json:"mark"`
	Feedback string     `json:"feedback"`
	At       *time.Time `json:"at,omitempty"`
}

type moderationJSON struct {
	Difference int        `json:"difference"`
	Threshold  int        `json:"threshold"`
	At         *time.Time `json:"at,omitempty"`
}

type agreedJSON struct {
	Mark int `json:"mark"`
	// Label is a grade the coordinator gave in words, which stands for Mark.
	Label     string     `json:"label,omitempty"`
	Via       string     `json:"via"`
	Threshold *int       `json:"threshold,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	Feedback  string     `json:"feedback,omitempty"`
	At        *time.Time `json:"at,omitempty"`
}

type releasedJSON struct {
	ReleaseID          string     `json:"release_id,omitempty"`
	Mark               int        `json:"mark"`
	Label              string     `json:"label,omitempty"` // as agreedJSON's
	SupervisorFeedback string     `json:"supervisor_feedback,omitempty"`
	ExaminerFeedback   string     `json:"examiner_feedback,omitempty"`
	Feedback           string     `json:"feedback,omitempty"`
	At                 *time.Time `json:"at,omitempty"`
}

// toMarkingJSON converts a marking already cut for the caller (nil: none).
func toMarkingJSON(m *marking.Shown) *markingJSON {
	if m == nil {
		return nil
	}
	out := &markingJSON{State: m.State, Supervisor: toMarkJSON(m.Supervisor), Examiner: toMarkJSON(m.Examiner)}
	if d := m.Moderation; d != nil {
		out.Moderation = &moderationJSON{Difference: d.Difference, Threshold: d.Threshold, At: utc(d.At)}
	}
	if a := m.Agreed; a != nil {
		out.Agreed = &agreedJSON{Mark: a.Mark, Label: a.Label, Via: a.Via, Comment: a.Comment, Feedback: a.Feedback, At: utc(a.At)}
		if a.Via == events.AgreedByMarkers {
			t := a.Threshold
			out.Agreed.Threshold = &t
		}
	}
	out.Released = toReleasedJSON(m.Released)
	return out
}

func toMarkJSON(m *marking.Mark) *markJSON {
	if m == nil {
		return nil
	}
	return &markJSON{MarkerID: m.MarkerID, Mark: m.Mark, Feedback: m.Feedback, At: utc(m.At)}
}

func toReleasedJSON(r *marking.Release) *releasedJSON {
	if r == nil {
		return nil
	}
	return &releasedJSON{ReleaseID: r.ReleaseID, Mark: r.Mark, Label: r.Label, SupervisorFeedback: r.SupervisorFeedback,
		ExaminerFeedback: r.ExaminerFeedback, Feedback: r.Feedback, At: utc(r.At)}
}

// stateMarking is the marking of a project the caller just wrote to, cut
// for them by the same rule as every read.
func stateMarking(a actor, st project.State) *markingJSON {
	if st.Status != events.StatusAccepted && st.Marking.Empty() {
		return nil
	}
	shown, ok := marking.Show(a, st.Facts(), st.Marking)
	if !ok {
		return nil
	}
	return toMarkingJSON(&shown)
}

type markRequest struct {
	Mark     *int   `json:"mark"`
	Feedback string `json:"feedback"`
}

// putMark takes a marker's mark (their supervisor or second examiner).
func (s *Server) putMark(w http.ResponseWriter, r *http.Request, a actor) error {
	var req markRequest
	return s.markWrite(w, r, a, &req, &req.Mark, func(ctx context.Context, m commands.Meta, id string, expect commands.Expected) (commands.Result[project.State], error) {
		return s.Cohort.SubmitMark(ctx, m, id, expect, *req.Mark, req.Feedback)
	})
}

type moderationRequest struct {
	Mark    *int   `json:"mark"`
	Comment string `json:"comment"`
}

// moderate sets the agreed mark of a project in moderation.
func (s *Server) moderate(w http.ResponseWriter, r *http.Request, a actor) error {
	var req moderationRequest
	return s.markWrite(w, r, a, &req, &req.Mark, func(ctx context.Context, m commands.Meta, id string, expect commands.Expected) (commands.Result[project.State], error) {
		return s.Cohort.Moderate(ctx, m, id, expect, *req.Mark, req.Comment)
	})
}

// markWrite decodes req, whose mark is required, runs a write on the
// project of the path (on the version If-Match names, if any), and answers
// the project as the caller may see it.
func (s *Server) markWrite(w http.ResponseWriter, r *http.Request, a actor, req any, mark **int,
	write func(context.Context, commands.Meta, string, commands.Expected) (commands.Result[project.State], error)) error {
	if err := decodeJSON(w, r, req); err != nil {
		return err
	}
	if *mark == nil {
		return commands.Invalid(commands.FieldError{Field: "mark", Message: "is required"})
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	res, err := write(r.Context(), meta(r, a), mux.Vars(r)["id"], expect)
	if err != nil {
		return err
	}
	setETag(w, res.Version)
	writeJSON(w, http.StatusOK, projectFromState(a, res.State, res.Version))
	return nil
}

type gradeRequest struct {
	Grade    *int   `json:"grade"`
	Feedback string `json:"feedback"`
}

// putGrade sets the agreed mark of a project's owner on the coordinator's
// say: on the project, or on the student's record for a student placed
// without one (cohort.Service.Grade).
func (s *Server) putGrade(w http.ResponseWriter, r *http.Request, a actor) error {
	var req gradeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Grade == nil {
		return commands.Invalid(commands.FieldError{Field: "grade", Message: "is required"})
	}
	id := mux.Vars(r)["id"]
	res, err := s.Cohort.GradeProject(r.Context(), meta(r, a), id, *req.Grade, "", req.Feedback)
	if err != nil {
		return err
	}
	student := res.StudentID
	on, facts := "record", visibility.Project{OwnerID: student, Status: events.StatusAccepted}
	if res.ProjectID != "" {
		on = "project"
	}
	out := map[string]any{"id": id, "student_id": student, "grade": res.Marking.Agreed.Mark,
		"feedback": res.Marking.FinalFeedback(), "version": res.Version, "on": on}
	if shown, ok := marking.Show(a, facts, res.Marking); ok {
		out["marking"] = toMarkingJSON(&shown)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type thresholdRequest struct {
	Threshold *int `json:"threshold"`
}

func (s *Server) putThreshold(w http.ResponseWriter, r *http.Request, a actor) error {
	var req thresholdRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Threshold == nil {
		return commands.Invalid(commands.FieldError{Field: "threshold", Message: "is required"})
	}
	res, err := s.Cohort.SetMarkingThreshold(r.Context(), meta(r, a), *req.Threshold)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"threshold": res.State.Threshold()})
	return nil
}

type releaseRequest struct {
	ProjectIDs *[]string `json:"project_ids"`
}

type releasedMarkJSON struct {
	StudentID string `json:"student_id"`
	ProjectID string `json:"project_id,omitempty"`
}

// releaseMarks releases the agreed, unreleased marks of the cohort, or of
// the projects listed.
func (s *Server) releaseMarks(w http.ResponseWriter, r *http.Request, a actor) error {
	var req releaseRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	var ids []string
	if req.ProjectIDs != nil {
		ids = append([]string{}, *req.ProjectIDs...)
	}
	out, err := s.Cohort.ReleaseMarks(r.Context(), meta(r, a), ids)
	if err != nil {
		return err
	}
	released := make([]releasedMarkJSON, len(out.Released))
	for i, m := range out.Released {
		released[i] = releasedMarkJSON{StudentID: m.StudentID, ProjectID: m.ProjectID}
	}
	writeJSON(w, http.StatusOK, map[string]any{"release_id": out.ReleaseID, "released": released})
	return nil
}

type unitJSON struct {
	StudentID string       `json:"student_id"`
	ProjectID string       `json:"project_id,omitempty"`
	Title     string       `json:"title,omitempty"`
	Marking   *markingJSON `json:"marking"`
}

type outstandingJSON struct {
	MarkerID   string   `json:"marker_id"`
	Marker     string   `json:"marker"`
	ProjectIDs []string `json:"project_ids"`
}

func unitsJSON(v actor, units []queries.StudentUnit) []unitJSON {
	out := make([]unitJSON, len(units))
	for i, u := range units {
		out[i] = unitJSON{StudentID: u.Student.ID}
		if u.Project != nil {
			out[i].ProjectID, out[i].Title = u.Project.ID, u.Project.Title
		}
		if shown, ok := marking.Show(v, u.Facts, u.Record); ok {
			out[i].Marking = toMarkingJSON(&shown)
		}
	}
	return out
}

// markingOverview is the coordinator's view of the cohort's marking.
func (s *Server) markingOverview(w http.ResponseWriter, r *http.Request, a actor) error {
	if err := notPaged(r, "the cohort's marking"); err != nil {
		return err
	}
	o, err := s.MarkingQ.Overview(r.Context(), a)
	if err != nil {
		return err
	}
	outstanding := make([]outstandingJSON, len(o.Outstanding))
	for i, m := range o.Outstanding {
		outstanding[i] = outstandingJSON{MarkerID: m.MarkerID, Marker: m.Marker, ProjectIDs: m.ProjectIDs}
	}
	writeJSON(w, http.StatusOK, map[string]any{"threshold": o.Threshold, "counts": o.Counts,
		"moderation": unitsJSON(a, o.Moderation), "outstanding": outstanding, "no_examiner": unitsJSON(a, o.NoExaminer)})
	return nil
}

type markedJSON struct {
	Marker  string      `json:"marker"`
	State   string      `json:"state"`
	Project projectJSON `json:"project"`
}

// myMarking lists the projects the caller marks.
func (s *Server) myMarking(w http.ResponseWriter, r *http.Request, a actor) error {
	limit, cursor, err := listParams(r)
	if err != nil {
		return err
	}
	page, err := s.MarkingQ.Mine(r.Context(), a, cursor, limit)
	if err != nil {
		return err
	}
	out := listJSON[markedJSON]{Items: make([]markedJSON, len(page.Items)), NextCursor: encodeCursor(page.NextCursor)}
	for i, p := range page.Items {
		out.Items[i] = markedJSON{Marker: p.Marker, Project: projectFromDoc(p.Project)}
		if p.Shown != nil {
			out.Items[i].State = p.Shown.State
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
