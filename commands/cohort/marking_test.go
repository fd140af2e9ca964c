package cohort_test

import (
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

func TestDecideMarkingThreshold(t *testing.T) {
	decidertest.Run(t, cohort.Decider, events.CohortStreamID, []decidertest.Case[cohort.Command]{
		{Name: "set", When: cohort.SetMarkingThreshold{Threshold: 15}, Then: []events.Data{&events.MarkingThresholdSet{Threshold: 15}}},
		{Name: "the default, set explicitly, is recorded", When: cohort.SetMarkingThreshold{Threshold: events.DefaultMarkingThreshold},
			Then: []events.Data{&events.MarkingThresholdSet{Threshold: events.DefaultMarkingThreshold}}},
		{Name: "0: only equal marks agree", When: cohort.SetMarkingThreshold{Threshold: 0}, Then: []events.Data{&events.MarkingThresholdSet{Threshold: 0}}},
		{Name: "100: every pair agrees", When: cohort.SetMarkingThreshold{Threshold: 100}, Then: []events.Data{&events.MarkingThresholdSet{Threshold: 100}}},
		{Name: "changed", Given: []events.Data{&events.MarkingThresholdSet{Threshold: 15}}, When: cohort.SetMarkingThreshold{Threshold: 5},
			Then: []events.Data{&events.MarkingThresholdSet{Threshold: 5}}},
		{Name: "the same again changes nothing", Given: []events.Data{&events.MarkingThresholdSet{Threshold: 15}}, When: cohort.SetMarkingThreshold{Threshold: 15}},
		{Name: "negative", When: cohort.SetMarkingThreshold{Threshold: -1}, Err: decidertest.ErrInvalid, Fields: []string{"threshold"}},
		{Name: "over 100", When: cohort.SetMarkingThreshold{Threshold: 101}, Err: decidertest.ErrInvalid, Fields: []string{"threshold"}},
	})
	if got := decidertest.Fold(cohort.Decider, events.CohortStreamID, nil).Threshold(); got != events.DefaultMarkingThreshold {
		t.Errorf("a cohort with no threshold set: %d, want the default %d", got, events.DefaultMarkingThreshold)
	}
	set := []events.Data{&events.MarkingThresholdSet{Threshold: 0}}
	if got := decidertest.Fold(cohort.Decider, events.CohortStreamID, set).Threshold(); got != 0 {
		t.Errorf("a threshold of 0: folded as %d", got)
	}
}

// TestDecideRecordMark: a student placed without a project has the
// coordinator's mark on their record; a grade recorded before marking
// existed reads as one they set and released.
func TestDecideRecordMark(t *testing.T) {
	legacy := &events.GradeRecorded{Grade: 64, Feedback: "Clear aims"}
	set := &events.MarkSet{Mark: 70, Feedback: "Solid"}
	decidertest.Run(t, cohort.StudentDecider, cohort.StudentStreamID("stu"), []decidertest.Case[cohort.StudentCommand]{
		{Name: "set", When: cohort.SetRecordMark{Mark: 70, Feedback: " Solid "}, Then: []events.Data{set}},
		{Name: "the same again changes nothing", Given: []events.Data{set}, When: cohort.SetRecordMark{Mark: 70, Feedback: "Solid"}},
		{Name: "the old grade again changes nothing", Given: []events.Data{legacy}, When: cohort.SetRecordMark{Mark: 64, Feedback: "Clear aims"}},
		{Name: "over an old grade", Given: []events.Data{legacy}, When: cohort.SetRecordMark{Mark: 70, Feedback: "Solid"}, Then: []events.Data{set}},
		{Name: "out of range", When: cohort.SetRecordMark{Mark: 101}, Err: decidertest.ErrInvalid, Fields: []string{"grade"}},
		{Name: "feedback too long", When: cohort.SetRecordMark{Mark: 1, Feedback: strings.Repeat("x", 5001)}, Err: decidertest.ErrInvalid, Fields: []string{"feedback"}},

		{Name: "release", Given: []events.Data{set}, When: cohort.ReleaseRecordMark{ReleaseID: "r1"},
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r1", Mark: 70, Feedback: "Solid"}}},
		{Name: "released again changes nothing", Given: []events.Data{set, &events.MarkReleased{ReleaseID: "r1", Mark: 70, Feedback: "Solid"}},
			When: cohort.ReleaseRecordMark{ReleaseID: "r2"}},
		{Name: "an old grade was released when it was recorded", Given: []events.Data{legacy}, When: cohort.ReleaseRecordMark{ReleaseID: "r1"}},
		{Name: "a new mark over an old grade is released", Given: []events.Data{legacy, set}, When: cohort.ReleaseRecordMark{ReleaseID: "r1"},
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r1", Mark: 70, Feedback: "Solid"}}},
		{Name: "release of an unagreed one", When: cohort.ReleaseRecordMark{ReleaseID: "r1"}, Err: project.ErrNotAgreed},
		{Name: "preferences and marks are folded apart", Given: []events.Data{&events.PreferencesSet{SupervisorIDs: []string{"s1"}}},
			When: cohort.SetPreferences{SupervisorIDs: []string{"s1"}}},
	})
}
