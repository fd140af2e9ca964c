// Package marking is a project's marking (or a student record's) folded
// from its events: the two marks, moderation, the agreed mark and what was
// released. The write side decides on it, the projections store it and the
// queries show it; one fold for all of them, so that a decision, a read
// model and a rebuild can never disagree about where a project's marking
// stands. Like events/visibility it is pure and sits under events, the
// vocabulary every layer shares; the rule of who sees which part of it is
// events/visibility's (SeesMarks), and For applies it.
package marking

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/visibility"
)

// States of a marking. A marker is never told Submitted: until their own
// mark is in they see ToMark, after it Waiting (blind marking: whether the
// other marker has marked is not theirs to know).
const (
	ToMark     = "to-mark"    // no mark in yet
	Submitted  = "submitted"  // one of the two marks is in
	Waiting    = "waiting"    // (a marker's view) yours is in, the other marker's is not
	Moderation = "moderation" // both are in, too far apart: the coordinator moderates
	Agreed     = "agreed"     // the agreed mark is set, not released (or changed since its release)
	Released   = "released"   // the agreed mark is what the student sees
)

// States lists every state, in the order a marking goes through them.
var States = []string{ToMark, Submitted, Waiting, Moderation, Agreed, Released}

// Mark is one marker's mark.
type Mark struct {
	MarkerID string    `json:"marker_id" bson:"marker_id"`
	Mark     int       `json:"mark" bson:"mark"`
	Feedback string    `json:"feedback" bson:"feedback"`
	At       time.Time `json:"at" bson:"at"`
}

// Disagreement is two marks further apart than the threshold.
type Disagreement struct {
	Difference int       `json:"difference" bson:"difference"`
	Threshold  int       `json:"threshold" bson:"threshold"`
	At         time.Time `json:"at" bson:"at"`
}

// Outcome is the agreed mark and how it came about.
type Outcome struct {
	Mark int    `json:"mark" bson:"mark"`
	Via  string `json:"via" bson:"via"` // events.AgreedByMarkers, ...
	// Threshold is the one the two marks were within (Via markers).
	Threshold int `json:"threshold,omitempty" bson:"threshold,omitempty"`
	// Comment is the moderator's (Via moderation).
	Comment string `json:"comment,omitempty" bson:"comment,omitempty"`
	// Feedback is the coordinator's (Via coordinator), released with the mark.
	Feedback string `json:"feedback,omitempty" bson:"feedback,omitempty"`
	// Label is the grade when the coordinator gave it in words (Via
	// coordinator); Mark is then 0 and means nothing.
	Label string    `json:"label,omitempty" bson:"label,omitempty"`
	At    time.Time `json:"at" bson:"at"`
}

// Release is what the student was shown.
type Release struct {
	ReleaseID          string    `json:"release_id,omitempty" bson:"release_id,omitempty"`
	Mark               int       `json:"mark" bson:"mark"`
	SupervisorFeedback string    `json:"supervisor_feedback,omitempty" bson:"supervisor_feedback,omitempty"`
	ExaminerFeedback   string    `json:"examiner_feedback,omitempty" bson:"examiner_feedback,omitempty"`
	Feedback           string    `json:"feedback,omitempty" bson:"feedback,omitempty"`
	Label              string    `json:"label,omitempty" bson:"label,omitempty"` // as Outcome's
	At                 time.Time `json:"at" bson:"at"`
}

// Grade is the agreed grade as one text: the label, or the mark.
func (o Outcome) Grade() string { return gradeText(o.Mark, o.Label) }

// Grade is the released grade as one text: the label, or the mark.
func (r Release) Grade() string { return gradeText(r.Mark, r.Label) }

func gradeText(mark int, label string) string {
	if label != "" {
		return label
	}
	return strconv.Itoa(mark)
}

// Record is a marking. Its parts are never changed in place (a fold makes
// new ones), so a record shared by a cache stays as it was.
type Record struct {
	Supervisor *Mark         `json:"supervisor,omitempty" bson:"supervisor,omitempty"`
	Examiner   *Mark         `json:"examiner,omitempty" bson:"examiner,omitempty"`
	Moderation *Disagreement `json:"moderation,omitempty" bson:"moderation,omitempty"`
	Agreed     *Outcome      `json:"agreed,omitempty" bson:"agreed,omitempty"`
	Released   *Release      `json:"released,omitempty" bson:"released,omitempty"`
	// Current reports whether the released mark is the agreed one: false
	// once the coordinator sets another agreed mark after a release, until
	// the next release.
	Current bool `json:"current,omitempty" bson:"current,omitempty"`
}

// Empty reports whether nothing of the marking has happened.
func (r Record) Empty() bool {
	return r.Supervisor == nil && r.Examiner == nil && r.Moderation == nil && r.Agreed == nil && r.Released == nil
}

