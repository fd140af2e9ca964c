package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/csvio"
)

//go:embed demo/*.csv
var demoFiles embed.FS

// DemoSignIns are the documented sign-ins of the demo cohort (README).
var DemoSignIns = []struct{ Role, Email, Password string }{
	{"coordinator", "coordinator@demo.example", "demo-coordinator-password"},
	{"supervisor", "sup001@qmul.example.ac.uk", "demo-supervisor-password"},
	{"examiner", "ex001@qmul.example.ac.uk", "demo-examiner-password"},
	{"student", "s0001@qmul.example.ac.uk", "demo-student-password"},
}

// loadDemo imports the demo cohort (40 supervisors, 20 examiners, 200
// students and their rankings) and gives one user of each role a known
// password. It is idempotent: a restart with --demo changes nothing.
func (a *App) loadDemo(ctx context.Context) error {
	meta := commands.Meta{Actor: events.SystemActor, CorrelationID: "demo"}
	for _, f := range []struct {
		kind csvio.Kind
		file string
	}{{csvio.KindSupervisors, "supervisors.csv"}, {csvio.KindExaminers, "examiners.csv"}, {csvio.KindStudents, "students.csv"}, {csvio.KindPreferences, "preferences.csv"}} {
		raw, err := demoFiles.ReadFile("demo/" + f.file)
		if err != nil {
			return err
		}
		parsed, err := csvio.Parse(f.kind, bytes.NewReader(raw), csvio.Limits{})
		if err != nil {
			return fmt.Errorf("demo %s: %w", f.file, err)
		}
		rep, err := a.Importer(false).Run(ctx, meta, parsed.Batch(), nil)
		if err != nil {
			return fmt.Errorf("demo %s: %w", f.file, err)
		}
		if len(rep.Errors) > 0 || len(parsed.Errors) > 0 {
			return fmt.Errorf("demo %s: %d bad rows", f.file, len(rep.Errors)+len(parsed.Errors))
		}
	}
	if _, err := a.Users.FindByEmail(ctx, DemoSignIns[0].Email); err != nil {
		_, err = a.Users.Create(ctx, meta, user.Create{Email: DemoSignIns[0].Email, Name: "Demo Coordinator",
			Roles: []string{events.RoleCoordinator}}, "")
		if err != nil && !errors.Is(err, user.ErrEmailTaken) {
			return fmt.Errorf("demo coordinator: %w", err)
		}
	}
	for _, d := range DemoSignIns {
		u, err := a.Users.FindByEmail(ctx, d.Email)
		if err != nil {
			return fmt.Errorf("demo user %s: %w", d.Email, err)
		}
		if _, err := a.Users.SignIn(ctx, d.Email, d.Password); err == nil {
			continue
		}
		if _, err := a.Users.SetPassword(ctx, meta, u.State.ID, d.Password); err != nil {
			return fmt.Errorf("demo user %s: %w", d.Email, err)
		}
	}
	a.log.Info("demo cohort loaded", "sign_ins", len(DemoSignIns))
	return nil
}
