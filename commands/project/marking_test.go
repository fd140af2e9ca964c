package project_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
)

// The markers of the accepted project: its supervisor and its second examiner.
var (
	firstMarker  = events.Actor{UserID: "sup-1", Roles: []string{events.RoleSupervisor}}
	secondMarker = events.Actor{UserID: "exa-1", Roles: []string{events.RoleExaminer}}
	newExaminer  = events.Actor{UserID: "exa-2", Roles: []string{events.RoleExaminer}}
	otherStaff   = events.Actor{UserID: "sup-2", Roles: []string{events.RoleSupervisor, events.RoleExaminer}}
	// The project's supervisor after a coordinator took the role away.
	formerSupervisor = events.Actor{UserID: "sup-1", Roles: []string{events.RoleExaminer}}
)

// accepted is a project accepted by its supervisor, with a second examiner.
var accepted = []events.Data{created, &events.ProposalSubmitted{SupervisorID: firstMarker.UserID},
	&events.ProposalAccepted{SupervisorID: firstMarker.UserID}, &events.ProjectExaminerSet{ExaminerID: secondMarker.UserID}}

// then is a history followed by more events.
func then(history []events.Data, more ...events.Data) []events.Data {
	return append(append([]events.Data{}, history...), more...)
}

func supMark(mark int, feedback string) *events.MarkSubmitted {
	return &events.MarkSubmitted{Marker: events.MarkerSupervisor, MarkerID: firstMarker.UserID, Mark: mark, Feedback: feedback}
}

func exaMark(mark int, feedback string) *events.MarkSubmitted {
	return &events.MarkSubmitted{Marker: events.MarkerExaminer, MarkerID: secondMarker.UserID, Mark: mark, Feedback: feedback}
}

func submit(by events.Actor, mark int, feedback string) project.SubmitMark {
	return project.SubmitMark{By: by, Mark: mark, Feedback: feedback, Threshold: 10, Placed: true}
}

