package main

import (
	"fmt"
	"testing"
)

// TestProjectInfo: a student's project info is their own draft, written
// with PUT (created, then edited in place) and read back by them and
// coordinators only; proposed to a supervisor it becomes a proposal, and
// the next write starts a new project info.
func TestProjectInfo(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 2, 2)
	st, other, sup := c.students[0], c.students[1], c.supervisors[0]
	path := "/v1/students/" + st + "/project-info"
	s.expect(s.do("GET", path, c.tokens[st], nil), 404, "not-found")
	first := s.expect(s.do("PUT", path, c.tokens[st], map[string]any{"title": "Robots", "description": "Small ones"}), 200)
	if first.str("status") != "draft" || first.str("student_id") != st || first.str("supervisor_id") != "" {
		t.Fatalf("the project info: %s", first.Raw)
	}
	edited := s.expect(s.do("PUT", path, c.tokens[st], map[string]any{"title": "Robots", "description": "Smaller ones"}), 200)
	if edited.str("id") != first.str("id") || edited.num("version") != first.num("version")+1 {
		t.Fatalf("a second write is not an edit of the same draft: %s then %s", first.Raw, edited.Raw)
	}
	for who, tok := range map[string]string{"the student": c.tokens[st], "a coordinator": admin} {
		if got := s.expect(s.do("GET", path, tok, nil), 200); got.str("description") != "Smaller ones" || got.str("id") != first.str("id") {
			t.Errorf("%s reads %s", who, got.Raw)
		}
	}
	for who, tok := range map[string]string{"another student": c.tokens[other], "a supervisor": c.tokens[sup]} {
		s.expect(s.do("GET", path, tok, nil), 404, "not-found")
		if r := s.do("PUT", path, tok, map[string]any{"title": "Mine now"}); r.Status != 403 {
			t.Errorf("%s writes another's project info: %d %s", who, r.Status, r.Raw)
		}
	}
	s.expect(s.do("PUT", path, c.tokens[st], map[string]any{"title": ""}), 400, "invalid")
	s.expect(s.do("PUT", path, c.tokens[st], map[string]any{"title": "x", "aim": "not a field here"}), 400, "invalid")
	// Its history is a project's.
	hist := s.expect(s.do("GET", "/v1/projects/"+first.str("id")+"/history", c.tokens[st], nil), 200).items()
	if len(hist) != 2 || hist[0]["type"] != "ProjectCreated" || hist[1]["type"] != "ProjectEdited" {
		t.Errorf("history: %v", hist)
	}

	// Proposed, it is a proposal: no project info until the next write.
	s.expect(s.do("POST", "/v1/projects/"+first.str("id")+"/submit", c.tokens[st], map[string]any{"supervisor_id": sup}), 200)
	s.expect(s.do("GET", path, c.tokens[st], nil), 404, "not-found")
	next := s.expect(s.do("PUT", path, c.tokens[st], map[string]any{"title": "Drones"}), 200)
	if next.str("id") == first.str("id") || next.str("status") != "draft" {
		t.Fatalf("after the proposal, a write is not a new draft: %s", next.Raw)
	}
	if got := s.expect(s.do("GET", path, c.tokens[st], nil), 200); got.str("id") != next.str("id") {
		t.Errorf("the project info now: %s", got.Raw)
	}
	// Both are among the student's projects.
	if ps := s.expect(s.do("GET", "/v1/students/"+st, c.tokens[st], nil), 200).Body["projects"].([]any); len(ps) != 2 {
		t.Errorf("the student's projects: %v", ps)
	}
}

