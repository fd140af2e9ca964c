package events

// CoordinatorsStreamID is the one stream that holds the rule across user
// accounts that somebody must always be able to administer the cohort: a
// coordinator's role is taken away, or their account deleted, only after
// this stream has recorded it, and it refuses the last one. Human-paced, so
// serialising these writes costs nothing noticeable.
const CoordinatorsStreamID = "coordinators"

// StreamCoordinators is the stream type of CoordinatorsStreamID.
const StreamCoordinators = "coordinators"

// Coordinator is a user known to hold the coordinator role, at the version
// of their user stream that showed it.
type Coordinator struct {
	UserID  string `json:"user_id" bson:"user_id"`
	Version int64  `json:"version" bson:"version"`
}

// CoordinatorsSeeded starts the stream with the coordinators that existed
// when it was first needed (each confirmed on their own stream).
type CoordinatorsSeeded struct {
	Members []Coordinator `json:"members" bson:"members"`
}

// CoordinatorAdded counts a user who has become a coordinator.
type CoordinatorAdded struct {
	Coordinator `bson:",inline"`
}

// CoordinatorRemoved records that a coordinator is losing the role or the
// account, before their own stream does.
type CoordinatorRemoved struct {
	Coordinator `bson:",inline"`
}

func (CoordinatorsSeeded) EventType() string { return "CoordinatorsSeeded" }
func (CoordinatorAdded) EventType() string   { return "CoordinatorAdded" }
func (CoordinatorRemoved) EventType() string { return "CoordinatorRemoved" }

func coordinatorRegistrations() []Registration {
	return []Registration{
		{Name: "CoordinatorsSeeded", New: func() Data { return &CoordinatorsSeeded{} }},
		{Name: "CoordinatorAdded", New: func() Data { return &CoordinatorAdded{} }},
		{Name: "CoordinatorRemoved", New: func() Data { return &CoordinatorRemoved{} }},
	}
}
