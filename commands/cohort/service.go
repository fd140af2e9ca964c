package cohort

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
)

// Service runs the workflow use cases, each built from single-stream appends
// in an order that keeps the cohort's rules: the cohort stream is written
// first (it may refuse), the project after; a project write that fails
// undoes the cohort write, and a retried request completes a half-done one.
type Service struct {
	X *commands.Executor
	// MaxOpenProjects bounds the projects a student may have open (created
	// and not withdrawn) at once; 0 is no bound, and nothing is counted.
	MaxOpenProjects int
	// ListCandidates lists the students an allocation run may place, with
	// their rankings (see Allocate).
	ListCandidates func(ctx context.Context) ([]Candidate, error)

	// held, when set, remembers the roles found held (see RoleOnce).
	held *heldRoles
}

type heldRoles struct {
	mu    sync.Mutex
	found map[[2]string]bool // [user id, role]
}

// RoleOnce returns a copy of s that checks each user's role once: for a
// batch of commands decided together, as an import decides the rows of a
// file that name the same few hundred supervisors thousands of times. A
// role taken away in the middle of the batch does not stop the rest of
// it, as it would not stop a command checked a moment before.
func (s *Service) RoleOnce() *Service {
	c := *s
	c.held = &heldRoles{found: map[[2]string]bool{}}
	return &c
}

// errNotA refuses a reference to a user without the needed role.
func errNotA(role, field string) error {
	article := "a"
	if strings.ContainsRune("aeiou", rune(role[0])) {
		article = "an"
	}
	return &commands.Error{Kind: commands.KindRule, Code: "not-" + article + "-" + role,
		Message: field + " does not name " + article + " " + role, Fields: []commands.FieldError{{Field: field, Message: "is not " + article + " " + role}}}
}

// requireRole loads a user and checks they are active and hold role.
func (s *Service) requireRole(ctx context.Context, id, role, field string) error {
	key := [2]string{id, role}
	if s.held != nil {
		s.held.mu.Lock()
		held := s.held.found[key]
		s.held.mu.Unlock()
		if held {
			return nil
		}
	}
	u, _, err := commands.Load(ctx, s.X, user.Decider, id)
	if err != nil {
		return err
	}
	if !u.Active() || !u.HasRole(role) {
		return errNotA(role, field)
	}
	if s.held != nil {
		s.held.mu.Lock()
		s.held.found[key] = true
		s.held.mu.Unlock()
	}
	return nil
}

// CheckSupervisor refuses an id that is not an active supervisor.
func (s *Service) CheckSupervisor(ctx context.Context, id string) error {
	return s.requireRole(ctx, id, events.RoleSupervisor, "supervisor_id")
}

// CheckExaminer refuses an id that is not an active examiner.
func (s *Service) CheckExaminer(ctx context.Context, id string) error {
	return s.requireRole(ctx, id, events.RoleExaminer, "examiner_id")
}

// CheckStudent refuses an id that is not an active student.
func (s *Service) CheckStudent(ctx context.Context, id string) error {
	return s.requireRole(ctx, id, events.RoleStudent, "student")
}

// Board returns the cohort's allocation state.
func (s *Service) Board(ctx context.Context) (State, int64, error) {
	return commands.Load(ctx, s.X, Decider, events.CohortStreamID)
}

// CreateProject creates a project under a fresh id; with a supervisorID it
// is submitted to them in the same commit (both or neither). The request's
// own faults are reported before the supervisor is looked up.
//
// With meta.NewID (an idempotency key's), a project that an earlier attempt
// of the request stored is answered as that attempt answered.
func (s *Service) CreateProject(ctx context.Context, meta commands.Meta, c project.Create, supervisorID string) (commands.Result[project.State], error) {
	id := meta.NewStreamID()
	if meta.NewID != "" {
		if res, found, err := commands.Created(ctx, s.X, project.Decider, id); found || err != nil {
			return res, err
		}
	}
	var cmd project.Command = c
	if supervisorID != "" {
		cmd = project.CreateSubmitted{Create: c, Submit: project.Submit{By: meta.Actor, SupervisorID: supervisorID}}
	}
	if _, err := project.Decide(project.Decider.Initial(id), cmd); err != nil {
		return commands.Result[project.State]{}, err
	}
	if supervisorID != "" {
		if err := s.CheckSupervisor(ctx, supervisorID); err != nil {
			return commands.Result[project.State]{}, err
		}
	}
	// The project is counted against the student's limit before it exists,
	// so that racing creations cannot all pass a count taken beforehand.
	if err := s.takeProjectSlot(ctx, meta, c.OwnerID, id); err != nil {
		return commands.Result[project.State]{}, err
	}
	res, err := project.Decider.ExecuteNew(ctx, s.X, id, cmd, meta)
	if meta.NewID != "" && errors.Is(err, commands.ErrAlreadyExists) {
		// An attempt of the same request racing this one stored it first.
		res, _, err = commands.Created(ctx, s.X, project.Decider, id)
	}
	if _, refused := commands.AsError(err); refused && !errors.Is(err, commands.ErrAlreadyExists) {
		s.freeProjectSlot(ctx, meta, c.OwnerID, id, "creation refused") // certainly not stored
	}
	return res, err
}

