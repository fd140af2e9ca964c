package project

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
	"github.com/capstone-pms/capstone/events/visibility"
)

// SubmitMark is a marker's mark and feedback, or their revision of it.
type SubmitMark struct {
	By       events.Actor
	Mark     int
	Feedback string
	// Threshold is the cohort's, read when the mark was submitted: how far
	// apart two marks may be and still agree.
	Threshold int
	// Placed reports whether the project is its student's placement (the
	// cohort's say, read by the caller): a project whose student was
	// placed elsewhere since is not marked.
	Placed bool
}

// Moderate is the coordinator's agreed mark for two marks too far apart.
type Moderate struct {
	Mark    int
	Comment string
}

// SetMark is an agreed mark the coordinator sets directly (a grade).
type SetMark struct {
	Mark     int
	Label    string // the grade in words instead of Mark (see events.MarkSet)
	Feedback string
	Placed   bool // as in SubmitMark
}

// ReleaseMark shows the agreed mark to the student, as part of a release.
type ReleaseMark struct{ ReleaseID string }

// Bounds of marking.
const (
	MaxMark          = 100
	MaxFeedback      = 5000
	MaxModeratorNote = 4000
	// MaxLabel bounds a grade given in words: a grade ("Distinction",
	// "B+"), not a sentence.
	MaxLabel = 20
)

// Refusals of marking.
var (
	ErrNotMarkable = &commands.Error{Kind: commands.KindRule, Code: "not-markable",
		Message: "only the accepted project of a placed student is marked"}
	ErrNotAMarker = &commands.Error{Kind: commands.KindForbidden, Code: "not-a-marker",
		Message: "only the project's supervisor and its second examiner mark it"}
	ErrMarksComplete = &commands.Error{Kind: commands.KindRule, Code: "marks-complete",
		Message: "both marks are in: only moderation changes the outcome now"}
	ErrMarkAgreed = &commands.Error{Kind: commands.KindRule, Code: "mark-agreed",
		Message: "the coordinator has set the agreed mark: marks can no longer be submitted"}
	ErrNotInModeration = &commands.Error{Kind: commands.KindRule, Code: "not-in-moderation",
		Message: "only a project whose two marks are in and too far apart is moderated"}
	ErrNotAgreed = &commands.Error{Kind: commands.KindRule, Code: "not-agreed",
		Message: "only an agreed mark is released"}
)

// Facts is what the visibility rule knows of the project.
func (s State) Facts() visibility.Project {
	return visibility.Project{OwnerID: s.OwnerID, SupervisorID: s.SupervisorID, ExaminerID: s.ExaminerID, Status: s.Status}
}

// markable refuses marking a project that does not exist, or that is not
// (or no longer) the accepted project of a placed student.
func (s State) markable(placed bool) error {
	switch {
	case !s.Created || s.Status == events.StatusWithdrawn:
		return commands.ErrNotFound
	case s.Status != events.StatusAccepted || !placed:
		return ErrNotMarkable
	}
	return nil
}

func (c SubmitMark) decide(s State) ([]events.Data, error) {
	marker := string(visibility.MarkerOf(c.By, s.Facts()))
	switch {
	case !s.Created || s.Status == events.StatusWithdrawn || !s.VisibleTo(c.By):
		return nil, commands.ErrNotFound
	case marker == "":
		return nil, ErrNotAMarker
	}
	if err := s.markable(c.Placed); err != nil {
		return nil, err
	}
	feedback := strings.TrimSpace(c.Feedback)
	if err := validateMark("mark", c.Mark, "feedback", feedback, MaxFeedback); err != nil {
		return nil, err
	}
	r := s.Marking
	own := r.Of(marker)
	switch {
	case own != nil && own.MarkerID == c.By.UserID && own.Mark == c.Mark && own.Feedback == feedback:
		return nil, nil // a retry, or a revision that changes nothing
	case r.Complete():
		return nil, ErrMarksComplete
	case r.Agreed != nil:
		return nil, ErrMarkAgreed
	}
	out := []events.Data{&events.MarkSubmitted{Marker: marker, MarkerID: c.By.UserID, Mark: c.Mark, Feedback: feedback}}
	other := r.Examiner
	if marker == events.MarkerExaminer {
		other = r.Supervisor
	}
	if other == nil {
		return out, nil
	}
	threshold := max(c.Threshold, 0)
	diff := c.Mark - other.Mark
	if diff < 0 {
		diff = -diff
	}
	if diff > threshold {
		return append(out, &events.ModerationRequired{Difference: diff, Threshold: threshold}), nil
	}
	return append(out, &events.MarksAgreed{Mark: Mean(c.Mark, other.Mark), Threshold: threshold}), nil
}

// Mean is the mean of two marks rounded half up (64 and 67 agree on 66).
func Mean(a, b int) int { return (a + b + 1) / 2 }

