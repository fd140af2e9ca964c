// Package imports applies a cohort file (students, supervisors, examiners,
// assignments, grades, preferences) row by row through the ordinary use
// cases, so every rule holds as it would for a request. Rows are keyed by
// e-mail, and a row that changes nothing stores nothing: importing the same
// file twice changes nothing the second time. A bad row is reported with its
// line and does not stop the good ones.
package imports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/memlimit"
)

// Kinds of file (the import routes in api/openapi.json), and the role each kind of person gets.
const (
	Students              = "students"
	Supervisors           = "supervisors"
	Examiners             = "examiners"
	SupervisorAssignments = "supervisor-assignments"
	ExaminerAssignments   = "examiner-assignments"
	FinalGrades           = "final-grades"
	Preferences           = "preferences"
)

var roleOf = map[string]string{Students: events.RoleStudent, Supervisors: events.RoleSupervisor, Examiners: events.RoleExaminer}

// Person is a row of a students, supervisors or examiners file.
type Person struct {
	Line    int
	Email   string
	Name    string
	Profile events.Profile
	Slots   *int // supervisors only
	// Password is the file's Password cell, used only by an importer that
	// sets passwords (Importer.Passwords); empty: none.
	Password string
}

// Pair is a row of an assignments file: a student and a member of staff.
type Pair struct {
	Line                     int
	StudentEmail, StaffEmail string
}

// Grade is a row of a final-grades file: a mark, or a grade in words
// (Label, with Grade 0).
type Grade struct {
	Line         int
	StudentEmail string
	Grade        int
	Label        string
	Feedback     string
}

// Preference is a row of a preferences file.
type Preference struct {
	Line         int
	StudentEmail string
	Choices      []string // supervisor e-mails, best first
}

// Batch is a parsed file.
type Batch struct {
	Kind string
	// Roles are the roles each person of the file holds; nil: the kind's
	// one (a supervisors file makes supervisors).
	Roles       []string
	People      []Person
	Pairs       []Pair
	Grades      []Grade
	Preferences []Preference
}

// RowError reports a row that was not applied.
type RowError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Report is the outcome of an import (ImportReport in api/openapi.json).
type Report struct {
	Rows      int        `json:"rows"`
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Errors    []RowError `json:"errors"`
	DryRun    bool       `json:"dry_run"`
	// RolesAdded are the existing users the file gave a role they did not
	// have: an import that names someone already known changes what they may
	// do, and says so (in a dry run too).
	RolesAdded []RoleAdded `json:"roles_added"`
}

