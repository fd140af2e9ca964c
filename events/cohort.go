package events

// CohortStreamID is the one stream that holds every rule spanning students and
// supervisors: capacities, who supervises whom, and who examines whom. One
// stream is one consistency boundary, so a supervisor can never exceed their
// capacity and a student never has two supervisors, whichever API process
// the racing requests reach. Writes to it are human-paced (decisions,
// assignments, allocation runs), so serialising them costs nothing noticeable.
const CohortStreamID = "cohort"

// Stream types of the workflow.
const (
	StreamCohort     = "cohort"
	StreamSupervisor = "supervisor"
	StreamStudent    = "student"
)

// How a student came to have a supervisor.
const (
	ViaProposal   = "proposal"   // the supervisor accepted the student's proposal
	ViaAssignment = "assignment" // the coordinator assigned them (API or CSV)
	ViaAllocation = "allocation" // an allocation run placed them
)

// CapacitySet records how many students a supervisor may take (coordinator only).
type CapacitySet struct {
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Capacity     int    `json:"capacity" bson:"capacity"`
}

// StudentAllocated gives a student a supervisor, taking one of their slots.
type StudentAllocated struct {
	StudentID    string `json:"student_id" bson:"student_id"`
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Via          string `json:"via" bson:"via"`
	ProjectID    string `json:"project_id,omitempty" bson:"project_id,omitempty"`
}

// StudentUnallocated frees a student's slot (a decision undone, a proposal
// withdrawn, a coordinator's change).
type StudentUnallocated struct {
	StudentID    string `json:"student_id" bson:"student_id"`
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Reason       string `json:"reason" bson:"reason"`
}

// Placement is one assignment made by an allocation run.
type Placement struct {
	StudentID    string `json:"student_id" bson:"student_id"`
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Rank         int    `json:"rank" bson:"rank"`
}

// AllocationRun records a whole allocation run in one event, so the run is
// applied all or nothing and can be reproduced from its seed.
type AllocationRun struct {
	RunID     string `json:"run_id" bson:"run_id"`
	Objective string `json:"objective" bson:"objective"`
	// Seed is signed because the store's integers are: every seed of a run
	// (0 to 2^53 - 1) fits, and an event field whose type holds values the
	// store cannot would fail to append instead of being refused up front.
	Seed        int64       `json:"seed" bson:"seed"`
	Placements  []Placement `json:"placements" bson:"placements"`
	ByRank      []int       `json:"by_rank" bson:"by_rank"`
	OutsideList int         `json:"outside_list" bson:"outside_list"`
	Unplaced    int         `json:"unplaced" bson:"unplaced"`
}

// ExaminerAssigned names a student's second examiner (never their supervisor).
type ExaminerAssigned struct {
	StudentID  string `json:"student_id" bson:"student_id"`
	ExaminerID string `json:"examiner_id" bson:"examiner_id"`
}

// Idea is a project idea a supervisor offers.
type Idea struct {
	Title       string `json:"title" bson:"title"`
	Description string `json:"description" bson:"description"`
}

// SupervisorProfileUpdated carries a supervisor's whole public profile.
type SupervisorProfileUpdated struct {
	Areas []string `json:"areas" bson:"areas"`
	Info  string   `json:"info" bson:"info"`
	Ideas []Idea   `json:"project_ideas" bson:"project_ideas"`
}

// PreferencesSet replaces a student's ranking of supervisors (1 to 5, best first).
type PreferencesSet struct {
	SupervisorIDs []string `json:"supervisor_ids" bson:"supervisor_ids"`
}

// GradeRecorded is a student's final grade and feedback, as the service
// recorded it before marking existed: on the student's record, seen by the
// student at once. It is no longer written; an old one reads as a mark the
// coordinator set and released (events/marking).
type GradeRecorded struct {
	Grade    int    `json:"grade" bson:"grade"`
	Feedback string `json:"feedback" bson:"feedback"`
}

// ProposalSubmitted sends a project to one supervisor.
type ProposalSubmitted struct {
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
}

// ProposalAccepted is the supervisor's yes; the student is theirs.
type ProposalAccepted struct {
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Comment      string `json:"comment" bson:"comment"`
}

// ProposalRejected is the supervisor's no; the student may edit and submit elsewhere.
type ProposalRejected struct {
	SupervisorID string `json:"supervisor_id" bson:"supervisor_id"`
	Comment      string `json:"comment" bson:"comment"`
}

func (CapacitySet) EventType() string              { return "CapacitySet" }
func (StudentAllocated) EventType() string         { return "StudentAllocated" }
func (StudentUnallocated) EventType() string       { return "StudentUnallocated" }
func (AllocationRun) EventType() string            { return "AllocationRun" }
func (ExaminerAssigned) EventType() string         { return "ExaminerAssigned" }
func (SupervisorProfileUpdated) EventType() string { return "SupervisorProfileUpdated" }
func (PreferencesSet) EventType() string           { return "PreferencesSet" }
func (GradeRecorded) EventType() string            { return "GradeRecorded" }
func (ProposalSubmitted) EventType() string        { return "ProposalSubmitted" }
func (ProposalAccepted) EventType() string         { return "ProposalAccepted" }
func (ProposalRejected) EventType() string         { return "ProposalRejected" }

func workflowRegistrations() []Registration {
	return []Registration{
		{Name: "CapacitySet", New: func() Data { return &CapacitySet{} }},
		{Name: "StudentAllocated", New: func() Data { return &StudentAllocated{} }},
		{Name: "StudentUnallocated", New: func() Data { return &StudentUnallocated{} }},
		{Name: "AllocationRun", New: func() Data { return &AllocationRun{} }},
		{Name: "ExaminerAssigned", New: func() Data { return &ExaminerAssigned{} }},
		{Name: "SupervisorProfileUpdated", New: func() Data { return &SupervisorProfileUpdated{} }},
		{Name: "PreferencesSet", New: func() Data { return &PreferencesSet{} }},
		{Name: "GradeRecorded", New: func() Data { return &GradeRecorded{} }},
		{Name: "ProposalSubmitted", New: func() Data { return &ProposalSubmitted{} }},
		{Name: "ProposalAccepted", New: func() Data { return &ProposalAccepted{} }},
		{Name: "ProposalRejected", New: func() Data { return &ProposalRejected{} }},
		{Name: "ProjectExaminerSet", New: func() Data { return &ProjectExaminerSet{} }},
	}
}

// ProjectExaminerSet shows a project's second examiner on the project itself,
// after the cohort has accepted the assignment (ExaminerAssigned).
type ProjectExaminerSet struct {
	ExaminerID string `json:"examiner_id" bson:"examiner_id"`
}

func (ProjectExaminerSet) EventType() string { return "ProjectExaminerSet" }
