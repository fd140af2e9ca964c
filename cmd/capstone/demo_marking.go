package main

import (
	"context"
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
)

// demoProject is one project of the demo, proposed by a student, accepted
// by a supervisor and examined by the documented examiner, and marked as
// far as one state of the marking.
type demoProject struct {
	student, supervisor, title string
	supMark, examMark          int // -1: not marked
	moderated, graded          int // -1: none
	release                    bool
}

// demoProjects cover every state of the marking, most of them marked by the
// documented supervisor (sup001) and all by the documented examiner (ex001),
// so that each sign-in shows them: the documented student (s0001) has a
// released mark.
var demoProjects = []demoProject{
	{"s0001", "sup001", "Explaining anomalies in network logs", 68, 72, -1, -1, true},    // released
	{"s0002", "sup001", "A type checker for a teaching language", -1, -1, -1, -1, false}, // to mark
	{"s0003", "sup001", "Energy-aware scheduling on small clusters", 61, -1, -1, -1, false},
	{"s0004", "sup001", "Privacy-preserving contact tracing", -1, 55, -1, -1, false},
	{"s0005", "sup001", "Sign language recognition on a phone", 45, 78, -1, -1, false}, // moderation
	{"s0006", "sup002", "Fair ranking for job search", 63, 67, -1, -1, false},          // agreed
	{"s0007", "sup002", "Verifying a consensus protocol", 40, 70, 58, -1, false},       // moderated
	{"s0008", "sup002", "Accessible maps for wheelchair users", -1, -1, -1, 74, false}, // the coordinator's grade
}

// demoEpoch is the time part of the demo's project ids.
var demoEpoch = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// demoID is a UUIDv7 for a demo record that is the same every time the demo
// is loaded, so a load interrupted half-way creates nothing twice: its time
// is the demo's epoch plus i milliseconds (ids keep their order), its other
// bits come from name.
func demoID(i int, name string) string {
	var u uuid.UUID
	sum := sha1.Sum([]byte("capstone demo " + name))
	copy(u[:], sum[:16])
	ms := uint64(demoEpoch.UnixMilli()) + uint64(i)
	for k := range 6 { // 48 bits of milliseconds, big-endian
		u[k] = byte(ms >> (40 - 8*k))
	}
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// demoMarking gives the demo its projects, each marked as demoProjects
// says. Every step is an ordinary command (retried, it changes nothing).
func (a *App) demoMarking(ctx context.Context, meta commands.Meta) error {
	actor := func(handle string) (events.Actor, error) {
		email := handle + "@qmul.example.ac.uk"
		u, err := a.Users.FindByEmail(ctx, email)
		if err != nil {
			return events.Actor{}, fmt.Errorf("demo user %s: %w", email, err)
		}
		return events.Actor{UserID: u.State.ID, Roles: u.State.Roles}, nil
	}
	examiner, err := actor("ex001")
	if err != nil {
		return err
	}
	as := func(who events.Actor) commands.Meta { m := meta; m.Actor = who; return m }
	for i, d := range demoProjects {
		student, err := actor(d.student)
		if err != nil {
			return err
		}
		sup, err := actor(d.supervisor)
		if err != nil {
			return err
		}
		m := as(student)
		m.NewID = demoID(i, d.student)
		res, err := a.Cohort.CreateProject(ctx, m, project.Create{OwnerID: student.UserID, Fields: project.Fields{Title: d.title,
			Description: "A demo project.", Aim: "Show the marking.", Rationale: "Every state has one."}}, sup.UserID)
		if err != nil {
			return fmt.Errorf("demo project of %s: %w", d.student, err)
		}
		id := res.State.ID
		if _, err := a.Cohort.Decide(ctx, as(sup), id, commands.AnyVersion, true, "Accepted for the demo."); err != nil {
			return fmt.Errorf("demo project of %s: %w", d.student, err)
		}
		if _, err := a.Cohort.AssignExaminer(ctx, meta, student.UserID, examiner.UserID, id); err != nil {
			return fmt.Errorf("demo project of %s: %w", d.student, err)
		}
		steps := []struct {
			skip bool
			run  func() error
		}{
			{d.supMark < 0, func() error {
				_, err := a.Cohort.SubmitMark(ctx, as(sup), id, commands.AnyVersion, d.supMark, "The supervisor's feedback on "+d.title+".")
				return err
			}},
			{d.examMark < 0, func() error {
				_, err := a.Cohort.SubmitMark(ctx, as(examiner), id, commands.AnyVersion, d.examMark, "The examiner's feedback on "+d.title+".")
				return err
			}},
			{d.moderated < 0, func() error {
				_, err := a.Cohort.Moderate(ctx, meta, id, commands.AnyVersion, d.moderated, "Read by a third marker.")
				return err
			}},
			{d.graded < 0, func() error {
				_, err := a.Cohort.Grade(ctx, meta, student.UserID, id, d.graded, "", "Marked by the department.")
				return err
			}},
			{!d.release, func() error { _, err := a.Cohort.ReleaseMarks(ctx, meta, []string{id}); return err }},
		}
		for _, st := range steps {
			if st.skip {
				continue
			}
			if err := st.run(); err != nil {
				return fmt.Errorf("demo marking of %s: %w", d.student, err)
			}
		}
	}
	return nil
}