// RoleAdded is a role an import gave an existing user.
type RoleAdded struct {
	Line   int    `json:"line"`
	Email  string `json:"email"`
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

// ErrCoordinatorAccount refuses a row that would change a coordinator's
// account: an import must never rename a coordinator or change their roles
// (the one account that administers everything), so that a students file
// that happens to hold a coordinator's e-mail cannot touch it.
var ErrCoordinatorAccount = &commands.Error{Kind: commands.KindRule, Code: "coordinator-account",
	Message: "the e-mail is a coordinator's: an import never changes a coordinator's account; give them the role by hand if it is meant"}

// Importer applies batches.
type Importer struct {
	Users  *user.Service
	Cohort *cohort.Service
	// Passwords sets the passwords of a people file (its Password column)
	// for the users who have none yet: new users, and those imported
	// before without one. A user who has a password keeps it, so that
	// importing the file again never undoes a password its holder chose.
	// Off, the column is ignored and imported users have no password until
	// one is set through a one-time token.
	Passwords bool
	// ReleaseGrades releases each grade of a final-grades file to its
	// student at once, all of the file as one release (the original
	// system's upload did: it knew no release). Off, they wait for the
	// coordinator's release.
	ReleaseGrades bool
}

type outcome int

const (
	unchanged outcome = iota
	updated
	created
)

// rowsAtOnce bounds the rows of a file applied at once. The rows of a
// people or preferences file are independent (a file names a person once),
// and rows applied together store together: the event store and the outbox
// write the commits of concurrent commands in one insert each, so a
// cohort's file costs a few writes per hundred rows instead of several per
// row (and the rows that set a password hash theirs side by side). The
// all-in-one service keeps 512 commits in flight (two a new person's row):
// 256 rows at once fill the pipeline where 64 left the store idle between
// small writes.
const rowsAtOnce = 256

// chunkRows is how many rows of a people file are applied before their
// capacities are set, all in one commit on the cohort stream.
const chunkRows = cohort.MaxCapacitiesAtOnce

// Run applies every row of b: in file order, but those of a people file
// several at a time. progress, when set, is told how many rows are done.
// Errors of the store (not of a row) stop the import.
func (im *Importer) Run(ctx context.Context, meta commands.Meta, b Batch, progress func(done int)) (Report, error) {
	rep := Report{RolesAdded: []RoleAdded{}}
	// The file's rows, hundreds in flight, leave room for the requests
	// that come meanwhile (commands.Bulk).
	ctx = commands.Bulk(ctx)
	// A stream the file appends to again and again (the cohort's, a
	// commit of capacities each hundred rows) is snapshotted once, at the end.
	ctx, saveSnapshots := commands.DeferSnapshots(ctx)
	defer saveSnapshots(context.WithoutCancel(ctx))
	// A file's rows allocate fast and keep little: the process collects
	// less often meanwhile, if it is tuned to (memlimit.TuneGC).
	defer memlimit.Busy()()
	apply := func(line int, run func() (outcome, error)) error {
		o, err := run()
		return rep.count(ctx, line, o, err, progress)
	}
	var err error
	switch b.Kind {
	case Students, Supervisors, Examiners:
		roles := b.Roles
		if roles == nil {
			roles = []string{roleOf[b.Kind]}
		}
		err = im.people(ctx, meta, roles, b.People, &rep, progress)
	case SupervisorAssignments, ExaminerAssignments:
		// The file checks each person it names once, not once per row.
		once := im.Cohort.RoleOnce()
		for _, p := range b.Pairs {
			if err = apply(p.Line, func() (outcome, error) { return im.pair(ctx, meta, once, b.Kind, p) }); err != nil {
				break
			}
		}
	case FinalGrades:
		release := ""
		if im.ReleaseGrades {
			release = uuid.Must(uuid.NewV7()).String()
		}
		once := im.Cohort.RoleOnce()
		for _, g := range b.Grades {
			if err = apply(g.Line, func() (outcome, error) { return im.grade(ctx, meta, once, g, release) }); err != nil {
				break
			}
		}
	case Preferences:
		err = im.preferences(ctx, meta, b.Preferences, &rep, progress)
	default:
		return rep, fmt.Errorf("unknown kind %q", b.Kind)
	}
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Line < rep.Errors[j].Line })
	sort.SliceStable(rep.RolesAdded, func(i, j int) bool { return rep.RolesAdded[i].Line < rep.RolesAdded[j].Line })
	return rep, err
}

// people applies the rows of a people file: their users are created or
// updated rowsAtOnce at a time, and each chunk's supervisors' capacities
// are set together (SetCapacities) once its rows are done, while the rows
// of the chunks after it go on. A row is counted once both its parts are
// decided.
func (im *Importer) people(ctx context.Context, meta commands.Meta, roles []string, people []Person, rep *Report, progress func(done int)) error {
	var mu sync.Mutex
	userIDs := make([]string, len(people))
	guess := new(newStreams)
	rows := applyRows(ctx, people, func(ctx context.Context, i int, p Person) (outcome, int, error) {
		added := func(userID, role string) {
			mu.Lock()
			rep.RolesAdded = append(rep.RolesAdded, RoleAdded{Line: p.Line, Email: p.Email, UserID: userID, Role: role})
			mu.Unlock()
		}
		o, id, err := im.person(ctx, meta, roles, p, guess, added)
		userIDs[i] = id
		return o, p.Line, err
	})
	defer rows.stop()
	return rows.chunks(func(first, last int, outcomes []outcome, refused []error) error {
		chunk := people[first:last]
		if err := im.capacities(ctx, meta, chunk, userIDs[first:last], outcomes, refused); err != nil {
			return err
		}
		for i, p := range chunk {
			if err := rep.count(ctx, p.Line, outcomes[i], refused[i], progress); err != nil {
				return err
			}
		}
		return nil
	})
}