// IsZero is Empty: a stored document leaves an empty marking out (BSON's
// omitempty asks it), so one written before marking existed and one
// rebuilt since are the same.
func (r Record) IsZero() bool { return r.Empty() }

// Complete reports whether both marks are in.
func (r Record) Complete() bool { return r.Supervisor != nil && r.Examiner != nil }

// Of returns the mark of one marker (events.MarkerSupervisor or MarkerExaminer).
func (r Record) Of(marker string) *Mark {
	if marker == events.MarkerSupervisor {
		return r.Supervisor
	}
	if marker == events.MarkerExaminer {
		return r.Examiner
	}
	return nil
}

// State is where the marking stands, as a coordinator sees it.
func (r Record) State() string {
	switch {
	case r.Agreed != nil && r.Released != nil && r.Current:
		return Released
	case r.Agreed != nil:
		return Agreed
	case r.Moderation != nil:
		return Moderation
	case r.Supervisor != nil || r.Examiner != nil:
		return Submitted
	}
	return ToMark
}

// StateFor is the state as one of the markers sees it: blind while the
// marks are not both in.
func (r Record) StateFor(marker string) string {
	s := r.State()
	if s == ToMark || s == Submitted {
		if r.Of(marker) != nil {
			return Waiting
		}
		return ToMark
	}
	return s
}

// Facts is what the visibility rule knows of the record.
func (r Record) Facts() visibility.Marks {
	return visibility.Marks{SupervisorIn: r.Supervisor != nil, ExaminerIn: r.Examiner != nil}
}

// FinalFeedback is the feedback that goes with the agreed mark where one
// text is wanted (the final-grades format): the coordinator's for a mark
// they set, else the markers' feedback, the supervisor's first.
func (r Record) FinalFeedback() string {
	if r.Agreed == nil {
		return ""
	}
	if r.Agreed.Via == events.AgreedByCoordinator {
		return r.Agreed.Feedback
	}
	return joinFeedback(feedbackOf(r.Supervisor), feedbackOf(r.Examiner))
}

// Text is the released feedback as one text, the supervisor's first.
func (r Release) Text() string {
	return joinFeedback(r.Feedback, r.SupervisorFeedback, r.ExaminerFeedback)
}

func feedbackOf(m *Mark) string {
	if m == nil {
		return ""
	}
	return m.Feedback
}

func joinFeedback(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "\n\n")
}

// ToRelease is what a release of the record shows the student now.
func (r Record) ToRelease(releaseID string) events.MarkReleased {
	out := events.MarkReleased{ReleaseID: releaseID}
	if r.Agreed == nil {
		return out
	}
	out.Mark = r.Agreed.Mark
	if r.Agreed.Via == events.AgreedByCoordinator {
		out.Feedback, out.Label = r.Agreed.Feedback, r.Agreed.Label
		return out
	}
	out.SupervisorFeedback, out.ExaminerFeedback = feedbackOf(r.Supervisor), feedbackOf(r.Examiner)
	return out
}

// Apply folds one event into the record; events that are not about
// marking leave it as it is.
func Apply(r Record, e events.Envelope) Record {
	switch d := e.Data.(type) {
	case *events.MarkSubmitted:
		m := &Mark{MarkerID: d.MarkerID, Mark: d.Mark, Feedback: d.Feedback, At: e.RecordedAt}
		if d.Marker == events.MarkerSupervisor {
			r.Supervisor = m
		} else {
			r.Examiner = m
		}
	case *events.MarksAgreed:
		r.Agreed = &Outcome{Mark: d.Mark, Via: events.AgreedByMarkers, Threshold: d.Threshold, At: e.RecordedAt}
		r.Current = false
	case *events.ModerationRequired:
		r.Moderation = &Disagreement{Difference: d.Difference, Threshold: d.Threshold, At: e.RecordedAt}
	case *events.MarkModerated:
		r.Agreed = &Outcome{Mark: d.Mark, Via: events.AgreedByModeration, Comment: d.Comment, At: e.RecordedAt}
		r.Current = false
	case *events.MarkSet:
		r.Agreed = &Outcome{Mark: d.Mark, Via: events.AgreedByCoordinator, Feedback: d.Feedback, Label: d.Label, At: e.RecordedAt}
		r.Current = false
	case *events.MarkReleased:
		r.Released = &Release{ReleaseID: d.ReleaseID, Mark: d.Mark, SupervisorFeedback: d.SupervisorFeedback,
			ExaminerFeedback: d.ExaminerFeedback, Feedback: d.Feedback, Label: d.Label, At: e.RecordedAt}
		r.Current = true
	case *events.GradeRecorded:
		// A grade from before marking existed: the coordinator's mark, which
		// the student saw at once.
		r.Agreed = &Outcome{Mark: d.Grade, Via: events.AgreedByCoordinator, Feedback: d.Feedback, At: e.RecordedAt}
		r.Released = &Release{Mark: d.Grade, Feedback: d.Feedback, At: e.RecordedAt}
		r.Current = true
	case *events.ProjectExaminerSet:
		// A new examiner marks afresh: the mark of the one they replace is
		// set aside while the pair is incomplete (once both marks are in,
		// the outcome rests on them). Set aside for good: it counts for
		// nothing even if its marker is named again, and only coordinators
		// see it (Known).
		if r.Examiner != nil && r.Examiner.MarkerID != d.ExaminerID && !r.Complete() {
			r.Examiner = nil
		}
	}
	return r
}

