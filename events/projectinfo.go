package events

import (
	"strconv"

	"github.com/google/uuid"
)

// A student's project info is the title and description of the project
// they work on, kept apart from their proposals to supervisors: their own
// draft project. It has no record of its own: it is the first draft of a
// chain of project ids fixed by the student's id, so that the write side
// finds (or creates) it and the read side reads it by id, and two first
// writes racing create one project, not two. A link of the chain that has
// left the draft stage (proposed, or withdrawn) is passed over: the next
// one is the project info.

// ProjectInfoChain bounds the chain: a student would have to propose their
// project info this many times over before it ran out.
const ProjectInfoChain = 100

// projectInfoSpace is the namespace of the chain's name-based UUIDs.
var projectInfoSpace = uuid.MustParse("6d1c0c43-8e0a-4b6f-9a0e-0f3f6c6a2b51")

// ProjectInfoID is the id of link n (from 0) of a student's project-info chain.
func ProjectInfoID(studentID string, n int) string {
	return uuid.NewSHA1(projectInfoSpace, []byte("project-info\x00"+studentID+"\x00"+strconv.Itoa(n))).String()
}