// appliedRows are the rows of a file being applied (applyRows).
type appliedRows struct {
	outcomes []outcome
	refused  []error
	// done[k] is closed once the rows before (k+1)*chunkRows are all
	// applied, or the import stopped (err).
	done []chan struct{}
	mu   sync.Mutex
	// left counts each chunk's rows not yet applied; whole, the chunks
	// whose rows and those before are all applied; err, the first error
	// that is not a row's refusal, stops the rest.
	left   []int
	whole  int
	err    error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// applyRows applies every row of a file, rowsAtOnce at a time, from the
// first to the last without waiting between chunks: rows applied together
// store together (see rowsAtOnce), so a pause at each chunk's end, with
// fewer and fewer rows in flight, would make a file's writes smaller and
// more numerous. An error that is not a row's refusal (the store's,
// reported with the row's line) stops the rows not yet begun.
func applyRows[R any](ctx context.Context, rows []R, apply func(ctx context.Context, i int, row R) (outcome, int, error)) *appliedRows {
	ctx, cancel := context.WithCancel(ctx)
	chunks := (len(rows) + chunkRows - 1) / chunkRows
	a := &appliedRows{outcomes: make([]outcome, len(rows)), refused: make([]error, len(rows)),
		done: make([]chan struct{}, chunks), left: make([]int, chunks), cancel: cancel}
	for k := range a.done {
		a.done[k] = make(chan struct{})
		a.left[k] = min(chunkRows, len(rows)-k*chunkRows)
	}
	stopped := func(err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.err == nil {
			a.err = err
			cancel()
			for k := a.whole; k < chunks; k++ {
				close(a.done[k])
			}
		}
	}
	// rowsAtOnce workers take the rows in file order, each one after the
	// other: a goroutine a row grew a new stack for each (a row's command
	// goes deep into the store's driver), 4% of a students file's CPU in
	// profiles, 1.7% with the workers.
	var next atomic.Int64
	for range min(rowsAtOnce, len(rows)) {
		a.wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rows) {
					return
				}
				if ctx.Err() != nil {
					stopped(ctx.Err())
					return
				}
				o, line, err := apply(ctx, i, rows[i])
				if _, isRefusal := commands.AsError(err); err != nil && !isRefusal {
					stopped(fmt.Errorf("line %d: %w", line, err))
					continue
				}
				a.applied(i, o, err)
			}
		})
	}
	return a
}

// applied records row i's outcome or refusal, and marks its chunk whole
// once that chunk's rows and those before are all applied.
func (a *appliedRows) applied(i int, o outcome, refused error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outcomes[i], a.refused[i] = o, refused
	if a.left[i/chunkRows]--; a.err == nil {
		for ; a.whole < len(a.done) && a.left[a.whole] == 0; a.whole++ {
			close(a.done[a.whole])
		}
	}
}

// upTo waits until the rows before last (a chunk's end) are applied and
// returns every row's outcome or refusal so far, or the error that
// stopped the rows.
func (a *appliedRows) upTo(last int) ([]outcome, []error, error) {
	k := (last - 1) / chunkRows
	<-a.done[k]
	a.mu.Lock()
	defer a.mu.Unlock()
	if k >= a.whole {
		return nil, nil, a.err
	}
	return a.outcomes, a.refused, nil
}

