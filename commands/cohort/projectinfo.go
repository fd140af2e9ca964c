package cohort

import (
	"context"
	"errors"

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
// info, or creates it as a draft, through the project commands as any
// project is. The caller is the student.
func (s *Service) SetProjectInfo(ctx context.Context, meta commands.Meta, title, description string) (commands.Result[project.State], error) {
	student := meta.Actor.UserID
	for n, raced := 0, false; n < events.ProjectInfoChain; n++ {
		id := events.ProjectInfoID(student, n)
		p, _, err := commands.Load(ctx, s.X, project.Decider, id)
		switch {
		case err != nil:
			return commands.Result[project.State]{}, err
		case !p.Created:
			create := project.Create{OwnerID: student, Fields: project.Fields{Title: title, Description: description}}
			res, err := commands.ExecuteNew(ctx, s.X, project.Decider, id, any(create), meta)
			if errors.Is(err, commands.ErrAlreadyExists) && !raced {
				n, raced = n-1, true // another first write made it a moment ago: edit it
				continue
			}
			return res, err
		case p.Status == events.StatusDraft:
			edit := project.Edit{By: meta.Actor, Title: &title, Description: &description}
			return commands.Execute(ctx, s.X, project.Decider, id, any(edit), meta)
		}
	}
	return commands.Result[project.State]{}, ErrProjectInfoChainEnded
}