func TestDecideSubmitMark(t *testing.T) {
	supIn := then(accepted, supMark(64, "Good"))
	exaIn := then(accepted, exaMark(70, "Fine"))
	agreed := then(supIn, exaMark(67, "Fine"), &events.MarksAgreed{Mark: 66, Threshold: 10})
	apart := then(supIn, exaMark(80, "Strong"), &events.ModerationRequired{Difference: 16, Threshold: 10})
	runes := func(n int) string { return strings.Repeat("é", n) }
	run(t, []decideCase{
		// The first mark, by either marker.
		{Name: "the supervisor marks first", Given: accepted, When: submit(firstMarker, 64, " Good "), Then: []events.Data{supMark(64, "Good")}},
		{Name: "the examiner marks first", Given: accepted, When: submit(secondMarker, 70, "Fine"), Then: []events.Data{exaMark(70, "Fine")}},
		{Name: "the lowest and highest marks", Given: accepted, When: submit(firstMarker, 0, ""), Then: []events.Data{supMark(0, "")}},
		{Name: "a full mark", Given: accepted, When: submit(secondMarker, 100, runes(5000)), Then: []events.Data{exaMark(100, runes(5000))}},
		{Name: "a marker of both roles marks as supervisor", Given: accepted,
			When: project.SubmitMark{By: events.Actor{UserID: "sup-1", Roles: []string{events.RoleSupervisor, events.RoleExaminer}}, Mark: 50, Threshold: 10, Placed: true},
			Then: []events.Data{supMark(50, "")}},

		// Revising one's own mark until the other is in.
		{Name: "the supervisor revises their mark", Given: supIn, When: submit(firstMarker, 58, "Better"), Then: []events.Data{supMark(58, "Better")}},
		{Name: "the same mark again changes nothing", Given: supIn, When: submit(firstMarker, 64, "Good")},
		{Name: "the examiner revises theirs", Given: exaIn, When: submit(secondMarker, 72, "Fine"), Then: []events.Data{exaMark(72, "Fine")}},

		// The second mark settles the outcome in the same commit.
		{Name: "within the threshold: the mean rounded half up", Given: supIn, When: submit(secondMarker, 67, "Fine"),
			Then: []events.Data{exaMark(67, "Fine"), &events.MarksAgreed{Mark: 66, Threshold: 10}}},
		{Name: "exactly the threshold apart still agrees", Given: supIn, When: submit(secondMarker, 74, ""),
			Then: []events.Data{exaMark(74, ""), &events.MarksAgreed{Mark: 69, Threshold: 10}}},
		{Name: "one more than the threshold goes to moderation", Given: supIn, When: submit(secondMarker, 75, ""),
			Then: []events.Data{exaMark(75, ""), &events.ModerationRequired{Difference: 11, Threshold: 10}}},
		{Name: "the supervisor completes the pair", Given: exaIn, When: submit(firstMarker, 69, "Good"),
			Then: []events.Data{supMark(69, "Good"), &events.MarksAgreed{Mark: 70, Threshold: 10}}},
		{Name: "a threshold of 0 agrees only on equal marks", Given: supIn, When: project.SubmitMark{By: secondMarker, Mark: 65, Threshold: 0, Placed: true},
			Then: []events.Data{exaMark(65, ""), &events.ModerationRequired{Difference: 1, Threshold: 0}}},
		{Name: "the threshold given is the one recorded", Given: supIn, When: project.SubmitMark{By: secondMarker, Mark: 80, Threshold: 20, Placed: true},
			Then: []events.Data{exaMark(80, ""), &events.MarksAgreed{Mark: 72, Threshold: 20}}},

		// Refusals.
		{Name: "a mark below 0", Given: accepted, When: submit(firstMarker, -1, ""), Err: errInvalid, Fields: []string{"mark"}},
		{Name: "a mark above 100", Given: accepted, When: submit(firstMarker, 101, ""), Err: errInvalid, Fields: []string{"mark"}},
		{Name: "feedback too long", Given: accepted, When: submit(firstMarker, 50, runes(5001)), Err: errInvalid, Fields: []string{"feedback"}},
		{Name: "every problem at once", Given: accepted, When: submit(secondMarker, 1000, runes(5001)), Err: errInvalid, Fields: []string{"mark", "feedback"}},
		{Name: "a revision after both are in (agreed)", Given: agreed, When: submit(firstMarker, 90, ""), Err: project.ErrMarksComplete},
		{Name: "a revision after both are in (moderation)", Given: apart, When: submit(secondMarker, 66, ""), Err: project.ErrMarksComplete},
		{Name: "the same mark after both are in changes nothing", Given: agreed, When: submit(secondMarker, 67, "Fine")},
		{Name: "a mark after the coordinator set the agreed one", Given: then(supIn, &events.MarkSet{Mark: 60}), When: submit(secondMarker, 60, ""),
			Err: project.ErrMarkAgreed},
		{Name: "the owner is not a marker", Given: accepted, When: submit(owner, 90, ""), Err: project.ErrNotAMarker},
		{Name: "a coordinator is not a marker", Given: accepted, When: submit(coordinator, 90, ""), Err: project.ErrNotAMarker},
		{Name: "a supervisor without the role is told it does not exist", Given: accepted, When: submit(formerSupervisor, 90, ""), Err: commands.ErrNotFound},
		{Name: "other staff are told it does not exist", Given: accepted, When: submit(otherStaff, 90, ""), Err: commands.ErrNotFound},
		{Name: "another student is told it does not exist", Given: accepted, When: submit(student, 90, ""), Err: commands.ErrNotFound},
		{Name: "a project that does not exist", When: submit(firstMarker, 50, ""), Err: commands.ErrNotFound},
		{Name: "a withdrawn project", Given: then(accepted, &events.ProjectWithdrawn{}), When: submit(firstMarker, 50, ""), Err: commands.ErrNotFound},
		{Name: "a submitted proposal is not marked", Given: accepted[:2], When: submit(firstMarker, 50, ""), Err: project.ErrNotMarkable},
		{Name: "a project whose student was placed elsewhere", Given: accepted,
			When: project.SubmitMark{By: firstMarker, Mark: 50, Threshold: 10}, Err: project.ErrNotMarkable},
		{Name: "a replaced examiner is not a marker", Given: then(accepted, &events.ProjectExaminerSet{ExaminerID: newExaminer.UserID}),
			When: submit(secondMarker, 50, ""), Err: commands.ErrNotFound},
		{Name: "the new examiner marks afresh", Given: then(exaIn, &events.ProjectExaminerSet{ExaminerID: newExaminer.UserID}),
			When: submit(newExaminer, 55, ""), Then: []events.Data{&events.MarkSubmitted{Marker: events.MarkerExaminer, MarkerID: newExaminer.UserID, Mark: 55}}},
	})
}