// chunks hands each chunk's outcomes and refusals, rows first to last
// (excluded) of the file, to each in file order as soon as the chunk's
// rows are applied, and stops at the first error, each's or the rows'.
func (a *appliedRows) chunks(each func(first, last int, outcomes []outcome, refused []error) error) error {
	for first := 0; first < len(a.outcomes); first += chunkRows {
		last := min(first+chunkRows, len(a.outcomes))
		outcomes, refused, err := a.upTo(last)
		if err != nil {
			return err
		}
		if err := each(first, last, outcomes[first:last], refused[first:last]); err != nil {
			return err
		}
	}
	return nil
}

// stop ends the rows not yet begun and waits for those in flight.
func (a *appliedRows) stop() {
	a.cancel()
	a.wg.Wait()
}

// capacities sets the Slots of a chunk's rows whose user was applied, in
// one commit, and adds each outcome to its row's.
func (im *Importer) capacities(ctx context.Context, meta commands.Meta, chunk []Person, userIDs []string, outcomes []outcome, refused []error) error {
	var items []cohort.SetCapacity
	var rows []int
	for i, p := range chunk {
		if p.Slots != nil && refused[i] == nil {
			items = append(items, cohort.SetCapacity{SupervisorID: userIDs[i], Capacity: *p.Slots})
			rows = append(rows, i)
		}
	}
	if len(items) == 0 {
		return nil
	}
	set, err := im.Cohort.SetCapacities(ctx, meta, items)
	if err != nil {
		return fmt.Errorf("line %d: %w", chunk[rows[0]].Line, err)
	}
	for j, i := range rows {
		switch {
		case set[j].Err != nil:
			refused[i] = set[j].Err
		case set[j].Changed && outcomes[i] == unchanged:
			outcomes[i] = updated
		}
	}
	return nil
}

// count adds one row's outcome to the report: a refusal of the row is a
// row error; any other error stops the import.
func (rep *Report) count(ctx context.Context, line int, o outcome, err error, progress func(done int)) error {
	rep.Rows++
	if err != nil {
		var e *commands.Error
		if !errors.As(err, &e) {
			return fmt.Errorf("line %d: %w", line, err)
		}
		rep.Errors = append(rep.Errors, RowError{Line: line, Message: rowMessage(e)})
	} else {
		switch o {
		case created:
			rep.Created++
		case updated:
			rep.Updated++
		default:
			rep.Unchanged++
		}
	}
	if progress != nil {
		progress(rep.Rows)
	}
	return ctx.Err()
}

func rowMessage(e *commands.Error) string {
	msg := e.Message
	for _, f := range e.Fields {
		if len(e.Fields) > 1 || msg == "the request is invalid" {
			msg += "; " + f.Field + ": " + f.Message
		}
	}
	return msg
}

// person creates a user, or brings an existing one (same e-mail) up to date,
// and returns their id: the roles of the file are added (and reported
// through added), and the file's fields win where given. A coordinator's
// account is never changed: their row only sets slots (see capacities),
// and only if they already hold the roles.
//
// A row whose address another writer claims between the lookup and the
// creation (the same file uploaded twice at once) is decided again, on the
// user that writer made: as the row of a file imported a second time, not
// as an error, nor as a second creation of the one user. The other's user
// is stored a moment after its claim, so the row is looked up again a few
// times before the address counts as taken.
func (im *Importer) person(ctx context.Context, meta commands.Meta, roles []string, p Person, guess *newStreams, added func(userID, role string)) (outcome, string, error) {
	if id, ok, err := im.newPerson(ctx, meta, roles, p, guess); ok || err != nil {
		return created, id, err
	}
	for wait, changed := time.Duration(0), 0; ; wait += claimedMeanwhileWait {
		o, id, err := im.personOnce(ctx, meta, roles, p, added)
		for errors.Is(err, commands.ErrPreconditionFailed) && changed < changedMeanwhileTries {
			// The user changed since the lookup (another file giving
			// them another role, a coordinator's edit): decided again on
			// what they are now, so that neither change is lost.
			changed++
			o, id, err = im.personOnce(ctx, meta, roles, p, added)
		}
		if errors.Is(err, commands.ErrPreconditionFailed) {
			return o, id, commands.ErrVersionConflict
		}
		if !errors.Is(err, errClaimedMeanwhile) {
			return o, id, err
		}
		if wait >= 4*claimedMeanwhileWait {
			return o, id, user.ErrEmailTaken
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return o, id, ctx.Err()
		}
	}
}

