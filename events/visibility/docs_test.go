package visibility_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/events/visibility"
)

// docsTable returns the rows of the Markdown table whose header starts with
// header, each row's cells trimmed, keyed by its first cell.
func docsTable(t *testing.T, doc, header string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+header)
	if !ok {
		t.Fatalf("docs/visibility.md has no table starting %q", header)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(rest, "\n")[2:] { // past the header's end and the |---| line
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[0]] = cells[1:]
	}
	return rows
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/visibility.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsProjectTable checks every cell of the project table against the
// rule: the page and the code say the same.
func TestDocsProjectTable(t *testing.T) {
	rows := docsTable(t, readDoc(t), "| who | draft | submitted | accepted | rejected |")
	statuses := []string{events.StatusDraft, events.StatusSubmitted, events.StatusAccepted, events.StatusRejected}
	viewers := map[string]events.Actor{
		"a coordinator":                    coordinator,
		"the student who wrote it":         owner,
		"the supervisor it is proposed to": supervisor,
		"its examiner":                     examiner,
		"another supervisor":               otherSup,
		"another examiner":                 otherExam,
		"another student":                  otherStu,
	}
	if len(rows) != len(viewers) {
		t.Errorf("the table has %d rows, the test knows %d viewers", len(rows), len(viewers))
	}
	for who, v := range viewers {
		cells, ok := rows[who]
		if !ok || len(cells) != len(statuses) {
			t.Errorf("no row %q with %d cells: %q", who, len(statuses), cells)
			continue
		}
		for i, status := range statuses {
			if cells[i] == "—" {
				continue // a combination that cannot happen
			}
			if got := visibility.SeesProject(v, project(status)); cells[i] != yesNo(got) {
				t.Errorf("%s, %s: the page says %q, the rule %q", who, status, cells[i], yesNo(got))
			}
		}
	}
}

// TestDocsStudentTable checks every cell of the student record table
// against the rule, on a student placed with "sup", examined by "exa", with a
// proposal to "sup3".
func TestDocsStudentTable(t *testing.T) {
	rows := docsTable(t, readDoc(t), "| who | the record | projects | placement | grade | preferences |")
	student := visibility.Student{ID: "stu", SupervisorID: "sup", ExaminerID: "exa", Projects: []visibility.Project{
		{OwnerID: "stu", SupervisorID: "sup3", Status: events.StatusSubmitted},
		{OwnerID: "stu", Status: events.StatusDraft},
	}}
	viewers := map[string]events.Actor{
		"the student":                         owner,
		"a coordinator":                       coordinator,
		"the supervisor they are placed with": supervisor,
		"their examiner":                      examiner,
		"a supervisor they proposed to":       {UserID: "sup3", Roles: []string{events.RoleSupervisor}},
		"anyone else":                         otherSup,
	}
	if len(rows) != len(viewers) {
		t.Errorf("the table has %d rows, the test knows %d viewers", len(rows), len(viewers))
	}
	for who, v := range viewers {
		cells, ok := rows[who]
		if !ok || len(cells) != 5 {
			t.Errorf("no row %q with 5 cells: %q", who, cells)
			continue
		}
		view := visibility.SeesStudent(v, student)
		projects := "no"
		if view.Record {
			projects = "those the viewer may see"
			if visibility.SeesAll(v) || v.UserID == student.ID {
				projects = "all"
			}
			for _, p := range student.Projects { // "all" must mean every one
				if projects == "all" && !visibility.SeesProject(v, p) {
					t.Errorf("%s: the page says all projects, the rule hides %+v", who, p)
				}
			}
		}
		want := []string{yesNo(view.Record), projects, yesNo(view.Placement), yesNo(view.Grade), yesNo(view.Preferences)}
		for i := range want {
			if cells[i] != want[i] {
				t.Errorf("%s, column %d: the page says %q, the rule %q", who, i+1, cells[i], want[i])
			}
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// TestDocsMarksTable checks every cell of the marks table against the rule:
// "yes" where a part is shown whatever marks are in, "once both marks are
// in" where it is shown exactly when both are, "no" where it never is.
func TestDocsMarksTable(t *testing.T) {
	rows := docsTable(t, readDoc(t), "| who | the supervisor's mark | the examiner's mark | the state and the outcome | what was released | a mark set aside |")
	viewers := map[string]events.Actor{
		"a coordinator":            coordinator,
		"the project's supervisor": supervisor,
		"its examiner":             examiner,
		"the student who wrote it": owner,
		"anyone else":              otherSup,
	}
	if len(rows) != len(viewers) {
		t.Errorf("the table has %d rows, the test knows %d viewers", len(rows), len(viewers))
	}
	states := []visibility.Marks{{}, {SupervisorIn: true}, {ExaminerIn: true}, {SupervisorIn: true, ExaminerIn: true}}
	for who, v := range viewers {
		cells, ok := rows[who]
		parts := []func(visibility.MarkView) bool{
			func(m visibility.MarkView) bool { return m.Supervisor },
			func(m visibility.MarkView) bool { return m.Examiner },
			func(m visibility.MarkView) bool { return m.Outcome },
			func(m visibility.MarkView) bool { return m.Released },
			func(m visibility.MarkView) bool { return m.SetAside },
		}
		if !ok || len(cells) != len(parts) {
			t.Errorf("no row %q with %d cells: %q", who, len(parts), cells)
			continue
		}
		for i, part := range parts {
			var shown []bool
			for _, m := range states {
				shown = append(shown, part(visibility.SeesMarks(v, project(events.StatusAccepted), m)))
			}
			want := "sometimes, as no phrase of the page says"
			switch {
			case !slices.Contains(shown, false):
				want = "yes"
			case !slices.Contains(shown, true):
				want = "no"
			case !shown[0] && !shown[1] && !shown[2] && shown[3]:
				want = "once both marks are in"
			}
			if cells[i] != want {
				t.Errorf("%s, column %d: the page says %q, the rule %q", who, i+1, cells[i], want)
			}
		}
	}
}