func (c Moderate) decide(s State) ([]events.Data, error) {
	if !s.Created || s.Status == events.StatusWithdrawn {
		return nil, commands.ErrNotFound
	}
	comment := strings.TrimSpace(c.Comment)
	if err := validateMark("mark", c.Mark, "comment", comment, MaxModeratorNote); err != nil {
		return nil, err
	}
	r := s.Marking
	switch {
	case r.Agreed != nil && r.Agreed.Via == events.AgreedByModeration && r.Agreed.Mark == c.Mark && r.Agreed.Comment == comment:
		return nil, nil // a retried moderation
	case r.Moderation == nil || r.Agreed != nil:
		return nil, ErrNotInModeration
	}
	return []events.Data{&events.MarkModerated{Mark: c.Mark, Comment: comment}}, nil
}

func (c SetMark) decide(s State) ([]events.Data, error) {
	if err := s.markable(c.Placed); err != nil {
		return nil, err
	}
	return DecideSetMark(s.Marking, c.Mark, c.Label, c.Feedback)
}

// DecideSetMark decides an agreed mark the coordinator sets on a record (a
// project's or a student's): it replaces whatever the markers did, and an
// earlier agreed mark, even a released one (released again by the next
// release). The same mark with the same feedback changes nothing, so an
// import of the final-grades export changes nothing. A grade given in words
// (label) stands for the mark, which must then be 0.
func DecideSetMark(r marking.Record, mark int, label, feedback string) ([]events.Data, error) {
	feedback, label = strings.TrimSpace(feedback), strings.TrimSpace(label)
	if err := validateMark("grade", mark, "feedback", feedback, MaxFeedback); err != nil {
		return nil, err
	}
	if err := validateLabel(mark, label); err != nil {
		return nil, err
	}
	if r.Agreed != nil && r.Agreed.Mark == mark && r.Agreed.Label == label && r.FinalFeedback() == feedback {
		return nil, nil
	}
	return []events.Data{&events.MarkSet{Mark: mark, Label: label, Feedback: feedback}}, nil
}

// numeric is a number written out (a mark, perhaps with decimals).
var numeric = regexp.MustCompile(`^[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)$`)

// isNumber reports whether a grade in words is a number in another
// notation: a spreadsheet's exponent (1E+02 for 100), NaN or Infinity (as
// a spreadsheet or a program prints them), Go's other bases and digit
// separators (0x10, 0b101, 0o17, 1_000), or digits of another script
// (full-width ７２, Arabic-Indic ٧٢). Taken for words, it would be shown to
// the student as it is, with no mark behind it. A grade is a whole mark
// from 0 to 100 or words that are no number.
func isNumber(label string) bool {
	if numeric.MatchString(label) {
		return true
	}
	// Unsigned, so that -NaN (as C prints it) is caught as NaN is, and a
	// number behind more than one sign (-+0o4) as it is behind one.
	unsigned := strings.Replace(strings.TrimLeft(label, "+-"), ",", ".", 1)
	if _, err := strconv.ParseFloat(unsigned, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return true // NaN, Inf and Infinity in any case, too
	}
	if _, err := strconv.ParseInt(unsigned, 0, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		return true
	}
	if !strings.ContainsFunc(label, unicode.IsDigit) {
		return false
	}
	return !strings.ContainsFunc(label, func(r rune) bool { return !unicode.IsDigit(r) && !strings.ContainsRune("+-.,", r) })
}

// validateLabel checks a grade given in words (A, Pass, 2:1): short text
// that is not a number (a number is a mark), with no mark beside it.
func validateLabel(mark int, label string) error {
	msg := ""
	switch {
	case label == "":
		return nil
	case commands.RefusedInLine(label):
		msg = commands.LineRefusal
	case utf8.RuneCountInString(label) > MaxLabel:
		msg = "is longer than " + itoa(MaxLabel) + " characters"
	case isNumber(label):
		msg = "is a number: give it as a whole mark from 0 to 100"
	case mark != 0:
		msg = "is given both as a mark and in words"
	default:
		return nil
	}
	return commands.Invalid(commands.FieldError{Field: "grade", Message: msg})
}

// DecideRelease decides the release of a record's agreed mark: refused
// when there is none, nothing to do when the student already sees it.
func DecideRelease(r marking.Record, releaseID string) ([]events.Data, error) {
	switch {
	case r.Agreed == nil:
		return nil, ErrNotAgreed
	case r.Released != nil && r.Current:
		return nil, nil
	}
	released := r.ToRelease(releaseID)
	return []events.Data{&released}, nil
}

func (c ReleaseMark) decide(s State) ([]events.Data, error) {
	if !s.Created || s.Status == events.StatusWithdrawn {
		return nil, commands.ErrNotFound
	}
	return DecideRelease(s.Marking, c.ReleaseID)
}

// validateMark checks a mark (0 to 100) and its text.
func validateMark(markField string, mark int, textField, text string, maxText int) error {
	var v commands.Validation
	if mark < 0 || mark > MaxMark {
		v.Add(markField, "must be a whole number from 0 to 100")
	}
	if utf8.RuneCountInString(text) > maxText {
		v.Add(textField, "is longer than "+itoa(maxText)+" characters")
	}
	v.CheckText(textField, text)
	return v.Err()
}
