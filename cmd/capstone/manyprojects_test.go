package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/capstone-pms/capstone/projections"
)

// TestStudentWithManyProjects: a student who has made more projects than
// their overview document lists (the limit on open ones lifted, some
// withdrawn): the document stays at ListedProjects ids, and yet the
// student's own list pages through every project they have, in order, the
// overview shows them all, and a supervisor whose only tie to the student is
// a project past the listed ones sees the student.
func TestStudentWithManyProjects(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--max-open-projects", "0")
	admin := s.admin()
	sup := s.createUser(admin, "many-sup@uni.example", "Dr Many", []string{"supervisor"}, miniPassword)
	stu := s.createUser(admin, "many-stu@uni.example", "Many Projects", []string{"student"}, miniPassword)
	student, supervisor := s.signIn("many-stu@uni.example", miniPassword), s.signIn("many-sup@uni.example", miniPassword)
	rng := rand.New(rand.NewPCG(rand.Uint64(), 3))

	n := projections.ListedProjects + 5 + rng.IntN(20)
	submitted := projections.ListedProjects + rng.IntN(n-projections.ListedProjects)
	var ids []string
	for i := range n {
		body := map[string]string{"title": fmt.Sprint("Project ", i)}
		if i == submitted {
			body["supervisor_id"] = sup
		}
		ids = append(ids, s.expect(s.do("POST", "/v1/projects", student, body), 201).str("id"))
	}
	// One withdrawn among the listed ids and one past them; the later first,
	// so that the earlier's index still names the project it drew.
	for _, i := range []int{projections.ListedProjects + rng.IntN(n-projections.ListedProjects), rng.IntN(projections.ListedProjects)} {
		if i != submitted {
			s.expect(s.do("DELETE", "/v1/projects/"+ids[i], student, nil), 204)
			ids = slices.Delete(ids, i, i+1)
		}
	}

	var doc projections.StudentDoc
	if found, err := newReadModels(s).Get(t.Context(), projections.CollStudents, stu, &doc); err != nil || !found {
		t.Fatalf("the student's document: %v", err)
	}
	if len(doc.ProjectIDs) != projections.ListedProjects || !doc.MoreProjects {
		t.Fatalf("the student's document lists %d project ids (more: %v), want %d and more", len(doc.ProjectIDs), doc.MoreProjects, projections.ListedProjects)
	}
	if got := walkPages(t, s, student, "/v1/projects", "id", 1+rng.IntN(60)); !slices.Equal(got, ids) {
		t.Fatalf("the student's own list has %d projects, want the %d not withdrawn, in order", len(got), len(ids))
	}
	var shown []string
	for _, p := range s.expect(s.do("GET", "/v1/students/"+stu, admin, nil), 200).Body["projects"].([]any) {
		shown = append(shown, fmt.Sprint(p.(map[string]any)["id"]))
	}
	if !slices.Equal(shown, ids) {
		t.Fatalf("the overview shows %d projects, want the %d not withdrawn, in order", len(shown), len(ids))
	}
	seen := s.expect(s.do("GET", "/v1/students/"+stu, supervisor, nil), 200).Body["projects"].([]any)
	if len(seen) != 1 || seen[0].(map[string]any)["supervisor_id"] != sup {
		t.Fatalf("the supervisor sees %v, want the one project submitted to them", seen)
	}
}