// newStreams tells, for one file, whether a row whose stream this process
// has not read (a person's address, a student's record) is still taken to
// be new: most rows of a file are either new (a cohort's first import) or
// known (the file again), and which a file is shows in its first rows.
type newStreams struct{ rows, found atomic.Int64 }

// likely: of the rows tried without a lookup so far, at most one in eight
// found their stream there (an address taken, a record with a commit). A
// file imported again after a restart, whose streams this process has not
// read, so costs at most the rows in flight at its start a refused first
// commit each (the store's answer to a first commit where there is one)
// besides their lookups.
func (n *newStreams) likely() bool { return n.found.Load()*8 <= n.rows.Load() }

// tried counts a row tried without a lookup; found, that its stream was
// there.
func (n *newStreams) tried(found bool) {
	n.rows.Add(1)
	if found {
		n.found.Add(1)
	}
}

// newPerson creates the user of a row whose address this process has not
// read, while the file's rows are likely new, without looking the address
// up: its claim is appended as the address's first commit
// (user.Service.CreateUnclaimed), and the store refuses it if the address
// has one already. ok is false when it was not tried, or the address was
// not new or the row was refused (then nothing is stored, and the row is
// decided as ever: looked up, and created or brought up to date, or
// refused, as it would have been). A row that sets a password is looked
// up first, as its hashing is wasted on a known address.
func (im *Importer) newPerson(ctx context.Context, meta commands.Meta, roles []string, p Person, guess *newStreams) (id string, ok bool, err error) {
	if (im.Passwords && p.Password != "") || !guess.likely() {
		return "", false, nil
	}
	if _, _, known := commands.Cached(im.Users.X, user.EmailDecider, user.EmailStreamID(user.NormalizeEmail(p.Email))); known {
		return "", false, nil
	}
	res, err := im.Users.CreateUnclaimed(ctx, meta, user.Create{Email: p.Email, Name: p.Name, Roles: roles, Profile: p.Profile}, "")
	guess.tried(errors.Is(err, user.ErrEmailTaken))
	if _, refused := commands.AsError(err); refused {
		return "", false, nil
	}
	return res.State.ID, err == nil, err
}

// errClaimedMeanwhile is personOnce's answer for a row whose creation found
// its address claimed since the lookup.
var errClaimedMeanwhile = errors.New("the address was claimed since the lookup")

// claimedMeanwhileWait is the step by which the waits grow between the
// lookups of a row whose address was claimed meanwhile.
const claimedMeanwhileWait = 25 * time.Millisecond

// changedMeanwhileTries bounds how often a row whose user changed between
// its lookup and its update is decided again before it is refused
// (version-conflict).
const changedMeanwhileTries = 8