// SetAside reports, for each event of a stream (in order), whether it
// submitted a mark that Apply later set aside: every MarkSubmitted of a
// marker whose mark the fold drops, revisions included.
func SetAside(evs []events.Envelope) []bool {
	aside := make([]bool, len(evs))
	var r Record
	counted := map[string][]int{} // marker -> the events of the mark now in
	for i, e := range evs {
		next := Apply(r, e)
		if d, ok := e.Data.(*events.MarkSubmitted); ok {
			counted[d.Marker] = append(counted[d.Marker], i)
		}
		for _, m := range []string{events.MarkerSupervisor, events.MarkerExaminer} {
			if r.Of(m) != nil && next.Of(m) == nil {
				for _, j := range counted[m] {
					aside[j] = true
				}
				counted[m] = nil
			}
		}
		r = next
	}
	return aside
}

// Known is a stream as view may know it: to a viewer who may not see marks
// set aside (all but coordinators), such a mark is as if it had never been
// submitted. Its history and its past states are read from this, so that a
// new examiner marks blind and the other marker never reads a mark that
// counts for nothing. Dropping them changes no other fold: a mark is set
// aside only while the pair is incomplete, so no outcome came with it.
func Known(view visibility.MarkView, evs []events.Envelope) []events.Envelope {
	if view.SetAside {
		return evs
	}
	aside := SetAside(evs)
	if !slices.Contains(aside, true) {
		return evs
	}
	out := make([]events.Envelope, 0, len(evs))
	for i, e := range evs {
		if !aside[i] {
			out = append(out, e)
		}
	}
	return out
}

// OnProject says where a placed student's marking is when they were placed
// through a project: on the project once it has any marking, on their
// record while only the record has (a grade recorded there before marking
// existed), on the project when neither has any. The write side records
// the coordinator's marks where this says, and the read side reads them
// from there: one rule, so the two cannot disagree.
func OnProject(project, record Record) bool { return !project.Empty() || record.Empty() }

// Legacy is the record of a student read model written before marking
// existed, from the grade it kept: what Apply makes of its GradeRecorded,
// without the times the old document did not keep.
func Legacy(grade int, feedback string) Record {
	return Record{Agreed: &Outcome{Mark: grade, Via: events.AgreedByCoordinator, Feedback: feedback},
		Released: &Release{Mark: grade, Feedback: feedback}, Current: true}
}

// Shown is the part of a record one viewer may see, with its state as they
// may know it.
type Shown struct {
	State      string
	Supervisor *Mark
	Examiner   *Mark
	Moderation *Disagreement
	Agreed     *Outcome
	Released   *Release
}

// Show is what v may see of the marking r of project p: the rule
// (visibility.SeesMarks) applied. Every route that shows a mark asks it.
func Show(v visibility.Viewer, p visibility.Project, r Record) (Shown, bool) {
	return r.For(visibility.SeesMarks(v, p, r.Facts()))
}

// Shows reports whether view shows an event: a marking event belongs to the
// part it records (a marker's mark, the outcome, the release); every other
// event is not marking's to hide.
func Shows(view visibility.MarkView, d events.Data) bool {
	switch x := d.(type) {
	case *events.MarkSubmitted:
		if x.Marker == events.MarkerSupervisor {
			return view.Supervisor
		}
		return view.Examiner
	case *events.MarksAgreed, *events.ModerationRequired, *events.MarkModerated, *events.MarkSet:
		return view.Outcome
	case *events.MarkReleased:
		return view.Released
	}
	return true
}

// For cuts the record down to what view allows (visibility.SeesMarks);
// ok is false when the viewer may see nothing of it (a student before
// any release).
func (r Record) For(view visibility.MarkView) (Shown, bool) {
	var out Shown
	switch {
	case view.Outcome && view.As != "":
		out.State = r.StateFor(string(view.As))
	case view.Outcome:
		out.State = r.State()
	case view.Released && r.Released != nil:
		out.State = Released
	default:
		return Shown{}, false
	}
	if view.Supervisor {
		out.Supervisor = r.Supervisor
	}
	if view.Examiner {
		out.Examiner = r.Examiner
	}
	if view.Outcome {
		out.Moderation, out.Agreed = r.Moderation, r.Agreed
	}
	if view.Released {
		out.Released = r.Released
	}
	return out, true
}