// EditProject changes the texts of a project (those set in edit), on the
// version of it the caller expects.
func (s *Service) EditProject(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected, edit project.Edit) (commands.Result[project.State], error) {
	return project.Decider.ExecuteAt(ctx, s.X, projectID, expect, edit, meta)
}

// Submit proposes a project to a supervisor.
func (s *Service) Submit(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected, supervisorID string) (commands.Result[project.State], error) {
	if err := s.requireRole(ctx, supervisorID, events.RoleSupervisor, "supervisor_id"); err != nil {
		return commands.Result[project.State]{}, err
	}
	return project.Decider.ExecuteAt(ctx, s.X, projectID, expect, project.Submit{By: meta.Actor, SupervisorID: supervisorID}, meta)
}

// Decide records a supervisor's decision. Accepting takes one of their slots
// on the cohort first (refused when full, when the student is already
// placed or when the owner is no longer a student), then marks the project
// accepted; if that fails, the slot is freed.
// Rejecting frees a slot still held through the project: one an acceptance
// took without marking the project (its process died between the two
// writes, or the store refused both the second and the release).
// The version the caller expects is the project's: it is checked before the
// slot is taken, and guards the project's write, never the cohort's.
// Decisions on one project, and its withdrawal, take turns in a process: an
// acceptance bound to fail (its proposal rejected a moment before) held a
// slot until it failed, and the supervisor's acceptances beside it were
// refused as if every slot were taken.
func (s *Service) Decide(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected, accept bool, comment string) (commands.Result[project.State], error) {
	var none commands.Result[project.State]
	done, err := s.X.Turn(ctx, decisionTurn+projectID)
	if err != nil {
		return none, err
	}
	defer done()
	p, version, err := commands.Load(ctx, s.X, project.Decider, projectID)
	if err != nil {
		return none, err
	}
	if err := expect.Check(version); err != nil {
		return none, err
	}
	decision := project.Decision{By: meta.Actor, Accept: accept, Comment: comment}
	if _, err := project.Decide(p, decision); err != nil {
		return none, err
	}
	if !accept {
		res, err := project.Decider.ExecuteAt(ctx, s.X, projectID, expect, decision, meta)
		if err == nil {
			s.release(ctx, meta, p.OwnerID, projectID, "proposal rejected")
		}
		return res, err
	}
	if err := s.stillStudent(ctx, p.OwnerID); err != nil {
		return none, err // the proposal of someone no longer a student takes no slot
	}
	alloc := Allocate{StudentID: p.OwnerID, SupervisorID: meta.Actor.UserID, Via: events.ViaProposal, ProjectID: projectID}
	if _, err := Decider.Execute(ctx, s.X, events.CohortStreamID, alloc, meta); err != nil {
		return none, err
	}
	if err := s.keepIfStillStudent(ctx, meta, p.OwnerID); err != nil {
		s.release(ctx, meta, p.OwnerID, projectID, "acceptance failed")
		return none, err
	}
	res, err := project.Decider.ExecuteAt(ctx, s.X, projectID, expect, decision, meta)
	if err != nil {
		s.release(ctx, meta, p.OwnerID, projectID, "acceptance failed")
		return none, err
	}
	return res, nil
}