func (im *Importer) personOnce(ctx context.Context, meta commands.Meta, roles []string, p Person, added func(userID, role string)) (outcome, string, error) {
	o := unchanged
	password := ""
	if im.Passwords {
		password = p.Password
	}
	existing, err := im.Users.FindByEmail(ctx, p.Email)
	switch {
	case errors.Is(err, commands.ErrNotFound):
		create := meta
		if create.NewID, err = im.unfinishedCreation(ctx, meta, p.Email); err != nil {
			return o, "", err
		}
		res, err := im.Users.Create(ctx, create, user.Create{Email: p.Email, Name: p.Name, Roles: roles, Profile: p.Profile}, password)
		if errors.Is(err, user.ErrEmailTaken) {
			return o, "", errClaimedMeanwhile
		}
		if err != nil {
			return o, "", err
		}
		if res.Replayed {
			// The claim was this coordinator's other upload's, in flight,
			// not one cut short: it created the user, this row updates it.
			return o, "", errClaimedMeanwhile
		}
		existing, o = commands.Result[user.State]{State: res.State, Version: res.Version}, created
		password = "" // set with the user
	case err != nil:
		return o, "", err
	case existing.State.HasRole(events.RoleCoordinator):
		for _, role := range roles {
			if !existing.State.HasRole(role) {
				return o, "", ErrCoordinatorAccount
			}
		}
		password = "" // a coordinator's account is never changed
	default:
		var missing []string
		for _, role := range roles {
			if !existing.State.HasRole(role) {
				missing = append(missing, role)
			}
		}
		profile := merge(existing.State.Profile, p.Profile)
		name := p.Name
		// The roles and profile are the ones read, with the file's: at
		// the version read, or not at all (another writer's roles would be
		// dropped, and theirs would drop these).
		res, err := im.Users.Update(ctx, meta, existing.State.ID, commands.ExpectVersion(existing.Version), user.Update{Name: &name,
			Roles: append(slices.Clone(existing.State.Roles), missing...), Profile: &profile})
		if err != nil {
			return o, "", err
		}
		if res.Commit != nil {
			o = updated
		}
		for _, role := range missing {
			added(existing.State.ID, role)
		}
	}
	if password != "" {
		set, err := im.Users.SetInitialPassword(ctx, meta, existing.State.ID, password)
		if err != nil {
			return o, "", err
		}
		if set && o == unchanged {
			o = updated
		}
	}
	return o, existing.State.ID, nil
}

// unfinishedCreation returns the id of a user this actor's earlier import
// began to create for email and did not finish: the address claimed for
// it, the user never stored (the import was cut short between the two, by
// a crash or a lost connection). Creating the user under that id completes
// that creation, so importing the file again at once applies the row
// instead of finding the address taken until the claim goes stale. ""
// when there is none.
func (im *Importer) unfinishedCreation(ctx context.Context, meta commands.Meta, email string) (string, error) {
	x := im.Users.X
	stream := user.EmailStreamID(user.NormalizeEmail(email))
	// The row's lookup read the address a moment ago: an address nobody
	// holds (a new row) needs no second read. Should it be claimed
	// meanwhile, the creation's claim collides and finds out.
	holder, _, ok := commands.Cached(x, user.EmailDecider, stream)
	if !ok || holder.Owner != "" {
		var err error
		if holder, _, err = commands.Load(ctx, x, user.EmailDecider, stream); err != nil {
			return "", err
		}
	}
	if holder.Owner == "" {
		return "", nil
	}
	owner, _, err := commands.Load(ctx, x, user.Decider, holder.Owner)
	if err != nil || owner.Created || owner.Abandoned || owner.Deleted {
		return "", err
	}
	commits, err := x.Store.ReadStream(ctx, stream, events.ReadOptions{})
	if err != nil || len(commits) == 0 {
		return "", err
	}
	last := commits[len(commits)-1]
	claim := last.Events[len(last.Events)-1]
	if d, ok := claim.Data.(*events.EmailClaimed); !ok || d.UserID != holder.Owner || claim.Actor.UserID != meta.Actor.UserID {
		return "", nil
	}
	return holder.Owner, nil
}

// merge keeps the stored value of a field the file leaves empty.
func merge(old, in events.Profile) events.Profile {
	out := old
	for _, f := range []struct{ dst, src *string }{
		{&out.Code, &in.Code}, {&out.Username, &in.Username}, {&out.Programme, &in.Programme}, {&out.Route, &in.Route},
		{&out.EnrolmentStatus, &in.EnrolmentStatus}, {&out.StartDate, &in.StartDate}, {&out.Position, &in.Position},
		{&out.Department, &in.Department},
	} {
		if *f.src != "" {
			*f.dst = *f.src
		}
	}
	return out
}

