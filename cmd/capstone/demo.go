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
	imongo "github.com/capstone-pms/capstone/infra/mongo"
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

// The demo's mark in the settings collection: "loading" while the cohort is
// being imported, "loaded" once it is all there.
const (
	demoSetting = "demo"
	demoLoading = "loading"
	demoLoaded  = "loaded"
)

// demoWanted reports whether --demo should load the cohort: only into a store
// that holds no event yet (asked before the bootstrap coordinator is created),
// or to finish a load that was interrupted. A store in use is left alone: the
// demo's documented passwords must not reset what its users have changed.
func (a *App) demoWanted(ctx context.Context) (bool, error) {
	mark, found, err := imongo.NewSettings(a.store.DB).State(ctx, demoSetting)
	switch {
	case err != nil:
		return false, fmt.Errorf("demo: %w", err)
	case found && mark == demoLoading:
		return true, nil
	case found:
		a.log.Info("the demo cohort was loaded before: left as it is (it is loaded only into an empty store)")
		return false, nil
	}
	empty, err := imongo.NewEventStore(a.store.DB, a.Registry).Empty(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	if !empty {
		a.log.Info("the store already holds data: the demo cohort is not loaded (it is loaded only into an empty store)")
		return false, nil
	}
	return true, a.markDemo(ctx, demoLoading)
}

func (a *App) markDemo(ctx context.Context, state string) error {
	if err := imongo.NewSettings(a.store.DB).SetState(ctx, demoSetting, state); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// loadDemo imports the demo cohort (40 supervisors, 20 examiners, 200
// students and their rankings), gives one user of each role a known
// password, and places a few students through projects at every state of
// the marking (demoProjects). It runs only when demoWanted says so; it is
// idempotent, so a load interrupted half-way is finished by the next start.
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
	if err := a.demoMarking(ctx, meta); err != nil {
		return err
	}
	if err := a.markDemo(ctx, demoLoaded); err != nil {
		return err
	}
	a.log.Info("demo cohort loaded", "sign_ins", len(DemoSignIns), "projects", len(demoProjects))
	return nil
}
