package events

// StreamOpenProjects is the stream type that counts one student's open
// projects (stream "open-projects:<student id>"), so that a limit on them is
// one stream's rule and holds however many creations race.
const StreamOpenProjects = "open-projects"

// ProjectSlotTaken counts a project of the student as open: it was about to
// be created, and counts until it is withdrawn.
type ProjectSlotTaken struct {
	ProjectID string `json:"project_id" bson:"project_id"`
}

// ProjectSlotFreed stops counting a project: it was withdrawn, or its
// creation failed or was abandoned.
type ProjectSlotFreed struct {
	ProjectID string `json:"project_id" bson:"project_id"`
	Reason    string `json:"reason" bson:"reason"`
}

func (ProjectSlotTaken) EventType() string { return "ProjectSlotTaken" }
func (ProjectSlotFreed) EventType() string { return "ProjectSlotFreed" }

func limitRegistrations() []Registration {
	return []Registration{
		{Name: "ProjectSlotTaken", New: func() Data { return &ProjectSlotTaken{} }},
		{Name: "ProjectSlotFreed", New: func() Data { return &ProjectSlotFreed{} }},
	}
}
