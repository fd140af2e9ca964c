package cohort_test

import (
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// TestDecidePreferences: a student ranks 1 to 5 distinct supervisors, never
// themselves (a student who also supervises).
func TestDecidePreferences(t *testing.T) {
	rank := func(ids ...string) cohort.SetPreferences {
		return cohort.SetPreferences{StudentID: "s1", SupervisorIDs: ids}
	}
	set := func(ids ...string) []events.Data { return []events.Data{&events.PreferencesSet{SupervisorIDs: ids}} }
	decidertest.Run(t, cohort.StudentDecider, cohort.StudentStreamID("s1"), []decidertest.Case[cohort.StudentCommand]{
		{Name: "ranked", When: rank("v1", "v2"), Then: set("v1", "v2")},
		{Name: "one", When: rank("v1"), Then: set("v1")},
		{Name: "five", When: rank("v1", "v2", "v3", "v4", "v5"), Then: set("v1", "v2", "v3", "v4", "v5")},
		{Name: "reordered", Given: set("v1", "v2"), When: rank("v2", "v1"), Then: set("v2", "v1")},
		{Name: "the same again changes nothing", Given: set("v1", "v2"), When: rank("v1", "v2")},
		{Name: "none", When: rank(), Err: decidertest.ErrInvalid, Fields: []string{"supervisor_ids"}},
		{Name: "six", When: rank("v1", "v2", "v3", "v4", "v5", "v6"), Err: decidertest.ErrInvalid, Fields: []string{"supervisor_ids"}},
		{Name: "one ranked twice", When: rank("v1", "v2", "v1"), Err: decidertest.ErrInvalid, Fields: []string{"supervisor_ids"}},
		{Name: "themselves", When: rank("v1", "s1"), Err: project.ErrSelfSupervision},
		{Name: "themselves is told first", When: rank("s1", "s1", "v1", "v2", "v3", "v4"), Err: project.ErrSelfSupervision},
	})
}

// TestDecideProfile: a supervisor's profile (the parts given over those it
// has) is checked whole, trimmed, and stored only when it changes.
func TestDecideProfile(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	areas := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "area " + string(rune('a'+i))
		}
		return out
	}
	ideas := func(n int) []events.Idea {
		out := make([]events.Idea, n)
		for i := range out {
			out[i] = events.Idea{Title: "idea " + string(rune('a'+i))}
		}
		return out
	}
	updated := func(areas []string, info string, ideas []events.Idea) []events.Data {
		return []events.Data{&events.SupervisorProfileUpdated{Areas: areas, Info: info, Ideas: ideas}}
	}
	compilers := updated([]string{"Compilers"}, "Office 3", []events.Idea{{Title: "A toy compiler"}})
	replace := cohort.ReplaceProfile
	only := func(info string) cohort.UpdateProfile { return cohort.UpdateProfile{Info: &info} }
	decidertest.Run(t, cohort.ProfileDecider, cohort.SupervisorStreamID("v1"), []decidertest.Case[cohort.UpdateProfile]{
		{Name: "published", When: replace([]string{"Compilers"}, "Office 3", []events.Idea{{Title: "A toy compiler"}}), Then: compilers},
		{Name: "an empty first profile is recorded", When: cohort.UpdateProfile{}, Then: updated([]string{}, "", []events.Idea{})},
		{Name: "trimmed, blank and repeated areas dropped", When: replace([]string{" Compilers ", "", "Compilers", "  "},
			" Office 3\n", []events.Idea{{Title: " A toy compiler "}}), Then: compilers},
		{Name: "the same again changes nothing", Given: compilers,
			When: replace([]string{"Compilers"}, "Office 3", []events.Idea{{Title: "A toy compiler"}})},
		{Name: "a part left out keeps its value", Given: compilers, When: only("Office 4"),
			Then: updated([]string{"Compilers"}, "Office 4", []events.Idea{{Title: "A toy compiler"}})},
		{Name: "no part given changes nothing", Given: compilers, When: cohort.UpdateProfile{}},
		{Name: "emptied", Given: compilers, When: replace(nil, "", nil), Then: updated([]string{}, "", []events.Idea{})},
		{Name: "twenty areas", When: replace(areas(20), "", nil), Then: updated(areas(20), "", []events.Idea{})},
		{Name: "twenty-one areas", When: replace(areas(21), "", nil), Err: decidertest.ErrInvalid, Fields: []string{"areas"}},
		{Name: "an area too long", When: replace([]string{long(101)}, "", nil), Err: decidertest.ErrInvalid, Fields: []string{"areas"}},
		{Name: "information too long", When: only(long(5001)), Err: decidertest.ErrInvalid, Fields: []string{"info"}},
		{Name: "twenty-one ideas", When: replace(nil, "", ideas(21)), Err: decidertest.ErrInvalid, Fields: []string{"project_ideas"}},
		{Name: "an idea without a title", When: replace(nil, "", []events.Idea{{Title: " ", Description: "d"}}),
			Err: decidertest.ErrInvalid, Fields: []string{"project_ideas"}},
		{Name: "an idea's title too long", When: replace(nil, "", []events.Idea{{Title: long(201)}}),
			Err: decidertest.ErrInvalid, Fields: []string{"project_ideas"}},
		{Name: "every problem at once", When: replace([]string{long(101)}, long(5001), []events.Idea{{Description: long(5001)}}),
			Err: decidertest.ErrInvalid, Fields: []string{"areas", "info", "project_ideas"}},
	})
}
