package allocation

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// cohort builds a realistic large instance: supervisors with 6..16 slots
// (about 11 on average, so capacity slightly exceeds demand) and students who
// each rank 5 distinct supervisors drawn with a skew towards the popular
// ones, so the first choices clash as they do in practice.
func cohort(students, supervisors int) Input {
	rng := rand.New(rand.NewPCG(2026, 1))
	in := Input{}
	for j := range supervisors {
		in.Supervisors = append(in.Supervisors, Supervisor{ID: fmt.Sprintf("sup%03d", j), Remaining: 6 + rng.IntN(11)})
	}
	for i := range students {
		s := Student{ID: fmt.Sprintf("stu%04d", i)}
		seen := map[int]bool{}
		for len(s.Choices) < MaxChoices {
			j := int(float64(supervisors) * rng.Float64() * rng.Float64()) // popular first
			if !seen[j] {
				seen[j] = true
				s.Choices = append(s.Choices, in.Supervisors[j].ID)
			}
		}
		in.Students = append(in.Students, s)
	}
	return in
}

// BenchmarkAllocate1000x100 shows a whole cohort allocates in milliseconds,
// so the coordinator can compare objectives and seeds interactively.
func BenchmarkAllocate1000x100(b *testing.B) {
	base := cohort(1000, 100)
	for _, obj := range []Objective{Generous, Greedy, RankSum} {
		for _, outside := range []bool{false, true} {
			in := base
			in.Objective, in.AllowOutsideList = obj, outside
			name := string(obj)
			if outside {
				name += "/outside"
			}
			b.Run(name, func(b *testing.B) { benchAllocate(b, in) })
		}
	}
	// Every student examined by a supervisor (a bar): with outside placement,
	// each reaches the others by edges of their own instead of the hub.
	in := base
	in.Objective, in.AllowOutsideList = Generous, true
	for i, s := range in.Students {
		in.Bars = append(in.Bars, Bar{s.ID, in.Supervisors[(i*7)%len(in.Supervisors)].ID})
	}
	b.Run("generous/outside/bars", func(b *testing.B) { benchAllocate(b, in) })
}

func benchAllocate(b *testing.B, in Input) {
	var res Result
	for b.Loop() {
		res = mustAllocate(b, in)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	b.ReportMetric(float64(res.Profile.Unplaced), "unplaced")
}
