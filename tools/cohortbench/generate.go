// Package cohortbench generates a cohort (by default 5,000 students, 400
// supervisors, 5 choices each), imports it into a running service through
// its API, allocates, and measures each step: the bulk work that grows
// with a cohort. It is a client of the service, as tools/loadgen is, behind
// capstone bench-cohort.
package cohortbench

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
)

// Size is the shape of a generated cohort.
type Size struct {
	Students, Supervisors, Choices int
	Seed                           uint64
}

// Files are a generated cohort's CSV files, in the import formats
// (docs/imports.md), in the order they are imported.
type Files struct {
	Size                               Size
	Supervisors, Students, Preferences []byte
	// Slots is the supervisors' capacity in all.
	Slots int
}

// Generate writes a cohort of the given size, the same for the same
// seed. Supervisors have 9 to 16 slots (about as many in all as students
// for 400 supervisors and 5,000 students), and students rank them with a
// skew towards the first ones, as real cohorts do: popular supervisors are
// oversubscribed, and some students are not placed among their choices.
func Generate(n Size) Files {
	rng := rand.New(rand.NewPCG(n.Seed, n.Seed^0x9e3779b97f4a7c15))
	out := Files{Size: n}
	sup := func(j int) string { return fmt.Sprintf("gsup%04d@cohort.example.ac.uk", j+1) }
	out.Supervisors = cohortCSV([]string{"Supervisor Code", "Name", "Position", "Department", "QM Email", "Username", "Slots"}, n.Supervisors, func(j int) []string {
		slots := 9 + rng.IntN(8)
		out.Slots += slots
		return []string{fmt.Sprintf("GSV%05d", j+1), fmt.Sprintf("Dr Supervisor %d", j+1), "Lecturer", "EECS", sup(j), "", fmt.Sprint(slots)}
	})
	student := func(i int) string { return fmt.Sprintf("gst%05d@cohort.example.ac.uk", i+1) }
	out.Students = cohortCSV([]string{"Student Code", "Name", "Enrolment Status", "Programme", "Route", "Start Date", "QM Email", "Username"}, n.Students, func(i int) []string {
		return []string{fmt.Sprintf("GST%06d", i+1), fmt.Sprintf("Student %d", i+1), "Enrolled", "MSc Computer Science", "Full-time", "2026-09-21", student(i), ""}
	})
	header := []string{"Student Email"}
	for c := range choiceColumns {
		header = append(header, fmt.Sprintf("Choice %d", c+1))
	}
	choices := min(n.Choices, n.Supervisors)
	out.Preferences = cohortCSV(header, n.Students, func(i int) []string {
		row := []string{student(i)}
		picked := map[int]bool{}
		for len(picked) < choices {
			// The square of a uniform draw: the first supervisors are ranked
			// far more often than the last.
			u := rng.Float64()
			j := int(u * u * float64(n.Supervisors))
			if !picked[j] {
				picked[j] = true
				row = append(row, sup(j))
			}
		}
		for len(row) < len(header) {
			row = append(row, "")
		}
		return row
	})
	return out
}

// choiceColumns are a preferences file's Choice columns: the import
// refuses a header without every one, so a cohort ranking fewer
// supervisors leaves the last ones blank.
const choiceColumns = 5

func cohortCSV(header []string, n int, row func(i int) []string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(header)
	for i := range n {
		_ = w.Write(row(i))
	}
	w.Flush()
	return b.Bytes()
}
