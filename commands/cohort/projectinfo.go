package cohort

import (
	"context"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// ErrProjectInfoChainEnded refuses a project info when every link of the
// student's chain has been used (events.ProjectInfoChain).
var ErrProjectInfoChainEnded = &commands.Error{Kind: commands.KindRule, Code: "project-info-exhausted",
	Message: "this student has proposed or withdrawn their project info too many times; write a project instead"}

// SetProjectInfo writes the title and description of the caller's project
// info (events.ProjectInfoID): it edits the draft that is their project
// info, or creates it as a draft, as any project is created (counted
// against the student's open projects) and edited. The caller is the
// student. The version expected is the project info's: a draft at another
// version, or none yet when one is expected, is refused and nothing changes.
func (s *Service) SetProjectInfo(ctx context.Context, meta commands.Meta, expect commands.Expected, title, description string) (commands.Result[project.State], error) {
	student := meta.Actor.UserID
	edit := project.Edit{By: meta.Actor, Title: &title, Description: &description}
	for n := range events.ProjectInfoChain {
		id := events.ProjectInfoID(student, n)
		p, _, err := commands.Load(ctx, s.X, project.Decider, id)
		switch {
		case err != nil:
			return commands.Result[project.State]{}, err
		case !p.Created:
			if expect != commands.AnyVersion {
				// No project info to be at the version expected: the one
				// its caller read was proposed since, or never was.
				return commands.Result[project.State]{}, commands.ErrPreconditionFailed
			}
			m := meta
			m.NewID = id // two first writes racing make one project
			if _, err := s.CreateProject(ctx, m, project.Create{OwnerID: student, Fields: project.Fields{Title: title, Description: description}}, ""); err != nil {
				return commands.Result[project.State]{}, err
			}
			// Another first write may have made it a moment ago, with other
			// words: the edit puts these in (and changes nothing otherwise).
			return project.Decider.Execute(ctx, s.X, id, edit, meta)
		case p.Status == events.StatusDraft:
			return project.Decider.ExecuteAt(ctx, s.X, id, expect, edit, meta)
		}
	}
	return commands.Result[project.State]{}, ErrProjectInfoChainEnded
}