func TestDecideModerate(t *testing.T) {
	supIn := then(accepted, supMark(40, "Weak"))
	apart := then(supIn, exaMark(75, "Strong"), &events.ModerationRequired{Difference: 35, Threshold: 10})
	moderated := then(apart, &events.MarkModerated{Mark: 58, Comment: "Read twice"})
	agreed := then(supIn, exaMark(45, ""), &events.MarksAgreed{Mark: 43, Threshold: 10})
	run(t, []decideCase{
		{Name: "the coordinator moderates", Given: apart, When: project.Moderate{Mark: 58, Comment: " Read twice "},
			Then: []events.Data{&events.MarkModerated{Mark: 58, Comment: "Read twice"}}},
		{Name: "outside the two marks too", Given: apart, When: project.Moderate{Mark: 90},
			Then: []events.Data{&events.MarkModerated{Mark: 90}}},
		{Name: "a retried moderation changes nothing", Given: moderated, When: project.Moderate{Mark: 58, Comment: "Read twice"}},
		{Name: "moderation of an agreed project", Given: agreed, When: project.Moderate{Mark: 50}, Err: project.ErrNotInModeration},
		{Name: "a second, different moderation", Given: moderated, When: project.Moderate{Mark: 60}, Err: project.ErrNotInModeration},
		{Name: "moderation with one mark in", Given: supIn, When: project.Moderate{Mark: 50}, Err: project.ErrNotInModeration},
		{Name: "moderation with no mark in", Given: accepted, When: project.Moderate{Mark: 50}, Err: project.ErrNotInModeration},
		{Name: "moderation of a mark the coordinator set", Given: then(supIn, &events.MarkSet{Mark: 50}), When: project.Moderate{Mark: 50},
			Err: project.ErrNotInModeration},
		{Name: "a moderated mark out of range", Given: apart, When: project.Moderate{Mark: 101}, Err: errInvalid, Fields: []string{"mark"}},
		{Name: "a comment too long", Given: apart, When: project.Moderate{Mark: 50, Comment: strings.Repeat("x", 4001)}, Err: errInvalid, Fields: []string{"comment"}},
		{Name: "a project that does not exist", When: project.Moderate{Mark: 50}, Err: commands.ErrNotFound},
	})
}

