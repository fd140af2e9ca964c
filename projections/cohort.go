package projections

import (
	"slices"
	"strings"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// Read-model collections of the workflow.
const (
	CollSupervisors = "supervisors"
	CollStudents    = "students"
)

// Positions is embedded in multi-stream documents: the version folded per
// stream (its bson name is PositionsField).
type Positions struct {
	Versions map[string]int64 `bson:"versions"`
}

// StreamVersions returns the folded version per stream.
func (v *Positions) StreamVersions() map[string]int64 { return v.Versions }

// SetStreamVersion records that a stream was folded up to version n.
func (v *Positions) SetStreamVersion(streamID string, n int64) {
	if v.Versions == nil {
		v.Versions = map[string]int64{}
	}
	v.Versions[streamID] = n
}

// SupervisorDoc is a supervisor as every user sees them in the list.
type SupervisorDoc struct {
	ID         string        `bson:"_id"`
	Email      string        `bson:"email"`
	Name       string        `bson:"name"`
	Position   string        `bson:"position"`
	Department string        `bson:"department"`
	Areas      []string      `bson:"areas"`
	Info       string        `bson:"info"`
	Ideas      []events.Idea `bson:"project_ideas"`
	Capacity   int           `bson:"capacity"`
	Allocated  int           `bson:"allocated"`
	Remaining  int           `bson:"remaining"`
	Active     bool          `bson:"active"`
	Positions  `bson:",inline"`
}

// NewSupervisors builds the supervisors list from users, profiles and the cohort.
func NewSupervisors(docs Documents, streams Streams) *Multi[SupervisorDoc, *SupervisorDoc] {
	return &Multi[SupervisorDoc, *SupervisorDoc]{
		ProjectionName: "supervisors", Collection: CollSupervisors, Broadcast: []string{events.StreamCohort},
		Targets: supervisorTargets, Fold: foldSupervisor, Docs: docs, Streams: streams, locks: keylock.New(),
	}
}

func supervisorTargets(e events.Envelope) []string {
	switch d := e.Data.(type) {
	case *events.UserCreated:
		if slices.Contains(d.Roles, events.RoleSupervisor) {
			return []string{e.StreamID}
		}
	case *events.UserUpdated, *events.UserDeleted:
		return []string{e.StreamID}
	case *events.SupervisorProfileUpdated:
		return []string{strings.TrimPrefix(e.StreamID, "supervisor:")}
	case *events.CapacitySet:
		return []string{d.SupervisorID}
	case *events.StudentAllocated:
		return []string{d.SupervisorID}
	case *events.StudentUnallocated:
		return []string{d.SupervisorID}
	case *events.AllocationRun:
		var ids []string
		for _, p := range d.Placements {
			if !slices.Contains(ids, p.SupervisorID) {
				ids = append(ids, p.SupervisorID)
			}
		}
		return ids
	}
	return nil
}

func foldSupervisor(d *SupervisorDoc, id string, e events.Envelope) {
	d.ID = id
	switch x := e.Data.(type) {
	case *events.UserCreated:
		d.Email, d.Name, d.Position, d.Department = x.Email, x.Name, x.Profile.Position, x.Profile.Department
		d.Active = slices.Contains(x.Roles, events.RoleSupervisor)
	case *events.UserUpdated:
		d.Name, d.Position, d.Department = x.Name, x.Profile.Position, x.Profile.Department
		d.Active = slices.Contains(x.Roles, events.RoleSupervisor)
	case *events.UserDeleted:
		d.Active = false
	case *events.SupervisorProfileUpdated:
		d.Areas, d.Info, d.Ideas = x.Areas, x.Info, x.Ideas
	case *events.CapacitySet:
		d.Capacity = x.Capacity
	case *events.StudentAllocated:
		d.Allocated++
	case *events.StudentUnallocated:
		d.Allocated--
	case *events.AllocationRun:
		for _, p := range x.Placements {
			if p.SupervisorID == id {
				d.Allocated++
			}
		}
	}
	d.Remaining = max(0, d.Capacity-d.Allocated)
}

// StudentDoc is a student's overview.
type StudentDoc struct {
	ID           string         `bson:"_id"`
	Email        string         `bson:"email"`
	Name         string         `bson:"name"`
	Profile      events.Profile `bson:"profile"`
	Active       bool           `bson:"active"`
	Preferences  []string       `bson:"preferences"`
	SupervisorID string         `bson:"supervisor_id,omitempty"`
	Via          string         `bson:"via,omitempty"`
	ProjectID    string         `bson:"project_id,omitempty"` // the accepted project
	ExaminerID   string         `bson:"examiner_id,omitempty"`
	// Graded, Grade and Feedback are a grade recorded before marking
	// existed (GradeRecorded), as documents written then kept it; the
	// queries read it when Marking is empty, so such a document answers
	// as it did until it is rebuilt.
	Graded   bool   `bson:"graded"`
	Grade    int    `bson:"grade"`
	Feedback string `bson:"feedback,omitempty"`
	// Marking is the marking on the student's own record (a student placed
	// without a project); a project's is on the project's document.
	Marking marking.Record `bson:"marking,omitempty"`
	// ProjectIDs are the first ListedProjects projects the student created
	// (sorted: ids are UUIDv7, so in creation order); MoreProjects says
	// that there are others, which only the projects read model lists. So
	// the document, which every creation rewrites and many reads load,
	// stays the same size however many projects a student makes.
	ProjectIDs   []string `bson:"project_ids"`
	MoreProjects bool     `bson:"more_projects,omitempty"`
	Positions    `bson:",inline"`
}

// ListedProjects bounds the project ids a student's document lists. A
// student has a few projects (at most ten open ones, by default); one who
// has withdrawn and proposed again past this is listed from the projects.
const ListedProjects = 100

// NewStudents builds each student's overview.
func NewStudents(docs Documents, streams Streams) *Multi[StudentDoc, *StudentDoc] {
	return &Multi[StudentDoc, *StudentDoc]{
		ProjectionName: "students", Collection: CollStudents, Broadcast: []string{events.StreamCohort},
		Targets: studentTargets, Fold: foldStudent, Docs: docs, Streams: streams, locks: keylock.New(),
		Shown: map[string]func(*StudentDoc, events.Envelope) bool{events.StreamProject: hasProject},
	}
}

// hasProject reports whether the student's document shows the project of
// e: of a project's events the document folds only its creation, and the
// set of ids is its own record of which it has folded. A project after the
// last listed one of a full list is shown too: folding it changes nothing.
func hasProject(d *StudentDoc, e events.Envelope) bool {
	_, found := slices.BinarySearch(d.ProjectIDs, e.StreamID)
	return found || (d.MoreProjects && len(d.ProjectIDs) > 0 && e.StreamID > d.ProjectIDs[len(d.ProjectIDs)-1])
}

func studentTargets(e events.Envelope) []string {
	switch d := e.Data.(type) {
	case *events.UserCreated:
		if slices.Contains(d.Roles, events.RoleStudent) {
			return []string{e.StreamID}
		}
	case *events.UserUpdated, *events.UserDeleted:
		return []string{e.StreamID}
	case *events.PreferencesSet, *events.GradeRecorded:
		return []string{strings.TrimPrefix(e.StreamID, "student:")}
	case *events.MarkSet, *events.MarkReleased:
		if e.StreamType == events.StreamStudent {
			return []string{strings.TrimPrefix(e.StreamID, "student:")}
		}
	case *events.StudentAllocated:
		return []string{d.StudentID}
	case *events.StudentUnallocated:
		return []string{d.StudentID}
	case *events.ExaminerAssigned:
		return []string{d.StudentID}
	case *events.AllocationRun:
		ids := make([]string, len(d.Placements))
		for i, p := range d.Placements {
			ids[i] = p.StudentID
		}
		return ids
	case *events.ProjectCreated:
		return []string{d.OwnerID}
	}
	return nil
}

func foldStudent(d *StudentDoc, id string, e events.Envelope) {
	d.ID = id
	switch x := e.Data.(type) {
	case *events.UserCreated:
		d.Email, d.Name, d.Profile = x.Email, x.Name, x.Profile
		d.Active = slices.Contains(x.Roles, events.RoleStudent)
	case *events.UserUpdated:
		d.Name, d.Profile = x.Name, x.Profile
		d.Active = slices.Contains(x.Roles, events.RoleStudent)
	case *events.UserDeleted:
		d.Active = false
	case *events.PreferencesSet:
		d.Preferences = x.SupervisorIDs
	case *events.GradeRecorded:
		d.Graded, d.Grade, d.Feedback = true, x.Grade, x.Feedback
		d.Marking = marking.Apply(d.Marking, e)
	case *events.StudentAllocated:
		d.SupervisorID, d.Via, d.ProjectID = x.SupervisorID, x.Via, x.ProjectID
	case *events.StudentUnallocated:
		d.SupervisorID, d.Via, d.ProjectID = "", "", ""
	case *events.AllocationRun:
		for _, p := range x.Placements {
			if p.StudentID == id {
				d.SupervisorID, d.Via, d.ProjectID = p.SupervisorID, events.ViaAllocation, ""
			}
		}
	case *events.ExaminerAssigned:
		d.ExaminerID = x.ExaminerID
	case *events.MarkSet, *events.MarkReleased:
		if e.StreamType == events.StreamStudent {
			d.Marking = marking.Apply(d.Marking, e)
		}
	case *events.ProjectCreated:
		// The first ListedProjects ids of the set, sorted, and whether the
		// set has more: what the document holds depends only on which
		// projects were created, not on the order the streams were delivered.
		if i, found := slices.BinarySearch(d.ProjectIDs, e.StreamID); !found {
			d.ProjectIDs = slices.Insert(d.ProjectIDs, i, e.StreamID)
		}
		if len(d.ProjectIDs) > ListedProjects {
			d.ProjectIDs, d.MoreProjects = d.ProjectIDs[:ListedProjects], true
		}
	}
}
