package cohort

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// OpenProjectsStreamID is the stream that counts a student's open projects.
func OpenProjectsStreamID(studentID string) string {
	return events.StreamOpenProjects + ":" + studentID
}

// OpenProjects is what counts against a student's limit of open projects:
// every project they created and have not withdrawn, each with when its
// place was taken.
type OpenProjects struct {
	Open []OpenProject `json:"open"`
}

// OpenProject is one counted project.
type OpenProject struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// TakeProjectSlot counts a project about to be created, refused when Max
// are open already (Max 0: no limit).
type TakeProjectSlot struct {
	ProjectID string
	Max       int
}

// FreeProjectSlot stops counting a project.
type FreeProjectSlot struct{ ProjectID, Reason string }

// ErrTooManyOpenProjects refuses a project past the student's limit.
var ErrTooManyOpenProjects = &commands.Error{Kind: commands.KindConflict, Code: "too-many-open-projects",
	Message: "you have as many open projects as a student may have; withdraw one before you propose another"}

// OpenProjectsDecider is the aggregate of the limit on a student's open
// projects.
var OpenProjectsDecider = commands.Decider[OpenProjects, OpenProjectsCommand]{
	StreamType: events.StreamOpenProjects,
	Schema:     "open-projects/1",
	// One student's burst of proposals races on this stream; until the
	// limit is reached each race has a winner, and past it a refusal appends
	// nothing.
	Retries: 50,
	Initial: func(string) OpenProjects { return OpenProjects{} },
	Evolve: func(s OpenProjects, e events.Envelope) OpenProjects {
		switch d := e.Data.(type) {
		case *events.ProjectSlotTaken:
			s.Open = append(slices.Clone(s.Open), OpenProject{ID: d.ProjectID, Since: e.RecordedAt})
		case *events.ProjectSlotFreed:
			s.Open = slices.DeleteFunc(slices.Clone(s.Open), func(o OpenProject) bool { return o.ID == d.ProjectID })
		}
		return s
	},
	Decide: func(s OpenProjects, c OpenProjectsCommand) ([]events.Data, error) { return c.decide(s) },
}

// OpenProjectsCommand is a command of the open-projects aggregate. It is
// closed: only the command types of this package implement it, each
// deciding itself.
type OpenProjectsCommand interface {
	decide(OpenProjects) ([]events.Data, error)
}

func (c TakeProjectSlot) decide(s OpenProjects) ([]events.Data, error) {
	switch {
	case s.has(c.ProjectID):
		return nil, nil // a retried creation
	case c.Max > 0 && len(s.Open) >= c.Max:
		return nil, ErrTooManyOpenProjects
	}
	return []events.Data{&events.ProjectSlotTaken{ProjectID: c.ProjectID}}, nil
}

func (c FreeProjectSlot) decide(s OpenProjects) ([]events.Data, error) {
	if !s.has(c.ProjectID) {
		return nil, nil
	}
	return []events.Data{&events.ProjectSlotFreed{ProjectID: c.ProjectID, Reason: c.Reason}}, nil
}

func (s OpenProjects) has(id string) bool {
	return slices.ContainsFunc(s.Open, func(o OpenProject) bool { return o.ID == id })
}

// abandonedAfter is how long a counted project may go without being created
// before its place is taken to belong to a creation that died half-way.
const abandonedAfter = 30 * time.Second

// takeProjectSlot counts project id against the student's limit. At the
// limit it first frees the places of projects that are gone (withdrawn, the
// freeing lost) or never came (a creation that died half-way), then tries
// once more.
func (s *Service) takeProjectSlot(ctx context.Context, meta commands.Meta, studentID, projectID string) error {
	if s.MaxOpenProjects == 0 {
		return nil
	}
	take := TakeProjectSlot{ProjectID: projectID, Max: s.MaxOpenProjects}
	stream := OpenProjectsStreamID(studentID)
	_, err := OpenProjectsDecider.Execute(ctx, s.X, stream, take, meta)
	if !errors.Is(err, ErrTooManyOpenProjects) {
		return err
	}
	open, _, lerr := commands.Load(ctx, s.X, OpenProjectsDecider, stream)
	if lerr != nil {
		return lerr
	}
	freed := false
	for _, o := range open.Open {
		p, _, lerr := commands.Load(ctx, s.X, project.Decider, o.ID)
		if lerr != nil {
			return lerr
		}
		reason := ""
		switch {
		case p.Created && p.Status == events.StatusWithdrawn:
			reason = "project withdrawn"
		case !p.Created && s.X.Clock().Sub(o.Since) > abandonedAfter:
			reason = "creation abandoned"
		}
		if reason != "" {
			if _, ferr := OpenProjectsDecider.Execute(ctx, s.X, stream, FreeProjectSlot{ProjectID: o.ID, Reason: reason}, meta); ferr != nil {
				return ferr
			}
			freed = true
		}
	}
	if !freed {
		return err
	}
	_, err = OpenProjectsDecider.Execute(ctx, s.X, stream, take, meta)
	return err
}

// freeProjectSlot stops counting a project; a failure is logged, and the
// student's next creation at the limit frees the place itself.
func (s *Service) freeProjectSlot(ctx context.Context, meta commands.Meta, studentID, projectID, reason string) {
	if s.MaxOpenProjects == 0 {
		return
	}
	_, err := OpenProjectsDecider.Execute(context.WithoutCancel(ctx), s.X, OpenProjectsStreamID(studentID),
		FreeProjectSlot{ProjectID: projectID, Reason: reason}, meta)
	if err != nil {
		s.X.Log.WarnContext(ctx, "free a student's open-project place", "student", studentID, "project", projectID, "err", err)
	}
}
