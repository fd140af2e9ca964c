package events

// Marking: a placed student's accepted project is marked twice, by its
// supervisor (the first marker) and its second examiner, each blind to the
// other's mark until both are in. Two marks within the cohort's threshold
// agree on their mean; marks further apart go to the coordinator, who
// moderates. Agreed marks reach the student only when the coordinator
// releases them. Every step is an event on the project's stream, so the
// project's history is the marking's audit trail.
//
// A student placed without a project in the system (by an allocation run or
// an assignment) has their mark on their own record (the student stream):
// only the coordinator sets it, through a grade or the final-grades import,
// and it is released like any other.

// The two markers of a project, named by their tie to it.
const (
	MarkerSupervisor = "supervisor"
	MarkerExaminer   = "examiner"
)

// How an agreed mark came about.
const (
	AgreedByMarkers     = "markers"     // two marks within the threshold: their mean, rounded half up
	AgreedByModeration  = "moderation"  // the coordinator moderated two marks too far apart
	AgreedByCoordinator = "coordinator" // the coordinator set it (a grade, the final-grades import)
)

// DefaultMarkingThreshold is how far apart two marks may be and still agree,
// until the coordinator sets the cohort's own.
const DefaultMarkingThreshold = 10

// MarkSubmitted is one marker's mark (0 to 100) and feedback, or their
// revision of it while the other marker's is not in yet.
type MarkSubmitted struct {
	Marker   string `json:"marker" bson:"marker"` // MarkerSupervisor or MarkerExaminer
	MarkerID string `json:"marker_id" bson:"marker_id"`
	Mark     int    `json:"mark" bson:"mark"`
	Feedback string `json:"feedback" bson:"feedback"`
}

// MarksAgreed: both marks are in, at most Threshold apart; the agreed mark
// is their mean rounded half up. It is in the commit of the second mark.
type MarksAgreed struct {
	Mark      int `json:"mark" bson:"mark"`
	Threshold int `json:"threshold" bson:"threshold"`
}

// ModerationRequired: both marks are in, more than Threshold apart; the
// coordinator has to moderate. It is in the commit of the second mark.
type ModerationRequired struct {
	Difference int `json:"difference" bson:"difference"`
	Threshold  int `json:"threshold" bson:"threshold"`
}

// MarkModerated is the agreed mark the coordinator gave two marks too far apart.
type MarkModerated struct {
	Mark    int    `json:"mark" bson:"mark"`
	Comment string `json:"comment" bson:"comment"`
}

// MarkSet is an agreed mark the coordinator set directly, whatever the
// markers did (PUT /v1/projects/{id}/grade, or a final-grades import): how
// a department that marks outside the system records its marks. Feedback
// is released with it.
type MarkSet struct {
	Mark     int    `json:"mark" bson:"mark"`
	Feedback string `json:"feedback" bson:"feedback"`
	// Label is the grade in the department's own words (A, Pass) when it
	// grades without numbers (a final-grades file may): the grade is then
	// the label, and Mark is 0 and means nothing.
	Label string `json:"label,omitempty" bson:"label,omitempty"`
}

// MarkReleased shows the agreed mark to the student, with the feedback
// released with it: what the student sees is exactly this event, until the
// next release. Every mark of one release carries its ReleaseID.
type MarkReleased struct {
	ReleaseID          string `json:"release_id" bson:"release_id"`
	Mark               int    `json:"mark" bson:"mark"`
	SupervisorFeedback string `json:"supervisor_feedback,omitempty" bson:"supervisor_feedback,omitempty"`
	ExaminerFeedback   string `json:"examiner_feedback,omitempty" bson:"examiner_feedback,omitempty"`
	// Feedback is the coordinator's, for a mark they set.
	Feedback string `json:"feedback,omitempty" bson:"feedback,omitempty"`
	// Label is the grade released when the coordinator gave one (MarkSet).
	Label string `json:"label,omitempty" bson:"label,omitempty"`
}

// MarkingThresholdSet sets how far apart two marks may be and still agree
// (on the cohort stream). It applies to the pairs completed after it.
type MarkingThresholdSet struct {
	Threshold int `json:"threshold" bson:"threshold"`
}

func (MarkSubmitted) EventType() string       { return "MarkSubmitted" }
func (MarksAgreed) EventType() string         { return "MarksAgreed" }
func (ModerationRequired) EventType() string  { return "ModerationRequired" }
func (MarkModerated) EventType() string       { return "MarkModerated" }
func (MarkSet) EventType() string             { return "MarkSet" }
func (MarkReleased) EventType() string        { return "MarkReleased" }
func (MarkingThresholdSet) EventType() string { return "MarkingThresholdSet" }

func markingRegistrations() []Registration {
	return []Registration{
		{Name: "MarkSubmitted", New: func() Data { return &MarkSubmitted{} }},
		{Name: "MarksAgreed", New: func() Data { return &MarksAgreed{} }},
		{Name: "ModerationRequired", New: func() Data { return &ModerationRequired{} }},
		{Name: "MarkModerated", New: func() Data { return &MarkModerated{} }},
		{Name: "MarkSet", New: func() Data { return &MarkSet{} }},
		{Name: "MarkReleased", New: func() Data { return &MarkReleased{} }},
		{Name: "MarkingThresholdSet", New: func() Data { return &MarkingThresholdSet{} }},
	}
}