// release frees a slot held through a project; failures are logged, and the
// next decision or withdrawal of that project releases it again.
func (s *Service) release(ctx context.Context, meta commands.Meta, studentID, projectID, reason string) {
	_, err := Decider.Execute(context.WithoutCancel(ctx), s.X, events.CohortStreamID,
		Unallocate{StudentID: studentID, ProjectID: projectID, Reason: reason}, meta)
	if err != nil {
		s.X.Log.ErrorContext(ctx, "free a slot", "student", studentID, "project", projectID, "err", err)
	}
}

// decisionTurn prefixes the key of a project's turn for its decisions.
const decisionTurn = "decision:"

// Withdraw withdraws a project and frees the slot it held, if any.
func (s *Service) Withdraw(ctx context.Context, meta commands.Meta, projectID string, expect commands.Expected) (commands.Result[project.State], error) {
	done, err := s.X.Turn(ctx, decisionTurn+projectID)
	if err != nil {
		return commands.Result[project.State]{}, err
	}
	defer done()
	res, err := project.Decider.ExecuteAt(ctx, s.X, projectID, expect, project.Withdraw{By: meta.Actor}, meta)
	if err != nil {
		return res, err
	}
	s.release(ctx, meta, res.State.OwnerID, projectID, "project withdrawn")
	s.freeProjectSlot(ctx, meta, res.State.OwnerID, projectID, "project withdrawn")
	return res, nil
}

// UpdateProfile sets the parts of a supervisor's profile that p gives; a
// coordinator may also set the capacity (nil leaves it). The version the
// caller expects, and the one answered, is the profile's, which the capacity
// (the cohort's) is not part of: a capacity alone leaves the profile
// untouched, and answers it as it is.
func (s *Service) UpdateProfile(ctx context.Context, meta commands.Meta, supervisorID string, expect commands.Expected, p UpdateProfile, capacity *int) (commands.Result[Profile], error) {
	if err := s.requireRole(ctx, supervisorID, events.RoleSupervisor, "id"); err != nil {
		return commands.Result[Profile]{}, commands.ErrNotFound
	}
	if expect != commands.AnyVersion && (capacity != nil || p.Empty()) { // checked before the capacity changes, not after
		if _, v, err := commands.Load(ctx, s.X, ProfileDecider, SupervisorStreamID(supervisorID)); err != nil {
			return commands.Result[Profile]{}, err
		} else if err := expect.Check(v); err != nil {
			return commands.Result[Profile]{}, err
		}
	}
	if capacity != nil {
		if !slices.Contains(meta.Actor.Roles, events.RoleCoordinator) {
			return commands.Result[Profile]{}, &commands.Error{Kind: commands.KindForbidden, Code: "forbidden",
				Message: "only a coordinator sets a capacity", Fields: []commands.FieldError{{Field: "capacity", Message: "coordinator only"}}}
		}
		if _, err := s.SetCapacity(ctx, meta, supervisorID, *capacity); err != nil {
			return commands.Result[Profile]{}, err
		}
	}
	if p.Empty() {
		profile, v, err := commands.Load(ctx, s.X, ProfileDecider, SupervisorStreamID(supervisorID))
		return commands.Result[Profile]{State: profile, Version: v}, err
	}
	return ProfileDecider.ExecuteAt(ctx, s.X, SupervisorStreamID(supervisorID), expect, p, meta)
}

// SetCapacity sets a supervisor's slots (coordinator); changed is false
// when it already had that capacity.
func (s *Service) SetCapacity(ctx context.Context, meta commands.Meta, supervisorID string, capacity int) (changed bool, err error) {
	if err := s.requireRole(ctx, supervisorID, events.RoleSupervisor, "supervisor_id"); err != nil {
		return false, err
	}
	res, err := Decider.Execute(ctx, s.X, events.CohortStreamID, SetCapacity{SupervisorID: supervisorID, Capacity: capacity}, meta)
	return res.Commit != nil, err
}

// SetPreferences replaces a student's ranking of supervisors. Only an
// active student has one: a ranking stored for anyone else would lie hidden
// in their record and surface the day they were made a student.
func (s *Service) SetPreferences(ctx context.Context, meta commands.Meta, studentID string, expect commands.Expected, supervisorIDs []string) (commands.Result[Student], error) {
	ranking, err := s.checkRanking(ctx, studentID, supervisorIDs)
	if err != nil {
		return commands.Result[Student]{}, err
	}
	return StudentDecider.ExecuteAt(ctx, s.X, StudentStreamID(studentID), expect, ranking, meta)
}

