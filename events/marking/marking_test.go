package marking_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func fold(data ...events.Data) marking.Record {
	var r marking.Record
	for i, d := range data {
		r = marking.Apply(r, events.Envelope{Version: int64(i + 1), Data: d, RecordedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	return r
}

var (
	sup    = &events.MarkSubmitted{Marker: events.MarkerSupervisor, MarkerID: "sup", Mark: 64, Feedback: "Good"}
	exa    = &events.MarkSubmitted{Marker: events.MarkerExaminer, MarkerID: "exa", Mark: 67, Feedback: "Fine"}
	agreed = &events.MarksAgreed{Mark: 66, Threshold: 10}
)

// TestStates walks a marking through every state, as a coordinator and as
// each marker sees it.
func TestStates(t *testing.T) {
	apart := &events.ModerationRequired{Difference: 20, Threshold: 10}
	for _, c := range []struct {
		name               string
		history            []events.Data
		state, asSup, asEx string
	}{
		{"nothing yet", nil, marking.ToMark, marking.ToMark, marking.ToMark},
		{"the supervisor's mark in", []events.Data{sup}, marking.Submitted, marking.Waiting, marking.ToMark},
		{"the examiner's mark in", []events.Data{exa}, marking.Submitted, marking.ToMark, marking.Waiting},
		{"both in, agreed", []events.Data{sup, exa, agreed}, marking.Agreed, marking.Agreed, marking.Agreed},
		{"both in, apart", []events.Data{sup, exa, apart}, marking.Moderation, marking.Moderation, marking.Moderation},
		{"moderated", []events.Data{sup, exa, apart, &events.MarkModerated{Mark: 70}}, marking.Agreed, marking.Agreed, marking.Agreed},
		{"released", []events.Data{sup, exa, agreed, &events.MarkReleased{Mark: 66}}, marking.Released, marking.Released, marking.Released},
		{"changed after release", []events.Data{sup, exa, agreed, &events.MarkReleased{Mark: 66}, &events.MarkSet{Mark: 70}},
			marking.Agreed, marking.Agreed, marking.Agreed},
		{"set by the coordinator with one mark in", []events.Data{sup, &events.MarkSet{Mark: 70}}, marking.Agreed, marking.Agreed, marking.Agreed},
		{"an old grade", []events.Data{&events.GradeRecorded{Grade: 55}}, marking.Released, marking.Released, marking.Released},
	} {
		r := fold(c.history...)
		got := [3]string{r.State(), r.StateFor(events.MarkerSupervisor), r.StateFor(events.MarkerExaminer)}
		if want := [3]string{c.state, c.asSup, c.asEx}; got != want {
			t.Errorf("%s: states %v, want %v", c.name, got, want)
		}
	}
}

// TestMarkerNames: the rule's relations are the markers' names, so a
// viewer's tie names their mark.
func TestMarkerNames(t *testing.T) {
	if string(visibility.Supervisor) != events.MarkerSupervisor || string(visibility.Examiner) != events.MarkerExaminer {
		t.Fatal("the visibility relations and the marker names differ")
	}
}

// TestFoldNeverChangesParts: a folded record shared by a cache is never
// changed by a later fold.
func TestFoldNeverChangesParts(t *testing.T) {
	before := fold(sup, exa, agreed)
	snapshot := fold(sup, exa, agreed)
	after := marking.Apply(before, events.Envelope{Data: &events.MarkSet{Mark: 90, Feedback: "x"}})
	after = marking.Apply(after, events.Envelope{Data: &events.MarkReleased{Mark: 90}})
	if diff := cmp.Diff(snapshot, before); diff != "" {
		t.Fatalf("a later fold changed the earlier record (-want +got):\n%s", diff)
	}
	if after.Agreed.Mark != 90 || after.State() != marking.Released {
		t.Fatalf("the later fold: %+v", after)
	}
}

// TestExaminerReplaced: a new examiner sets the old one's mark aside while
// the pair is incomplete, never after.
func TestExaminerReplaced(t *testing.T) {
	r := fold(exa, &events.ProjectExaminerSet{ExaminerID: "exa2"})
	if r.Examiner != nil || r.State() != marking.ToMark {
		t.Errorf("the replaced examiner's mark stayed: %+v", r.Examiner)
	}
	r = fold(sup, exa, agreed, &events.ProjectExaminerSet{ExaminerID: "exa2"})
	if r.Examiner == nil || r.State() != marking.Agreed {
		t.Errorf("a complete pair lost a mark: %+v", r)
	}
	r = fold(exa, &events.ProjectExaminerSet{ExaminerID: "exa"})
	if r.Examiner == nil {
		t.Error("naming the same examiner again dropped their mark")
	}
}

// TestSetAside: the events of a replaced examiner's mark, revisions
// included, are set aside for good; a complete pair's are not; only
// coordinators know them.
func TestSetAside(t *testing.T) {
	exa2 := &events.MarkSubmitted{Marker: events.MarkerExaminer, MarkerID: "exa2", Mark: 40, Feedback: "Second"}
	for _, c := range []struct {
		name    string
		history []events.Data
		aside   []bool
	}{
		{"replaced before both are in", []events.Data{exa, exa, &events.ProjectExaminerSet{ExaminerID: "exa2"}, sup, exa2},
			[]bool{true, true, false, false, false}},
		{"named again: aside for good", []events.Data{exa, &events.ProjectExaminerSet{ExaminerID: "exa2"}, &events.ProjectExaminerSet{ExaminerID: "exa"}, exa},
			[]bool{true, false, false, false}},
		{"replaced once both are in", []events.Data{sup, exa, agreed, &events.ProjectExaminerSet{ExaminerID: "exa2"}},
			[]bool{false, false, false, false}},
		{"the same examiner named again", []events.Data{exa, &events.ProjectExaminerSet{ExaminerID: "exa"}, sup},
			[]bool{false, false, false}},
	} {
		var evs []events.Envelope
		for i, d := range c.history {
			evs = append(evs, events.Envelope{Version: int64(i + 1), Data: d, RecordedAt: t0.Add(time.Duration(i) * time.Minute)})
		}
		if diff := cmp.Diff(c.aside, marking.SetAside(evs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
		known := marking.Known(visibility.MarkView{Examiner: true, Supervisor: true, Outcome: true, Released: true}, evs)
		var folded, without marking.Record
		for _, e := range known {
			folded = marking.Apply(folded, e)
		}
		for _, e := range evs {
			without = marking.Apply(without, e)
		}
		if diff := cmp.Diff(without, folded); diff != "" {
			t.Errorf("%s: dropping the set-aside marks changed the fold (-all +known):\n%s", c.name, diff)
		}
		for i, e := range evs {
			if c.aside[i] && slices.ContainsFunc(known, func(k events.Envelope) bool { return k.Version == e.Version }) {
				t.Errorf("%s: a marker knows the set-aside event %d", c.name, e.Version)
			}
		}
		if all := marking.Known(visibility.MarkView{SetAside: true}, evs); len(all) != len(evs) {
			t.Errorf("%s: a coordinator knows %d of %d events", c.name, len(all), len(evs))
		}
	}
}

// TestLegacy: an old student document's grade reads as its GradeRecorded
// folds, but for the times the document did not keep.
func TestLegacy(t *testing.T) {
	folded := fold(&events.GradeRecorded{Grade: 58, Feedback: "Well argued"})
	folded.Agreed.At, folded.Released.At = time.Time{}, time.Time{}
	if diff := cmp.Diff(folded, marking.Legacy(58, "Well argued")); diff != "" {
		t.Fatalf("Legacy (-folded +legacy):\n%s", diff)
	}
}

// TestFor: each view shows its parts and nothing else, and a marker's
// state is told from where they stand.
func TestFor(t *testing.T) {
	one := fold(sup)
	full := fold(sup, exa, agreed, &events.MarkReleased{ReleaseID: "r", Mark: 66, SupervisorFeedback: "Good", ExaminerFeedback: "Fine"})
	coordinator := visibility.MarkView{Supervisor: true, Examiner: true, Outcome: true, Released: true}
	asExaminer := visibility.MarkView{As: visibility.Examiner, Examiner: true, Outcome: true, Released: true}
	student := visibility.MarkView{Released: true}

	got, ok := one.For(asExaminer)
	if !ok || got.Supervisor != nil || got.State != marking.ToMark {
		t.Errorf("the examiner, the supervisor's mark in: %+v", got)
	}
	got, ok = one.For(coordinator)
	if !ok || got.Supervisor == nil || got.State != marking.Submitted {
		t.Errorf("the coordinator: %+v", got)
	}
	if got, ok := one.For(student); ok {
		t.Errorf("the student sees something before release: %+v", got)
	}
	if got, ok := one.For(visibility.MarkView{}); ok {
		t.Errorf("no view shows something: %+v", got)
	}
	got, ok = full.For(student)
	if !ok || got.State != marking.Released || got.Released == nil || got.Released.Mark != 66 ||
		got.Supervisor != nil || got.Examiner != nil || got.Agreed != nil || got.Moderation != nil {
		t.Errorf("the student after release: %+v", got)
	}
	if got.Released.Text() != "Good\n\nFine" {
		t.Errorf("released feedback %q", got.Released.Text())
	}
}

func TestFinalFeedback(t *testing.T) {
	for _, c := range []struct {
		r    marking.Record
		want string
	}{
		{fold(sup), ""},
		{fold(sup, exa, agreed), "Good\n\nFine"},
		{fold(sup, &events.MarkSubmitted{Marker: events.MarkerExaminer, MarkerID: "exa", Mark: 60}, agreed), "Good"},
		{fold(sup, exa, agreed, &events.MarkSet{Mark: 70, Feedback: "Raised"}), "Raised"},
		{fold(&events.GradeRecorded{Grade: 1, Feedback: "Old"}), "Old"},
	} {
		if got := c.r.FinalFeedback(); got != c.want {
			t.Errorf("FinalFeedback of %+v = %q, want %q", c.r, got, c.want)
		}
	}
}