func TestDecideSetMark(t *testing.T) {
	supIn := then(accepted, supMark(64, "Good"))
	agreed := then(supIn, exaMark(67, "Fine"), &events.MarksAgreed{Mark: 66, Threshold: 10})
	released := then(agreed, &events.MarkReleased{ReleaseID: "r1", Mark: 66, SupervisorFeedback: "Good", ExaminerFeedback: "Fine"})
	set := func(mark int, feedback string) project.SetMark {
		return project.SetMark{Mark: mark, Feedback: feedback, Placed: true}
	}
	run(t, []decideCase{
		{Name: "on a project nobody marked", Given: accepted, When: set(72, " Solid "), Then: []events.Data{&events.MarkSet{Mark: 72, Feedback: "Solid"}}},
		{Name: "with one mark in", Given: supIn, When: set(70, ""), Then: []events.Data{&events.MarkSet{Mark: 70}}},
		{Name: "over the markers' agreed mark", Given: agreed, When: set(70, "Raised"), Then: []events.Data{&events.MarkSet{Mark: 70, Feedback: "Raised"}}},
		{Name: "over a released mark", Given: released, When: set(70, "Raised"), Then: []events.Data{&events.MarkSet{Mark: 70, Feedback: "Raised"}}},
		{Name: "the same mark with the same feedback changes nothing", Given: then(accepted, &events.MarkSet{Mark: 72, Feedback: "Solid"}), When: set(72, "Solid")},
		{Name: "the markers' mark with their feedback changes nothing (an export imported back)", Given: agreed, When: set(66, "Good\n\nFine")},
		{Name: "a grade out of range", Given: accepted, When: set(101, ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "a negative grade", Given: accepted, When: set(-5, ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "feedback too long", Given: accepted, When: set(50, strings.Repeat("x", 5001)), Err: errInvalid, Fields: []string{"feedback"}},
		{Name: "a draft is not graded", Given: []events.Data{created}, When: set(50, ""), Err: project.ErrNotMarkable},
		{Name: "a submitted proposal is not graded", Given: accepted[:2], When: set(50, ""), Err: project.ErrNotMarkable},
		{Name: "a rejected proposal is not graded", Given: []events.Data{created, accepted[1], &events.ProposalRejected{SupervisorID: firstMarker.UserID}},
			When: set(50, ""), Err: project.ErrNotMarkable},
		{Name: "a project whose student was placed elsewhere", Given: accepted, When: project.SetMark{Mark: 50}, Err: project.ErrNotMarkable},
		{Name: "a withdrawn project", Given: then(accepted, &events.ProjectWithdrawn{}), When: set(50, ""), Err: commands.ErrNotFound},
	})
}

// TestDecideSetMarkInWords: a grade the coordinator gives in words stands
// for the mark; it is short text that is not a number, given alone.
func TestDecideSetMarkInWords(t *testing.T) {
	agreed := then(accepted, supMark(64, "Good"), exaMark(67, "Fine"), &events.MarksAgreed{Mark: 66, Threshold: 10})
	label := func(mark int, label, feedback string) project.SetMark {
		return project.SetMark{Mark: mark, Label: label, Feedback: feedback, Placed: true}
	}
	run(t, []decideCase{
		{Name: "a letter", Given: accepted, When: label(0, " A ", "Well done"), Then: []events.Data{&events.MarkSet{Label: "A", Feedback: "Well done"}}},
		{Name: "a class with digits", Given: accepted, When: label(0, "2:1", ""), Then: []events.Data{&events.MarkSet{Label: "2:1"}}},
		{Name: "over the markers' agreed mark", Given: agreed, When: label(0, "Pass", ""), Then: []events.Data{&events.MarkSet{Label: "Pass"}}},
		{Name: "the same words again change nothing", Given: then(accepted, &events.MarkSet{Label: "Pass", Feedback: "Ok"}), When: label(0, "Pass", "Ok")},
		{Name: "other words over words", Given: then(accepted, &events.MarkSet{Label: "Pass"}), When: label(0, "Merit", ""),
			Then: []events.Data{&events.MarkSet{Label: "Merit"}}},
		{Name: "a mark over words", Given: then(accepted, &events.MarkSet{Label: "Pass"}), When: label(55, "", ""),
			Then: []events.Data{&events.MarkSet{Mark: 55}}},
		{Name: "a number in words", Given: accepted, When: label(0, "72.5", ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "a whole number in words", Given: accepted, When: label(0, "72", ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "words and a mark", Given: accepted, When: label(60, "B", ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "a sentence", Given: accepted, When: label(0, "Excellent work all round", ""), Err: errInvalid, Fields: []string{"grade"}},
		{Name: "a control character", Given: accepted, When: label(0, "A\x00", ""), Err: errInvalid, Fields: []string{"grade"}},
	})
}

// randomCase writes s with each letter in upper or lower case at random.
func randomCase(rng *rand.Rand, s string) string {
	return strings.Map(func(r rune) rune {
		if rng.IntN(2) == 0 {
			return unicode.ToUpper(r)
		}
		return unicode.ToLower(r)
	}, s)
}

// TestGradeInWordsIsNoNumber: a number is a mark whatever notation it is
// written in, never a grade in words: a spreadsheet's exponent (1E+02),
// NaN and Infinity, another base or digits grouped (0x10, 1_000),
// digits of another script (full-width, Arabic-Indic, Devanagari), a
// decimal comma, a sign; each is refused, so that no student is shown
// "1E+02" as their grade with no mark behind it. Words, digits among them
// (2:1, A+, 1st), are taken. The exponent and other scripts used to be
// taken as words, and so were NaN, Infinity, 0x10 and 0b101, and later
// an integer behind two signs (-+0o4).
func TestGradeInWordsIsNoNumber(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 40))
	scripts := []rune{'0', '０', '٠', '۰', '०', '০', '๐'} // the zero of each
	inScript := func(s string, zero rune) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return zero + (r - '0')
			}
			return r
		}, s)
	}
	for range 2000 {
		n := rng.Float64() * 100
		var written string
		switch rng.IntN(7) {
		case 0:
			written = strconv.FormatFloat(n, []byte("eEg")[rng.IntN(3)], rng.IntN(4), 64)
		case 1:
			written = strconv.FormatFloat(float64(int(n)), 'E', -1, 64) // 1E+02, as a spreadsheet shows 100
		case 2:
			written = inScript(strconv.Itoa(int(n)), scripts[1+rng.IntN(len(scripts)-1)])
		case 3:
			written = inScript(strconv.FormatFloat(n, 'f', 1+rng.IntN(2), 64), scripts[rng.IntN(len(scripts))])
			written = strings.Replace(written, ".", []string{".", ","}[rng.IntN(2)], 1)
		case 4:
			written = []string{"+", "-"}[rng.IntN(2)] + strconv.Itoa(int(n))
		case 5: // what a spreadsheet or a program prints for no number, in any case, signed or not
			written = []string{"", "+", "-"}[rng.IntN(3)] + randomCase(rng, []string{"NaN", "Inf", "Infinity"}[rng.IntN(3)])
		case 6: // another base, or digits grouped as Go writes them, behind any signs
			written = []string{"", "+", "-", "-+", "+-", "--"}[rng.IntN(6)] + randomCase(rng, []string{
				"0x" + strconv.FormatInt(int64(n), 16), "0b" + strconv.FormatInt(int64(n), 2), "0o" + strconv.FormatInt(int64(n), 8),
				"0x1p" + strconv.Itoa(rng.IntN(7)), strconv.Itoa(1+rng.IntN(9)) + "_" + strconv.Itoa(100+rng.IntN(900)),
			}[rng.IntN(5)])
		}
		if _, err := project.DecideSetMark(marking.Record{}, 0, written, ""); !errors.Is(err, errInvalid) {
			t.Fatalf("the number %q was taken as a grade in words (err %v)", written, err)
		}
	}
	// Found by the import's property test (infra/csvio): more than one
	// sign before another base was taken as words.
	for _, written := range []string{"-+0o4", "+-0x1F", "--1_000", "-+0b101"} {
		if _, err := project.DecideSetMark(marking.Record{}, 0, written, ""); !errors.Is(err, errInvalid) {
			t.Errorf("the number %q was taken as a grade in words (err %v)", written, err)
		}
	}
	for _, words := range []string{"A", "A+", "B-", "Pass", "Merit", "Distinction", "2:1", "2:2", "1st", "First", "Fail", "Incomplete", "P (resit)", "Grade 7", "E1"} {
		if _, err := project.DecideSetMark(marking.Record{}, 0, words, ""); err != nil {
			t.Errorf("the grade in words %q was refused: %v", words, err)
		}
	}
}