// SetFirstPreferences is SetPreferences at any version for a student
// whose record is likely new (a cohort's first preferences file): unless
// this process holds the record, the ranking is decided without reading
// it, and should the record exist after all, its first commit refuses the
// append and the ranking is decided again on what is stored
// (Decider.ExecuteNew). A record that exists costs that refused append.
func (s *Service) SetFirstPreferences(ctx context.Context, meta commands.Meta, studentID string, supervisorIDs []string) (commands.Result[Student], error) {
	ranking, err := s.checkRanking(ctx, studentID, supervisorIDs)
	if err != nil {
		return commands.Result[Student]{}, err
	}
	return StudentDecider.ExecuteNew(ctx, s.X, StudentStreamID(studentID), ranking, meta)
}

// checkRanking checks that an active student ranks supervisors.
func (s *Service) checkRanking(ctx context.Context, studentID string, supervisorIDs []string) (SetPreferences, error) {
	ranking := SetPreferences{StudentID: studentID, SupervisorIDs: supervisorIDs}
	if err := ranking.ranksSelf(); err != nil {
		return ranking, err // before the ranked are looked up
	}
	if err := s.CheckStudent(ctx, studentID); err != nil {
		return ranking, err
	}
	for _, id := range supervisorIDs {
		if err := s.requireRole(ctx, id, events.RoleSupervisor, "supervisor_ids"); err != nil {
			return ranking, err
		}
	}
	return ranking, nil
}

// AssignSupervisor places a student with a supervisor on the coordinator's
// say, moving them if they were placed elsewhere.
func (s *Service) AssignSupervisor(ctx context.Context, meta commands.Meta, studentID, supervisorID string) (changed bool, err error) {
	if err := s.requireRole(ctx, studentID, events.RoleStudent, "student"); err != nil {
		return false, err
	}
	if err := s.requireRole(ctx, supervisorID, events.RoleSupervisor, "supervisor"); err != nil {
		return false, err
	}
	res, err := Decider.Execute(ctx, s.X, events.CohortStreamID,
		Allocate{StudentID: studentID, SupervisorID: supervisorID, Via: events.ViaAssignment, Replace: true}, meta)
	if err == nil && res.Commit != nil {
		err = s.keepIfStillStudent(ctx, meta, studentID)
	}
	return res.Commit != nil, err
}

// AssignProjectExaminer names the second examiner of the student whose
// project the caller names (and may see), and shows them on that project.
func (s *Service) AssignProjectExaminer(ctx context.Context, meta commands.Meta, projectID, examinerID string) (studentID string, err error) {
	if studentID, err = s.projectStudent(ctx, meta.Actor, projectID); err != nil {
		return "", err
	}
	_, err = s.AssignExaminer(ctx, meta, studentID, examinerID, projectID)
	return studentID, err
}

// AssignExaminer names a student's second examiner, and shows them on the
// given project, or else on the student's accepted project.
func (s *Service) AssignExaminer(ctx context.Context, meta commands.Meta, studentID, examinerID, projectID string) (changed bool, err error) {
	if err := s.requireRole(ctx, examinerID, events.RoleExaminer, "examiner_id"); err != nil {
		return false, err
	}
	res, err := Decider.Execute(ctx, s.X, events.CohortStreamID, AssignExaminer{StudentID: studentID, ExaminerID: examinerID}, meta)
	if err != nil {
		return false, err
	}
	changed = res.Commit != nil
	if a, ok := res.State.Supervisor[studentID]; ok && projectID == "" {
		projectID = a.ProjectID
	}
	if projectID != "" {
		var pr commands.Result[project.State]
		pr, err = project.Decider.Execute(ctx, s.X, projectID, project.SetExaminer{ExaminerID: examinerID}, meta)
		changed = changed || pr.Commit != nil
	}
	return changed, err
}

// projectStudent returns the owner of a project the caller may see.
func (s *Service) projectStudent(ctx context.Context, viewer events.Actor, projectID string) (string, error) {
	p, _, err := commands.Load(ctx, s.X, project.Decider, projectID)
	if err != nil {
		return "", err
	}
	if !p.Created || p.Status == events.StatusWithdrawn || !p.VisibleTo(viewer) {
		return "", commands.ErrNotFound
	}
	return p.OwnerID, nil
}
