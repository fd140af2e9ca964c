package cohort

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
)

// Refusals of grading.
var (
	ErrNotPlaced = &commands.Error{Kind: commands.KindRule, Code: "student-not-placed",
		Message: "a grade is for a student who has a supervisor; place the student first"}
	ErrNotThePlacedProject = &commands.Error{Kind: commands.KindRule, Code: "not-the-accepted-project",
		Message: "the student was placed through the acceptance of another of their projects; grade that one"}
)

// placedProject loads a project and reports whether it is its student's
// placement on the cohort's board.
func (s *Service) placedProject(ctx context.Context, board State, projectID string) (bool, error) {
	p, _, err := commands.Load(ctx, s.X, project.Decider, projectID)
	if err != nil {
		return false, err
	}
	a, ok := board.Supervisor[p.OwnerID]
	return p.Created && ok && a.ProjectID == projectID, nil
}

// SubmitMark takes a marker's mark on a project. The cohort's threshold is
// read first and goes with the command, so the events of a second mark
// record the threshold they were decided with (a threshold changed at that
// moment applies to the next pair).
func (s *Service) SubmitMark(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected, mark int, feedback string) (commands.Result[project.State], error) {
	board, _, err := s.Board(ctx)
	if err != nil {
		return commands.Result[project.State]{}, err
	}
	placed, err := s.placedProject(ctx, board, projectID)
	if err != nil {
		return commands.Result[project.State]{}, err
	}
	cmd := project.SubmitMark{By: meta.Actor, Mark: mark, Feedback: feedback, Threshold: board.Threshold(), Placed: placed}
	return project.Decider.ExecuteAt(ctx, s.X, projectID, expect, cmd, meta)
}

// Moderate sets the agreed mark of a project whose two marks are too far apart.
func (s *Service) Moderate(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected, mark int, comment string) (commands.Result[project.State], error) {
	return project.Decider.ExecuteAt(ctx, s.X, projectID, expect, project.Moderate{Mark: mark, Comment: comment}, meta)
}

// Graded is where a coordinator's grade was recorded, and the marking there.
type Graded struct {
	StudentID string
	// ProjectID is the project it is on; "" for the student's record.
	ProjectID string
	Marking   marking.Record
	Version   int64
	Changed   bool
}

// Grade sets a student's agreed mark on the coordinator's say: through one
// of their projects (PUT /v1/projects/{id}/grade, projectID set) or by the
// student alone (a final-grades import row). A grade is for a student who
// has a supervisor, whichever way they were placed. A student placed by
// accepting a proposal is graded on that project (and given through a
// project, it must be that one); a student placed by an allocation run or
// the coordinator, whose work the department marks outside the system, on
// their record, through any project of theirs.
func (s *Service) Grade(ctx context.Context, meta commands.Meta, studentID, projectID string, mark int, label, feedback string) (Graded, error) {
	if _, err := project.DecideSetMark(marking.Record{}, mark, label, feedback); err != nil {
		return Graded{}, err // the request's own faults first
	}
	if err := s.requireRole(ctx, studentID, events.RoleStudent, "student"); err != nil {
		return Graded{}, err
	}
	board, _, err := s.Board(ctx)
	if err != nil {
		return Graded{}, err
	}
	placed, ok := board.Supervisor[studentID]
	switch {
	case !ok:
		return Graded{}, ErrNotPlaced
	case projectID != "" && placed.ProjectID != "" && placed.ProjectID != projectID:
		return Graded{}, ErrNotThePlacedProject
	}
	onProject, err := s.markedOnProject(ctx, studentID, placed.ProjectID)
	if err != nil {
		return Graded{}, err
	}
	if onProject {
		res, err := project.Decider.Execute(ctx, s.X, placed.ProjectID, project.SetMark{Mark: mark, Label: label, Feedback: feedback, Placed: true}, meta)
		return Graded{StudentID: studentID, ProjectID: placed.ProjectID, Marking: res.State.Marking, Version: res.Version, Changed: res.Commit != nil}, err
	}
	res, err := StudentDecider.Execute(ctx, s.X, StudentStreamID(studentID), SetRecordMark{Mark: mark, Label: label, Feedback: feedback}, meta)
	return Graded{StudentID: studentID, Marking: res.State.Marking, Version: res.Version, Changed: res.Commit != nil}, err
}