// userID finds the active user of an e-mail, as a row error if there is
// none, worded with the file's column that names them.
func (im *Importer) userID(ctx context.Context, email, column string) (string, error) {
	res, err := im.Users.FindByEmail(ctx, email)
	if errors.Is(err, commands.ErrNotFound) {
		return "", &commands.Error{Kind: commands.KindRule, Code: "unknown-user",
			Message: fmt.Sprintf("%s %s is not a user; import them first", column, email)}
	}
	return res.State.ID, err
}

// student finds the user of a row's Student Email and checks they are a
// student, with a refusal worded in the file's terms (why, if given, says
// why the row needs a student).
func (im *Importer) student(ctx context.Context, svc *cohort.Service, email, why string) (string, error) {
	id, err := im.userID(ctx, email, "Student Email")
	if err != nil {
		return "", err
	}
	if err := svc.CheckStudent(ctx, id); err != nil {
		return "", reworded(err, fmt.Sprintf("Student Email %s is not a student%s; import them in a students file first", email, why))
	}
	return id, nil
}

// staffIDs remembers, for one import, the users of the staff e-mails its
// rows name: a cohort's preferences name a few hundred supervisors
// thousands of times, and each lookup reads two streams. What it remembers
// is what a lookup found during this import, as is that each supervisor
// ranked holds the role (cohort.RoleOnce).
type staffIDs struct {
	mu    sync.Mutex
	found map[string]staffID
}

type staffID struct {
	id  string
	err error
}

func (s *staffIDs) userID(ctx context.Context, im *Importer, email, what string) (string, error) {
	s.mu.Lock()
	f, ok := s.found[email]
	s.mu.Unlock()
	if ok {
		return f.id, f.err
	}
	id, err := im.userID(ctx, email, what)
	if _, refused := commands.AsError(err); err == nil || refused {
		s.mu.Lock()
		s.found[email] = staffID{id, err}
		s.mu.Unlock()
	}
	return id, err
}

// staffOf is, for each kind of assignments file, the column that names
// the member of staff, the role they must hold, and the check of it.
var staffOf = map[string]struct {
	column, role string
	check        func(*cohort.Service, context.Context, string) error
}{
	SupervisorAssignments: {"Supervisor Email", "a supervisor", (*cohort.Service).CheckSupervisor},
	ExaminerAssignments:   {"Secondary Examiner Email", "an examiner", (*cohort.Service).CheckExaminer},
}

// pair applies a row of an assignments file. The assignment checks the
// same roles (svc is RoleOnce: once); checked here first, a refusal names
// the file's column, not the API's field.
func (im *Importer) pair(ctx context.Context, meta commands.Meta, svc *cohort.Service, kind string, p Pair) (outcome, error) {
	staff := staffOf[kind]
	student, err := im.student(ctx, svc, p.StudentEmail, "")
	if err != nil {
		return unchanged, err
	}
	member, err := im.userID(ctx, p.StaffEmail, staff.column)
	if err != nil {
		return unchanged, err
	}
	if err := staff.check(svc, ctx, member); err != nil {
		return unchanged, reworded(err, fmt.Sprintf("%s %s is not %s", staff.column, p.StaffEmail, staff.role))
	}
	var changed bool
	if kind == SupervisorAssignments {
		changed, err = svc.AssignSupervisor(ctx, meta, student, member)
	} else {
		changed, err = svc.AssignExaminer(ctx, meta, student, member, "")
	}
	if err != nil || !changed {
		return unchanged, err
	}
	return updated, nil
}