func TestDecideReleaseMark(t *testing.T) {
	supIn := then(accepted, supMark(64, "Good"))
	agreed := then(supIn, exaMark(67, "Fine"), &events.MarksAgreed{Mark: 66, Threshold: 10})
	released := then(agreed, &events.MarkReleased{ReleaseID: "r1", Mark: 66, SupervisorFeedback: "Good", ExaminerFeedback: "Fine"})
	apart := then(supIn, exaMark(80, ""), &events.ModerationRequired{Difference: 16, Threshold: 10})
	release := project.ReleaseMark{ReleaseID: "r2"}
	run(t, []decideCase{
		{Name: "the markers' mark, with both feedbacks", Given: agreed, When: release,
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r2", Mark: 66, SupervisorFeedback: "Good", ExaminerFeedback: "Fine"}}},
		{Name: "a moderated mark", Given: then(apart, &events.MarkModerated{Mark: 71, Comment: "internal"}), When: release,
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r2", Mark: 71, SupervisorFeedback: "Good"}}},
		{Name: "a mark the coordinator set, with their feedback", Given: then(accepted, &events.MarkSet{Mark: 72, Feedback: "Solid"}), When: release,
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r2", Mark: 72, Feedback: "Solid"}}},
		{Name: "a mark the coordinator gave in words", Given: then(accepted, &events.MarkSet{Label: "Pass", Feedback: "Solid"}), When: release,
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r2", Label: "Pass", Feedback: "Solid"}}},
		{Name: "a released mark again changes nothing", Given: released, When: release},
		{Name: "a mark changed after its release is released again", Given: then(released, &events.MarkSet{Mark: 70, Feedback: "Raised"}), When: release,
			Then: []events.Data{&events.MarkReleased{ReleaseID: "r2", Mark: 70, Feedback: "Raised"}}},
		{Name: "release of an unagreed one: one mark in", Given: supIn, When: release, Err: project.ErrNotAgreed},
		{Name: "release of an unagreed one: in moderation", Given: apart, When: release, Err: project.ErrNotAgreed},
		{Name: "release of an unagreed one: nothing marked", Given: accepted, When: release, Err: project.ErrNotAgreed},
		{Name: "a project that does not exist", When: release, Err: commands.ErrNotFound},
	})
}

// TestMean: the mean of two marks rounded half up, over every pair.
func TestMean(t *testing.T) {
	for a := 0; a <= 100; a++ {
		for b := 0; b <= 100; b++ {
			got := project.Mean(a, b)
			if 2*got != a+b && 2*got != a+b+1 {
				t.Fatalf("Mean(%d, %d) = %d: not the mean rounded half up", a, b, got)
			}
			if got != project.Mean(b, a) {
				t.Fatalf("Mean(%d, %d) depends on the order", a, b)
			}
		}
	}
}

// TestMarkingProperty runs random sequences of marking commands from both
// markers and the coordinator and checks, after each, what every accepted
// decision must leave: marks in range, an outcome only once both are in
// (or set by the coordinator), an agreed mark within the threshold being
// the mean, and nothing released that was not agreed.
func TestMarkingProperty(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 13))
		threshold := rng.IntN(25)
		history := then(accepted)
		for step := range 12 {
			var cmd project.Command
			mark := rng.IntN(121) - 10
			switch rng.IntN(6) {
			case 0, 1:
				cmd = project.SubmitMark{By: firstMarker, Mark: mark, Threshold: threshold, Placed: true}
			case 2, 3:
				cmd = project.SubmitMark{By: secondMarker, Mark: mark, Threshold: threshold, Placed: true}
			case 4:
				cmd = project.Moderate{Mark: mark}
			default:
				cmd = project.ReleaseMark{ReleaseID: "r"}
			}
			before := fold(history)
			out, err := project.Decide(before, cmd)
			if err != nil {
				if len(out) > 0 {
					t.Fatalf("seed %d step %d: a refusal with events", seed, step)
				}
				continue
			}
			history = append(history, out...)
			r := fold(history).Marking
			for _, m := range []int{markOf(r.Supervisor), markOf(r.Examiner)} {
				if m < -1 || m > 100 {
					t.Fatalf("seed %d: a mark of %d was accepted", seed, m)
				}
			}
			if r.Agreed != nil && r.Agreed.Via == events.AgreedByMarkers {
				if !r.Complete() || abs(r.Supervisor.Mark-r.Examiner.Mark) > threshold || r.Agreed.Mark != project.Mean(r.Supervisor.Mark, r.Examiner.Mark) {
					t.Fatalf("seed %d: agreed %d on %+v / %+v with threshold %d", seed, r.Agreed.Mark, r.Supervisor, r.Examiner, threshold)
				}
			}
			if r.Moderation != nil && (!r.Complete() || abs(r.Supervisor.Mark-r.Examiner.Mark) <= threshold) {
				t.Fatalf("seed %d: moderation on %+v / %+v with threshold %d", seed, r.Supervisor, r.Examiner, threshold)
			}
			if r.Released != nil && (r.Agreed == nil || r.Released.Mark != r.Agreed.Mark) {
				t.Fatalf("seed %d: released %+v, agreed %+v", seed, r.Released, r.Agreed)
			}
			if before.Marking.Complete() && (before.Marking.Supervisor.Mark != r.Supervisor.Mark || before.Marking.Examiner.Mark != r.Examiner.Mark) {
				t.Fatalf("seed %d: a mark changed after both were in", seed)
			}
		}
	}
}

func markOf(m *marking.Mark) int {
	if m == nil {
		return -1
	}
	return m.Mark
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
