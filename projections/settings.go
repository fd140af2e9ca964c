package projections

import (
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/keylock"
)

// CollCohort is the read model of the cohort's own settings.
const CollCohort = "cohort"

// CohortDoc is the cohort's settings as the query side serves them: one
// document, under the cohort stream's id.
type CohortDoc struct {
	ID string `bson:"_id"`
	// MarkingThreshold is how far apart two marks may be and still agree.
	MarkingThreshold int   `bson:"marking_threshold"`
	Version          int64 `bson:"version"`
}

// NewCohort is the projection of the cohort stream into its settings.
func NewCohort(docs Documents, streams Streams) *Model[CohortDoc] {
	return &Model[CohortDoc]{
		ProjectionName: "cohort", Collection: CollCohort, StreamType: events.StreamCohort,
		Fold: FoldCohort, Version: func(d CohortDoc) int64 { return d.Version },
		Docs: docs, Streams: streams, locks: keylock.New(),
	}
}

// FoldCohort applies one cohort event to the settings.
func FoldCohort(d CohortDoc, e events.Envelope) (CohortDoc, bool) {
	if d.ID == "" {
		d = CohortDoc{ID: e.StreamID, MarkingThreshold: events.DefaultMarkingThreshold}
	}
	if x, ok := e.Data.(*events.MarkingThresholdSet); ok {
		d.MarkingThreshold = x.Threshold
	}
	d.Version = e.Version
	return d, true
}