// GradeProject is Grade through a project the caller names (and may see):
// the grade is its owner's (PUT /v1/projects/{id}/grade).
func (s *Service) GradeProject(ctx context.Context, meta commands.Meta, projectID string, mark int, label, feedback string) (Graded, error) {
	studentID, err := s.projectStudent(ctx, meta.Actor, projectID)
	if err != nil {
		return Graded{}, err
	}
	return s.Grade(ctx, meta, studentID, projectID, mark, label, feedback)
}

// markedOnProject says whether a placed student's marking is on their
// project (placed through projectID) or on their record
// (marking.OnProject).
func (s *Service) markedOnProject(ctx context.Context, studentID, projectID string) (bool, error) {
	if projectID == "" {
		return false, nil
	}
	p, _, err := commands.Load(ctx, s.X, project.Decider, projectID)
	if err != nil {
		return false, err
	}
	r, _, err := commands.Load(ctx, s.X, StudentDecider, StudentStreamID(studentID))
	if err != nil {
		return false, err
	}
	return marking.OnProject(p.Marking, r.Marking), nil
}

// SetMarkingThreshold sets the cohort's marking threshold.
func (s *Service) SetMarkingThreshold(ctx context.Context, meta commands.Meta, threshold int) (commands.Result[State], error) {
	return Decider.Execute(ctx, s.X, events.CohortStreamID, SetMarkingThreshold{Threshold: threshold}, meta)
}

// ReleasedMark names one mark a release showed its student.
type ReleasedMark struct {
	StudentID string
	ProjectID string // "" for a mark on the student's record
}

// ReleaseOutcome is what a release did.
type ReleaseOutcome struct {
	ReleaseID string
	Released  []ReleasedMark
}

// MaxReleaseList bounds the projects one release may list.
const MaxReleaseList = 20000

// releaseParallel bounds the marks a release appends at once.
const releaseParallel = 8

// ReleaseMarks shows agreed, unreleased marks to their students: those of
// the projects listed, or, with none listed, every one of the cohort.
//
// A release is one event per mark (MarkReleased on the mark's own stream,
// all carrying the release's id), each appended on the version it was
// decided on, like any command. So it stays correct whatever happens at the
// same time: a mark is released only in the state the release read (a
// change racing it makes the append collide, and the release of that mark is
// decided again on the new state); a mark agreed before the release starts
// is released, since every placed student is on the board read at the start;
// a mark agreed while the release runs is released if the release reaches it
// after its agreement, else it waits for the next release; and a release
// interrupted half-way is finished by running it again, which releases
// nothing twice. An explicit list is checked whole first: if any project
// listed has no agreed mark (or does not exist), nothing is released.
func (s *Service) ReleaseMarks(ctx context.Context, meta commands.Meta, projectIDs []string) (ReleaseOutcome, error) {
	out := ReleaseOutcome{ReleaseID: uuid.Must(uuid.NewV7()).String()}
	var targets []ReleasedMark
	if projectIDs != nil {
		var err error
		if targets, err = s.listedForRelease(ctx, projectIDs); err != nil {
			return ReleaseOutcome{}, err
		}
	} else {
		board, _, err := s.Board(ctx)
		if err != nil {
			return ReleaseOutcome{}, err
		}
		for student, a := range board.Supervisor {
			targets = append(targets, ReleasedMark{StudentID: student, ProjectID: a.ProjectID})
		}
	}
	slices.SortFunc(targets, func(a, b ReleasedMark) int { return strings.Compare(a.StudentID+a.ProjectID, b.StudentID+b.ProjectID) })
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(releaseParallel)
	for _, t := range targets {
		g.Go(func() error {
			if projectIDs == nil {
				// Where a student's marking is (a student placed through a
				// project may still have their grade on their record).
				onProject, err := s.markedOnProject(gctx, t.StudentID, t.ProjectID)
				if err != nil {
					return err
				}
				if !onProject {
					t.ProjectID = ""
				}
			}
			released, err := s.releaseOne(gctx, meta, t, out.ReleaseID)
			if released {
				mu.Lock()
				out.Released = append(out.Released, t)
				mu.Unlock()
			}
			return err
		})
	}
	err := g.Wait()
	slices.SortFunc(out.Released, func(a, b ReleasedMark) int { return strings.Compare(a.StudentID+a.ProjectID, b.StudentID+b.ProjectID) })
	return out, err
}

