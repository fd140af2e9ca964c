package cohort_test

import (
	"testing"

	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/events"
)

func TestDecideOpenProjects(t *testing.T) {
	taken := func(ids ...string) []events.Data {
		var out []events.Data
		for _, id := range ids {
			out = append(out, &events.ProjectSlotTaken{ProjectID: id})
		}
		return out
	}
	two := taken("p1", "p2")
	decidertest.Run(t, cohort.OpenProjectsDecider, cohort.OpenProjectsStreamID("s1"), []decidertest.Case[cohort.OpenProjectsCommand]{
		{Name: "take", When: cohort.TakeProjectSlot{ProjectID: "p1", Max: 2}, Then: taken("p1")},
		{Name: "take the last", Given: taken("p1"), When: cohort.TakeProjectSlot{ProjectID: "p2", Max: 2}, Then: taken("p2")},
		{Name: "past the limit", Given: two, When: cohort.TakeProjectSlot{ProjectID: "p3", Max: 2}, Err: cohort.ErrTooManyOpenProjects},
		{Name: "a lowered limit", Given: two, When: cohort.TakeProjectSlot{ProjectID: "p3", Max: 1}, Err: cohort.ErrTooManyOpenProjects},
		{Name: "a retried creation takes nothing more", Given: two, When: cohort.TakeProjectSlot{ProjectID: "p2", Max: 2}},
		{Name: "no limit", Given: two, When: cohort.TakeProjectSlot{ProjectID: "p3"}, Then: taken("p3")},
		{Name: "free", Given: two, When: cohort.FreeProjectSlot{ProjectID: "p1", Reason: "project withdrawn"},
			Then: []events.Data{&events.ProjectSlotFreed{ProjectID: "p1", Reason: "project withdrawn"}}},
		{Name: "free what is not counted", Given: two, When: cohort.FreeProjectSlot{ProjectID: "p9"}},
		{Name: "room again after a free", Given: append(two, &events.ProjectSlotFreed{ProjectID: "p1"}),
			When: cohort.TakeProjectSlot{ProjectID: "p3", Max: 2}, Then: taken("p3")},
	})
}
