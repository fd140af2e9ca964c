package cohort

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/marking"
)

// Profile is a supervisor's public profile (stream "supervisor:<user id>").
type Profile struct {
	Areas []string      `json:"areas"`
	Info  string        `json:"info"`
	Ideas []events.Idea `json:"project_ideas"`
}

// UpdateProfile sets the parts of a supervisor's profile it gives: a part
// left nil keeps its value (a coordinator setting a capacity gives none), an
// empty one clears it.
type UpdateProfile struct {
	Areas *[]string
	Info  *string
	Ideas *[]events.Idea
}

// ReplaceProfile is the UpdateProfile that gives every part.
func ReplaceProfile(areas []string, info string, ideas []events.Idea) UpdateProfile {
	return UpdateProfile{Areas: &areas, Info: &info, Ideas: &ideas}
}

// Empty reports whether u gives no part at all.
func (u UpdateProfile) Empty() bool { return u.Areas == nil && u.Info == nil && u.Ideas == nil }

// over is u's parts over p's.
func (u UpdateProfile) over(p Profile) Profile {
	if u.Areas != nil {
		p.Areas = *u.Areas
	}
	if u.Info != nil {
		p.Info = *u.Info
	}
	if u.Ideas != nil {
		p.Ideas = *u.Ideas
	}
	return p
}

// ProfileDecider is the supervisor profile aggregate. Its one command is
// UpdateProfile, so that is its command type.
var ProfileDecider = commands.Decider[Profile, UpdateProfile]{
	StreamType: events.StreamSupervisor,
	Schema:     "supervisor/1",
	Initial:    func(string) Profile { return Profile{} },
	Evolve: func(p Profile, e events.Envelope) Profile {
		if d, ok := e.Data.(*events.SupervisorProfileUpdated); ok {
			p = Profile{Areas: d.Areas, Info: d.Info, Ideas: d.Ideas}
		}
		return p
	},
	Decide: func(p Profile, u UpdateProfile) ([]events.Data, error) {
		c := u.over(p)
		var v commands.Validation
		next := events.SupervisorProfileUpdated{Areas: []string{}, Info: strings.TrimSpace(c.Info), Ideas: []events.Idea{}}
		for _, a := range c.Areas {
			a = strings.TrimSpace(a)
			switch {
			case a == "" || slices.Contains(next.Areas, a):
			case utf8.RuneCountInString(a) > 100:
				v.Add("areas", "an area is longer than 100 characters")
			case commands.RefusedInLine(a):
				v.Add("areas", "an area "+commands.LineRefusal)
			default:
				next.Areas = append(next.Areas, a)
			}
		}
		if len(next.Areas) > 20 {
			v.Add("areas", "at most 20 areas")
		}
		if utf8.RuneCountInString(next.Info) > 5000 {
			v.Add("info", "is longer than 5000 characters")
		}
		v.CheckText("info", next.Info)
		if len(c.Ideas) > 20 {
			v.Add("project_ideas", "at most 20 ideas")
		}
		for _, idea := range c.Ideas {
			idea = events.Idea{Title: strings.TrimSpace(idea.Title), Description: strings.TrimSpace(idea.Description)}
			switch {
			case idea.Title == "":
				v.Add("project_ideas", "every idea needs a title")
			case utf8.RuneCountInString(idea.Title) > 200 || utf8.RuneCountInString(idea.Description) > 5000:
				v.Add("project_ideas", "a title is at most 200 characters and a description 5000")
			case commands.RefusedInLine(idea.Title):
				v.Add("project_ideas", "a title "+commands.LineRefusal)
			case commands.RefusedInText(idea.Description):
				v.Add("project_ideas", "a description "+commands.TextRefusal)
			}
			next.Ideas = append(next.Ideas, idea)
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
		if slices.Equal(next.Areas, p.Areas) && next.Info == p.Info && slices.Equal(next.Ideas, p.Ideas) && p.Areas != nil {
			return nil, nil
		}
		return []events.Data{&next}, nil
	},
}

// SupervisorStreamID is the stream of a supervisor's profile.
func SupervisorStreamID(userID string) string { return "supervisor:" + userID }

// StudentStreamID is the stream of a student's own choices and results.
func StudentStreamID(userID string) string { return "student:" + userID }

// Student is what belongs to a student alone: their ranking, and the
// marking of a student placed without a project in the system.
type Student struct {
	Preferences []string `json:"preferences"`
	// Marking holds the marks the coordinator sets on the record itself
	// (and the grades recorded before marking existed).
	Marking marking.Record `json:"marking"`
}

// SetPreferences replaces the ranking of StudentID (1 to 5 distinct
// supervisors, never the student themselves).
type SetPreferences struct {
	StudentID     string
	SupervisorIDs []string
}

// SetRecordMark sets the agreed mark (0 to 100) and feedback on the
// student's record.
type SetRecordMark struct {
	Mark     int
	Label    string // the grade in words instead of Mark (see events.MarkSet)
	Feedback string
}

// ReleaseRecordMark shows the record's agreed mark to the student.
type ReleaseRecordMark struct{ ReleaseID string }

// MaxPreferences is how many supervisors a student ranks at most.
const MaxPreferences = 5

// StudentCommand is a command of the student record aggregate. It is
// closed: only the command types of this package implement it, each
// deciding itself.
type StudentCommand interface {
	decide(Student) ([]events.Data, error)
}

// StudentDecider is the student record aggregate.
var StudentDecider = commands.Decider[Student, StudentCommand]{
	StreamType: events.StreamStudent,
	Schema:     "student/2",
	Initial:    func(string) Student { return Student{} },
	Evolve: func(s Student, e events.Envelope) Student {
		if d, ok := e.Data.(*events.PreferencesSet); ok {
			s.Preferences = d.SupervisorIDs
		}
		s.Marking = marking.Apply(s.Marking, e)
		return s
	},
	Decide: func(s Student, c StudentCommand) ([]events.Data, error) { return c.decide(s) },
}

func (c SetPreferences) decide(s Student) ([]events.Data, error) {
	if err := c.ranksSelf(); err != nil {
		return nil, err
	}
	if len(c.SupervisorIDs) < 1 || len(c.SupervisorIDs) > MaxPreferences {
		return nil, commands.Invalid(commands.FieldError{Field: "supervisor_ids", Message: "rank 1 to 5 supervisors"})
	}
	for i, id := range c.SupervisorIDs {
		if slices.Contains(c.SupervisorIDs[:i], id) {
			return nil, commands.Invalid(commands.FieldError{Field: "supervisor_ids", Message: "a supervisor is ranked twice"})
		}
	}
	if slices.Equal(s.Preferences, c.SupervisorIDs) {
		return nil, nil
	}
	return []events.Data{&events.PreferencesSet{SupervisorIDs: slices.Clone(c.SupervisorIDs)}}, nil
}

// ranksSelf refuses a ranking that names the student (one who also
// supervises): nobody supervises themselves.
func (c SetPreferences) ranksSelf() error {
	if !slices.Contains(c.SupervisorIDs, c.StudentID) {
		return nil
	}
	e := *project.ErrSelfSupervision
	e.Fields = []commands.FieldError{{Field: "supervisor_ids", Message: "names the student themselves"}}
	return &e
}

func (c SetRecordMark) decide(s Student) ([]events.Data, error) {
	return project.DecideSetMark(s.Marking, c.Mark, c.Label, c.Feedback)
}

func (c ReleaseRecordMark) decide(s Student) ([]events.Data, error) {
	return project.DecideRelease(s.Marking, c.ReleaseID)
}