// ReleaseGraded releases one student's agreed mark, where Grade recorded
// it (on graded.ProjectID, or on the student's record), as part of the
// release releaseID: what an import that releases its grades does for each
// one. released is false when the student already sees it (or nothing is
// agreed).
func (s *Service) ReleaseGraded(ctx context.Context, meta commands.Meta, studentID string, graded Graded, releaseID string) (released bool, err error) {
	return s.releaseOne(ctx, meta, ReleasedMark{StudentID: studentID, ProjectID: graded.ProjectID}, releaseID)
}

// releaseOne releases one mark; one with nothing agreed (or a project
// withdrawn since) is passed over.
func (s *Service) releaseOne(ctx context.Context, meta commands.Meta, t ReleasedMark, releaseID string) (bool, error) {
	var commit *events.Commit
	var err error
	if t.ProjectID != "" {
		var res commands.Result[project.State]
		res, err = project.Decider.Execute(ctx, s.X, t.ProjectID, project.ReleaseMark{ReleaseID: releaseID}, meta)
		commit = res.Commit
	} else {
		var res commands.Result[Student]
		res, err = StudentDecider.Execute(ctx, s.X, StudentStreamID(t.StudentID), ReleaseRecordMark{ReleaseID: releaseID}, meta)
		commit = res.Commit
	}
	if errors.Is(err, project.ErrNotAgreed) || errors.Is(err, commands.ErrNotFound) {
		return false, nil
	}
	return commit != nil, err
}

// listedForRelease checks a release's list: every project must exist and
// have an agreed mark, or nothing is released.
func (s *Service) listedForRelease(ctx context.Context, projectIDs []string) ([]ReleasedMark, error) {
	if len(projectIDs) == 0 {
		return nil, commands.Invalid(commands.FieldError{Field: "project_ids", Message: "lists no project: leave it out to release every agreed mark"})
	}
	if len(projectIDs) > MaxReleaseList {
		return nil, commands.Invalid(commands.FieldError{Field: "project_ids", Message: fmt.Sprintf("lists more than %d projects", MaxReleaseList)})
	}
	var out []ReleasedMark
	var refused []string
	seen := map[string]bool{}
	for _, id := range projectIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		p, _, err := commands.Load(ctx, s.X, project.Decider, id)
		if err != nil {
			return nil, err
		}
		if !p.Created || p.Status == events.StatusWithdrawn || p.Marking.Agreed == nil {
			refused = append(refused, id)
			continue
		}
		out = append(out, ReleasedMark{StudentID: p.OwnerID, ProjectID: id})
	}
	if len(refused) > 0 {
		e := *project.ErrNotAgreed
		shown := refused[:min(len(refused), 10)]
		e.Message = fmt.Sprintf("%s; nothing was released: %d of the projects listed have no agreed mark (%s)",
			e.Message, len(refused), strings.Join(shown, ", "))
		e.Fields = []commands.FieldError{{Field: "project_ids", Message: "lists projects without an agreed mark"}}
		return nil, &e
	}
	return out, nil
}
