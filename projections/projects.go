package projections

import (
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// ProjectDoc is a project as the query side serves it.
type ProjectDoc struct {
	ID           string `bson:"_id"`
	OwnerID      string `bson:"owner_id"`
	Title        string `bson:"title"`
	Description  string `bson:"description"`
	Aim          string `bson:"aim"`
	Rationale    string `bson:"rationale"`
	Status       string `bson:"status"`
	SupervisorID string `bson:"supervisor_id,omitempty"`
	ExaminerID   string `bson:"examiner_id,omitempty"`
	Comment      string `bson:"comment,omitempty"` // the supervisor's comment on the decision
	// Marking is whole here; the queries cut it down to what each viewer
	// may see (marking.Show).
	Marking   marking.Record `bson:"marking,omitempty"`
	Version   int64          `bson:"version"`
	CreatedAt time.Time      `bson:"created_at"`
	UpdatedAt time.Time      `bson:"updated_at"`
}

// NewProjects is the projection of project streams into the projects collection.
func NewProjects(docs Documents, streams Streams) *Model[ProjectDoc] {
	return &Model[ProjectDoc]{
		ProjectionName: "projects", Collection: CollProjects, StreamType: events.StreamProject,
		Fold: FoldProject, Version: func(d ProjectDoc) int64 { return d.Version },
		Docs: docs, Streams: streams, locks: keylock.New(),
	}
}

// FoldProject applies one event to a project document. The query side uses it
// too, to rebuild a project as of a past time or version.
func FoldProject(d ProjectDoc, e events.Envelope) (ProjectDoc, bool) {
	switch x := e.Data.(type) {
	case *events.ProjectCreated:
		d = ProjectDoc{ID: e.StreamID, OwnerID: x.OwnerID, Title: x.Title, Description: x.Description,
			Aim: x.Aim, Rationale: x.Rationale, Status: events.StatusDraft, CreatedAt: e.RecordedAt}
	case *events.ProjectEdited:
		d.Title, d.Description, d.Aim, d.Rationale = x.Title, x.Description, x.Aim, x.Rationale
	case *events.ProjectWithdrawn:
		d.Status = events.StatusWithdrawn
	case *events.ProposalSubmitted:
		d.Status, d.SupervisorID, d.Comment = events.StatusSubmitted, x.SupervisorID, ""
	case *events.ProposalAccepted:
		d.Status, d.Comment = events.StatusAccepted, x.Comment
	case *events.ProposalRejected:
		d.Status, d.Comment = events.StatusRejected, x.Comment
	case *events.ProjectExaminerSet:
		d.ExaminerID = x.ExaminerID
	}
	d.Marking = marking.Apply(d.Marking, e)
	d.Version, d.UpdatedAt = e.Version, e.RecordedAt
	return d, d.Status != ""
}