// TestProjectInfoCountsAsAProject: a project info is one of the student's
// open projects, so it is created under the same limit as any other: past
// the limit it is refused and nothing is stored, and writing it again edits
// it without taking another place.
func TestProjectInfoCountsAsAProject(t *testing.T) {
	s := startServiceWith(t, t.TempDir(), &syncBuffer{}, "--max-open-projects", "2")
	admin := s.admin()
	id := s.createUser(admin, "limited@uni.example", "Limited", []string{"student"}, "a limited student")
	tok := s.signIn("limited@uni.example", "a limited student")
	path := "/v1/students/" + id + "/project-info"
	s.expect(s.do("PUT", path, tok, map[string]string{"title": "Mine"}), 200)
	s.expect(s.do("PUT", path, tok, map[string]string{"title": "Mine, again"}), 200)
	s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Second"}), 201)
	s.expect(s.do("POST", "/v1/projects", tok, map[string]string{"title": "Third"}), 409, "too-many-open-projects")
	// Proposed, the project info leaves the draft stage; a new one is a third project.
	info := s.expect(s.do("GET", path, tok, nil), 200)
	sup := s.createUser(admin, "limit-sup@uni.example", "Sup", []string{"supervisor"}, "")
	s.expect(s.do("POST", "/v1/projects/"+info.str("id")+"/submit", tok, map[string]string{"supervisor_id": sup}), 200)
	s.expect(s.do("PUT", path, tok, map[string]string{"title": "A new one"}), 409, "too-many-open-projects")
	s.expect(s.do("GET", path, tok, nil), 404, "not-found")
}

// TestProjectInfoIfMatch: a write of the project info honours If-Match, as
// every write of a resource with a version does. Over a random run of
// writes, each sent with the version held, a stale or future one, a
// malformed one or none: the current version (or none) writes, another is
// 412 precondition-failed and a malformed one 400 invalid-if-match, and
// neither changes what is stored; with no project info yet (none written,
// or the last one proposed since), a version expected is 412 and none is
// created. The header used to be ignored, so a stale tab's write silently
// replaced the newer words.
func TestProjectInfoIfMatch(t *testing.T) {
	rng := seeded(t, 41)
	s := startService(t)
	admin := s.admin()
	c := newMiniCohort(t, s, admin, 1, 1, 1)
	st, sup := c.students[0], c.supervisors[0]
	tok := c.tokens[st]
	path := "/v1/students/" + st + "/project-info"
	current := func() (string, int64, string) { // id, version, title; "" when none
		r := s.do("GET", path, tok, nil)
		if r.Status == 404 {
			return "", 0, ""
		}
		s.expect(r, 200)
		return r.str("id"), r.num("version"), r.str("title")
	}
	for i := range 40 {
		id, version, title := current()
		if id != "" && rng.IntN(8) == 0 { // proposed: no project info until the next write
			s.expect(s.do("POST", "/v1/projects/"+id+"/submit", tok, map[string]string{"supervisor_id": sup}), 200)
			id, version, title = current()
		}
		want := fmt.Sprintf("Title %d", i)
		var header []string
		status, code := 200, ""
		switch rng.IntN(5) {
		case 0: // none
		case 1: // the version held
			header = []string{"If-Match", fmt.Sprintf(`"%d"`, version)}
			if id == "" {
				status, code = 412, "precondition-failed"
			}
		case 2: // a stale or future one
			other := version + 1 + int64(rng.IntN(3))
			if version > 1 && rng.IntN(2) == 0 {
				other = 1 + int64(rng.IntN(int(version-1)))
			}
			header = []string{"If-Match", fmt.Sprintf(`"%d"`, other)}
			status, code = 412, "precondition-failed"
		case 3: // malformed
			header = []string{"If-Match", []string{"yesterday", `"-1"`, `"1.5"`, `"x"`}[rng.IntN(4)]}
			status, code = 400, "invalid-if-match"
		case 4: // weak, as a browser may send it back
			header = []string{"If-Match", fmt.Sprintf(`W/"%d"`, version)}
			if id == "" {
				status, code = 412, "precondition-failed"
			}
		}
		r := s.do("PUT", path, tok, map[string]string{"title": want, "description": "Words"}, header...)
		if code != "" {
			s.expect(r, status, code)
			if gotID, gotVersion, gotTitle := current(); gotID != id || gotVersion != version || gotTitle != title {
				t.Fatalf("write %d with %q refused, but the project info moved from %s v%d %q to %s v%d %q",
					i, header, id, version, title, gotID, gotVersion, gotTitle)
			}
			continue
		}
		s.expect(r, 200)
		if r.str("title") != want {
			t.Fatalf("write %d with %q: %s", i, header, r.Raw)
		}
	}
}