// grade sets a student's grade and, given a release id, releases it.
// The grade checks the same role (svc is RoleOnce: once); checked here
// first, a refusal names the file's column, not the API's field.
func (im *Importer) grade(ctx context.Context, meta commands.Meta, svc *cohort.Service, g Grade, release string) (outcome, error) {
	student, err := im.student(ctx, svc, g.StudentEmail, "")
	if err != nil {
		return unchanged, err
	}
	res, err := svc.Grade(ctx, meta, student, "", g.Grade, g.Label, g.Feedback)
	if e, refused := commands.AsError(err); refused {
		for _, f := range e.Fields {
			if f.Field == "grade" { // the label, told in the file's terms as the parser tells a mark
				return unchanged, reworded(err, fmt.Sprintf("Final Grade %q %s", g.Label, f.Message))
			}
		}
	}
	if err != nil {
		return unchanged, err
	}
	changed := res.Changed
	if release != "" {
		released, err := svc.ReleaseGraded(ctx, meta, student, res, release)
		if err != nil {
			return unchanged, err
		}
		changed = changed || released
	}
	if !changed {
		return unchanged, nil
	}
	return updated, nil
}

// preferences applies the rows of a preferences file side by side (each
// is its student's own stream), counted in file order.
func (im *Importer) preferences(ctx context.Context, meta commands.Meta, prefs []Preference, rep *Report, progress func(done int)) error {
	staff := &staffIDs{found: map[string]staffID{}}
	// The file checks each supervisor it ranks once, not once per row.
	once := im.Cohort.RoleOnce()
	guess := new(newStreams)
	rows := applyRows(ctx, prefs, func(ctx context.Context, _ int, p Preference) (outcome, int, error) {
		o, err := im.preference(ctx, meta, once, p, staff, guess)
		return o, p.Line, err
	})
	defer rows.stop()
	return rows.chunks(func(first, last int, outcomes []outcome, refused []error) error {
		for i, p := range prefs[first:last] {
			if err := rep.count(ctx, p.Line, outcomes[i], refused[i], progress); err != nil {
				return err
			}
		}
		return nil
	})
}

// preference sets a row's ranking. While the file's students are likely
// new to rankings (guess), a student whose record this process has not
// read has their ranking decided without reading it
// (cohort.Service.SetFirstPreferences): a cohort's first preferences file
// then reads no record from the store.
func (im *Importer) preference(ctx context.Context, meta commands.Meta, svc *cohort.Service, p Preference, staff *staffIDs, guess *newStreams) (outcome, error) {
	// SetPreferences checks the same roles (RoleOnce: once); checked here
	// first, a refusal names the file's column, not the API's field.
	student, err := im.student(ctx, svc, p.StudentEmail, ", and only a student ranks supervisors")
	if err != nil {
		return unchanged, err
	}
	ids := make([]string, len(p.Choices))
	for i, email := range p.Choices {
		if ids[i], err = staff.userID(ctx, im, email, "Choice"); err != nil {
			// The lookup is remembered by e-mail, for any row and choice.
			return unchanged, reworded(err, fmt.Sprintf("Choice %d (%s) is not a user; import them first", i+1, email))
		}
		if err := svc.CheckSupervisor(ctx, ids[i]); err != nil {
			return unchanged, reworded(err, fmt.Sprintf("Choice %d (%s) is not a supervisor", i+1, email))
		}
	}
	var res commands.Result[cohort.Student]
	stream := cohort.StudentStreamID(student)
	if _, _, known := commands.Cached(svc.X, cohort.StudentDecider, stream); !known && guess.likely() {
		res, err = svc.SetFirstPreferences(ctx, meta, student, ids)
		// A ranking not the record's first commit was decided on a record
		// that was there.
		guess.tried(err == nil && (res.Commit == nil || res.Commit.FirstVersion != 1))
	} else {
		res, err = svc.SetPreferences(ctx, meta, student, commands.AnyVersion, ids)
	}
	if err != nil || res.Commit == nil {
		return unchanged, err
	}
	return updated, nil
}

// reworded is a refusal told in a row's terms (its file's columns); any
// other error is the store's, and goes on as it is.
func reworded(err error, message string) error {
	e, refused := commands.AsError(err)
	if !refused {
		return err
	}
	c := *e
	c.Message, c.Fields = message, nil
	return &c
}
