package user

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// Service runs the user use cases that span more than one stream: the e-mail
// reservation and the credentials kept outside the event store.
type Service struct {
	X           *commands.Executor
	Credentials commands.Credentials
	Hasher      commands.PasswordHasher
	// ClaimGrace is how long a claim whose user stream is still empty counts
	// as a creation in flight. After it, the creation is taken to have died
	// and the address may be claimed again.
	ClaimGrace time.Duration
	// CheckPassword validates a new password (length, etc.).
	CheckPassword func(string) error
	// Tokens keeps one-time set-password tokens.
	Tokens TokenStore
	// Sessions ends sign-in tokens early (nil: tokens live until they expire).
	Sessions Sessions
	// ListCoordinators lists the users the read side knows as coordinators
	// (possibly stale: each is confirmed on its own stream before it
	// counts), to seed and mend the coordinators stream.
	ListCoordinators func(ctx context.Context) ([]string, error)
	// StudentLeft, when set, is told of a student who is one no longer
	// (deleted, or the role taken away), once that is stored, with the
	// reason: the cohort gives back the place the student held, so that
	// no supervisor's slot stays taken by someone who is not a student.
	// (The cohort's package imports this one, so the call is wired in.)
	StudentLeft func(ctx context.Context, meta commands.Meta, studentID, reason string) error
}

// Reasons a student's place is given back, as the cohort records them.
const (
	ReasonStudentDeleted = "student deleted"
	ReasonNotAStudent    = "no longer a student"
)

// studentLeft tells StudentLeft of a student who is one no longer. The
// user's change is stored already, so a failure is logged, not answered:
// the place stays held until the projector's periodic mend
// (cohort.Service.MendDepartures) finds it and gives it back.
func (s *Service) studentLeft(ctx context.Context, meta commands.Meta, id, reason string) {
	if s.StudentLeft == nil {
		return
	}
	if err := s.StudentLeft(context.WithoutCancel(ctx), meta, id, reason); err != nil {
		s.X.Log.ErrorContext(ctx, "give back the place of a student who left", "user", id, "reason", reason, "err", err)
	}
}

// ErrInvalidCredentials is the one answer for an unknown e-mail, a deleted
// user, a user without a password and a wrong password.
var ErrInvalidCredentials = &commands.Error{Kind: commands.KindUnauthenticated, Code: "invalid-credentials", Message: "e-mail or password is wrong"}

// ErrWrongPassword refuses a password change whose current password is wrong.
var ErrWrongPassword = &commands.Error{Kind: commands.KindRule, Code: "wrong-password", Message: "the current password is wrong"}

// Create makes a user with a fresh id. The e-mail is claimed first, then the
// password hash is stored, then the user stream is created; a crash between
// steps leaves a claim that the next creation with that address recovers.
//
// With meta.NewID (an idempotency key's), a user that an earlier attempt of
// the request created is answered as that attempt answered; an attempt that
// died half-way is completed (the claim is already its own).
func (s *Service) Create(ctx context.Context, meta commands.Meta, c Create, password string) (commands.Result[State], error) {
	id := meta.NewStreamID()
	if meta.NewID != "" {
		if res, done, err := s.created(ctx, id); done || err != nil {
			return res, err
		}
	}
	return s.create(ctx, meta, id, c, password, s.claim)
}

// CreateUnclaimed is Create for an address this process has no word of,
// which is most likely new (an import's row whose address it has not
// read): the address is claimed as its stream's first commit, decided
// without reading the stream, and the store's refusal of a first commit
// where there is one already says it was not new. The claim is then
// decided on what is stored: an address released since (its user deleted)
// is claimed as Create would, and one that anybody holds (a user, or a
// creation in flight or cut short) is refused with ErrEmailTaken, nothing
// stored, for the caller to look it up and decide as Create's callers do:
// Create would take over a holder that is gone, and finish a creation of
// the caller's own cut short under that creation's id. A new address so
// costs no read. Not for a caller with an idempotency key (meta.NewID),
// whose earlier attempt Create recognises.
func (s *Service) CreateUnclaimed(ctx context.Context, meta commands.Meta, c Create, password string) (commands.Result[State], error) {
	return s.create(ctx, meta, meta.NewStreamID(), c, password, s.claimFirst)
}

// create is Create once its id is chosen, the address claimed by claim.
func (s *Service) create(ctx context.Context, meta commands.Meta, id string, c Create, password string,
	claim func(ctx context.Context, meta commands.Meta, email, id string) error) (commands.Result[State], error) {
	// Validate before claiming anything, so a bad request stores nothing.
	if err := validateCreate(id, c, password, s.CheckPassword); err != nil {
		return commands.Result[State]{}, err
	}
	var hash string
	c.WithPassword = password != ""
	if c.WithPassword {
		var err error
		if hash, err = s.hash(password); err != nil {
			return commands.Result[State]{}, err
		}
	}
	email := NormalizeEmail(c.Email)
	if err := claim(ctx, meta, email, id); err != nil {
		return commands.Result[State]{}, err
	}
	if hash != "" {
		if err := s.Credentials.SetPasswordHash(ctx, id, hash); err != nil {
			return commands.Result[State]{}, fmt.Errorf("store password: %w", err)
		}
	}
	res, err := Decider.ExecuteNew(ctx, s.X, id, c, meta)
	if meta.NewID != "" && errors.Is(err, commands.ErrAlreadyExists) {
		// An attempt of the same request racing this one stored it first
		// (or a creation that found the claim stale closed the stream).
		if res, done, err := s.created(ctx, id); done || err != nil {
			return res, err
		}
	}
	if errors.Is(err, commands.ErrAlreadyExists) {
		// Our stream was closed by a creation that found our claim stale.
		return res, commands.ErrVersionConflict
	}
	if err == nil && res.State.HasRole(events.RoleCoordinator) {
		s.grantCoordinator(ctx, meta, id, res.Version)
	}
	return res, err
}

// created reports the outcome of an earlier attempt to create user id: done
// when its stream exists, with the creation's result, or ErrVersionConflict
// when a creation that found its claim stale closed the stream first.
func (s *Service) created(ctx context.Context, id string) (commands.Result[State], bool, error) {
	res, found, err := commands.Created(ctx, s.X, Decider, id)
	switch {
	case err != nil || !found:
		return res, false, err
	case !res.State.Created:
		return commands.Result[State]{}, true, commands.ErrVersionConflict
	}
	return res, true, nil
}

// claimFirst reserves email for id if its stream has no commit yet, or
// none that holds it. The claim is decided on what this process last read
// of the address or, if nothing, on a stream with no commit, and appended
// as the commit after that: a stream with a commit there refuses it, and
// the claim is decided again on what is stored (as Execute does after a
// lost race). Any holder refuses it (ErrEmailTaken), as does an address
// other claims keep winning.
func (s *Service) claimFirst(ctx context.Context, meta commands.Meta, email, id string) error {
	_, err := EmailDecider.ExecuteNew(ctx, s.X, EmailStreamID(email), Claim{UserID: id}, meta)
	if errors.Is(err, commands.ErrVersionConflict) {
		return ErrEmailTaken
	}
	return err
}

// claim reserves email for id, taking it over from an owner that is gone.
func (s *Service) claim(ctx context.Context, meta commands.Meta, email, id string) error {
	stream := EmailStreamID(email)
	// First as for an address nobody holds: the executor decides the claim
	// on the holder this process last read, without reading it again (an
	// import's new row read it a moment ago), and confirms a refusal on the
	// stored holder. Only an address held by another is looked at further.
	_, err := EmailDecider.Execute(ctx, s.X, stream, Claim{UserID: id}, meta)
	if !errors.Is(err, ErrEmailTaken) && !errors.Is(err, commands.ErrVersionConflict) {
		return err
	}
	holder, _, err := commands.Load(ctx, s.X, EmailDecider, stream)
	if err != nil {
		return err
	}
	replace := ""
	if holder.Owner == id {
		return nil // claimed by an earlier attempt of this creation (same NewID)
	}
	if holder.Owner != "" {
		gone, err := s.ownerGone(ctx, meta, holder)
		if err != nil {
			return err
		}
		if !gone {
			return ErrEmailTaken
		}
		replace = holder.Owner
	}
	_, err = EmailDecider.Execute(ctx, s.X, stream, Claim{UserID: id, Replace: replace}, meta)
	if errors.Is(err, commands.ErrVersionConflict) {
		return ErrEmailTaken // another claim won the race for this address
	}
	return err
}

// ownerGone reports whether the holder of a claim no longer needs it: the user
// was deleted, its creation was abandoned, or it never appeared within the
// grace period (then its stream is closed, so a late creation conflicts).
func (s *Service) ownerGone(ctx context.Context, meta commands.Meta, holder EmailState) (bool, error) {
	owner, _, err := commands.Load(ctx, s.X, Decider, holder.Owner)
	if err != nil {
		return false, err
	}
	switch {
	case owner.Deleted || owner.Abandoned:
		return true, nil
	case owner.Created:
		return false, nil
	case s.X.Clock().Sub(holder.ClaimedAt) < s.ClaimGrace:
		return false, nil
	}
	_, err = Decider.Execute(ctx, s.X, holder.Owner, Abandon{Reason: "e-mail claimed but user never created"}, meta)
	if errors.Is(err, commands.ErrAlreadyExists) {
		return s.ownerGone(ctx, meta, holder) // it was created (or closed) meanwhile: look again
	}
	return err == nil, err
}

// Update changes a user's fields. Taking the coordinator role away is
// first recorded on the coordinators stream, which refuses the last one
// (giving it is recorded there after). Taking any role away ends the
// user's tokens: what they were signed in to do, they may no longer do.
// Taking the student role away gives back their place (StudentLeft).
// The version the caller expects is the user's.
func (s *Service) Update(ctx context.Context, meta commands.Meta, id string, expect commands.Expected, c Update) (commands.Result[State], error) {
	state, version, err := commands.Load(ctx, s.X, Decider, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	stale := !expect.Allows(version) // ExecuteAt refuses it, and counts the refusal
	revoking, granting := coordinatorChange(state, c)
	if revoking && !stale {
		if err := s.revokeCoordinator(ctx, meta, id, version); err != nil {
			return commands.Result[State]{}, err
		}
	}
	removed, err := s.rolesRemoved(ctx, id, c)
	if err != nil {
		return commands.Result[State]{}, err
	}
	if removed && !stale { // a refused update ends no one's sign-ins
		if err := s.endSignIns(ctx, id); err != nil {
			return commands.Result[State]{}, err
		}
	}
	res, err := Decider.ExecuteAt(ctx, s.X, id, expect, c, meta)
	if err == nil && granting && res.State.HasRole(events.RoleCoordinator) {
		s.grantCoordinator(ctx, meta, id, res.Version)
	}
	if err == nil && state.HasRole(events.RoleStudent) && !res.State.HasRole(events.RoleStudent) {
		s.studentLeft(ctx, meta, id, ReasonNotAStudent)
	}
	return res, err
}

// coordinatorChange says whether an update takes the coordinator role
// from the user, or gives it to them.
func coordinatorChange(s State, c Update) (revoking, granting bool) {
	evs, err := Decide(s, c)
	if err != nil || len(evs) == 0 {
		return false, false
	}
	up, ok := evs[0].(*events.UserUpdated)
	if !ok {
		return false, false
	}
	was, will := s.HasRole(events.RoleCoordinator), slices.Contains(up.Roles, events.RoleCoordinator)
	return was && !will, !was && will
}

// Delete removes a user, ends their tokens and frees their e-mail for a new
// account; a student's place with a supervisor is given back (StudentLeft).
// A coordinator's removal is first recorded on the coordinators stream,
// which refuses the last one. The version the caller expects is the user's.
func (s *Service) Delete(ctx context.Context, meta commands.Meta, id string, expect commands.Expected) (commands.Result[State], error) {
	state, version, err := commands.Load(ctx, s.X, Decider, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	if _, err := Decide(state, Delete{}); err != nil {
		return commands.Result[State]{}, err // refused: nothing is ended
	}
	stale := !expect.Allows(version) // ExecuteAt refuses it, and counts the refusal
	if state.HasRole(events.RoleCoordinator) && !stale {
		if err := s.revokeCoordinator(ctx, meta, id, version); err != nil {
			return commands.Result[State]{}, err
		}
	}
	if err := s.endSignIns(ctx, id); err != nil {
		return commands.Result[State]{}, err
	}
	res, err := Decider.ExecuteAt(ctx, s.X, id, expect, Delete{}, meta)
	if err != nil {
		return res, err
	}
	if state.HasRole(events.RoleStudent) {
		s.studentLeft(ctx, meta, id, ReasonStudentDeleted)
	}
	// If this fails the claim stays with a deleted user, which the next claim
	// of the address recognises and replaces.
	if _, err := EmailDecider.Execute(ctx, s.X, EmailStreamID(res.State.Email), Release{UserID: id}, meta); err != nil {
		s.X.Log.WarnContext(ctx, "release e-mail of deleted user", "user", id, "err", err)
	}
	return res, nil
}

// SetPassword replaces a user's password. Every token signed in with the
// old one, and every set-password token outstanding, stops working.
func (s *Service) SetPassword(ctx context.Context, meta commands.Meta, id, password string) (commands.Result[State], error) {
	done, err := s.passwordTurn(ctx, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	defer done()
	return s.setPassword(ctx, meta, id, password, 0, nil)
}

// passwordTurn waits for the turn of the user's password: every write of a
// password takes it, so that one which decides on the password it read (a
// change proving it, an import setting a first one) decides on the one it
// replaces, and one that is then refused ends no sign-ins on its way.
func (s *Service) passwordTurn(ctx context.Context, id string) (release func(), err error) {
	return s.X.Turn(ctx, "password\x00"+id)
}

// errPasswordReplaced refuses a password set whose replaces no longer
// holds: another write set the user's password first.
var errPasswordReplaced = errors.New("the password was replaced meanwhile")

// setPassword is SetPassword; tokenVersion names the issue of the
// set-password token redeemed for it (0: none). replaces, when not nil, is
// the hash the new one may replace ("" for none yet: a first password; the
// hash proven by a change): another one stored meanwhile is kept, and the
// set refused with errPasswordReplaced. The caller holds the password's
// turn (passwordTurn).
func (s *Service) setPassword(ctx context.Context, meta commands.Meta, id, password string, tokenVersion int64, replaces *string) (commands.Result[State], error) {
	state, _, err := commands.Load(ctx, s.X, Decider, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	if err := mustBeActive(state); err != nil {
		return commands.Result[State]{}, err
	}
	hash, err := s.hash(password)
	if err != nil {
		return commands.Result[State]{}, err
	}
	if err := s.endSignIns(ctx, id); err != nil {
		return commands.Result[State]{}, err
	}
	if s.Tokens != nil {
		if err := s.Tokens.Revoke(ctx, id); err != nil {
			return commands.Result[State]{}, fmt.Errorf("end the user's set-password tokens: %w", err)
		}
	}
	if replaces != nil {
		// Another write may have set the password since it was read (a
		// change that proved the same one, the user's own set-password
		// while their file is imported): that one stands, and this one is
		// refused rather than answered as made and then lost, or made over
		// the user's choice.
		switch replaced, err := s.Credentials.ReplacePasswordHash(ctx, id, *replaces, hash); {
		case err != nil:
			return commands.Result[State]{}, fmt.Errorf("store password: %w", err)
		case !replaced:
			return commands.Result[State]{}, errPasswordReplaced
		}
	} else if err := s.Credentials.SetPasswordHash(ctx, id, hash); err != nil {
		return commands.Result[State]{}, fmt.Errorf("store password: %w", err)
	}
	return Decider.Execute(ctx, s.X, id, SetPassword{TokenVersion: tokenVersion}, meta)
}

// SetInitialPassword gives a user who has no password the one given; a
// user who has one keeps it, even one set while this one was hashed, and
// keeps their sign-ins. set says whether it was set.
func (s *Service) SetInitialPassword(ctx context.Context, meta commands.Meta, id, password string) (set bool, err error) {
	done, err := s.passwordTurn(ctx, id)
	if err != nil {
		return false, err
	}
	defer done()
	_, err = s.Credentials.PasswordHash(ctx, id)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, commands.ErrNoPassword):
		return false, err
	}
	none := ""
	if _, err := s.setPassword(ctx, meta, id, password, 0, &none); errors.Is(err, errPasswordReplaced) {
		return false, nil // set meanwhile by another process (by its user, say): kept
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// ChangePassword is SetPassword for a user who proves the current one.
// Changes of one user's password take turns in a process, and the new hash
// replaces only the one proven: of two changes that proved the same
// password at once, one is made and the other refused, as it would be
// after it (both used to be answered as made, one of them lost).
func (s *Service) ChangePassword(ctx context.Context, meta commands.Meta, id, current, next string) (commands.Result[State], error) {
	done, err := s.passwordTurn(ctx, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	defer done()
	hash, err := s.Credentials.PasswordHash(ctx, id)
	if err != nil && !errors.Is(err, commands.ErrNoPassword) {
		return commands.Result[State]{}, err
	}
	if hash == "" || !s.Hasher.Compare(hash, current) {
		return commands.Result[State]{}, ErrWrongPassword
	}
	res, err := s.setPassword(ctx, meta, id, next, 0, &hash)
	if errors.Is(err, errPasswordReplaced) {
		return res, ErrWrongPassword // the password proven is no longer the current one
	}
	if e, ok := commands.AsError(err); ok && e.Kind == commands.KindInvalid {
		return res, commands.Invalid(commands.FieldError{Field: "new_password", Message: e.Fields[0].Message})
	}
	return res, err
}

// SignIn checks an e-mail and password against the write side (so a user can
// sign in right after being created) and returns the user.
func (s *Service) SignIn(ctx context.Context, email, password string) (commands.Result[State], error) {
	var none commands.Result[State]
	holder, _, err := commands.Load(ctx, s.X, EmailDecider, EmailStreamID(NormalizeEmail(email)))
	if err != nil {
		return none, err
	}
	var u State
	var version int64
	if holder.Owner != "" {
		if u, version, err = commands.Load(ctx, s.X, Decider, holder.Owner); err != nil {
			return none, err
		}
	}
	hash := ""
	if u.Active() {
		hash, err = s.Credentials.PasswordHash(ctx, u.ID)
		if err != nil && !errors.Is(err, commands.ErrNoPassword) {
			return none, err
		}
	}
	if hash == "" {
		s.Hasher.CompareDummy(password)
		return none, ErrInvalidCredentials
	}
	if !s.Hasher.Compare(hash, password) {
		return none, ErrInvalidCredentials
	}
	return commands.Result[State]{State: u, Version: version}, nil
}

// Get returns a user's current state from the write side.
func (s *Service) Get(ctx context.Context, id string) (commands.Result[State], error) {
	state, version, err := commands.Load(ctx, s.X, Decider, id)
	if err != nil {
		return commands.Result[State]{}, err
	}
	if err := mustBeActive(state); err != nil {
		return commands.Result[State]{}, err
	}
	return commands.Result[State]{State: state, Version: version}, nil
}

// FindByEmail returns the active user holding an address.
func (s *Service) FindByEmail(ctx context.Context, email string) (commands.Result[State], error) {
	holder, _, err := commands.Load(ctx, s.X, EmailDecider, EmailStreamID(NormalizeEmail(email)))
	if err != nil {
		return commands.Result[State]{}, err
	}
	if holder.Owner == "" {
		return commands.Result[State]{}, commands.ErrNotFound
	}
	return s.Get(ctx, holder.Owner)
}

// validateCreate checks a new user's fields and password together, so that
// every invalid field, the password included, is reported at once.
func validateCreate(id string, c Create, password string, check func(string) error) error {
	_, err := Decide(State{ID: id}, c)
	var v commands.Validation
	if e, ok := commands.AsError(err); ok && e.Kind == commands.KindInvalid && len(e.Fields) > 0 {
		v = append(v, e.Fields...)
	} else if err != nil {
		return err
	}
	if password != "" && check != nil {
		if err := check(password); err != nil {
			v.Add("password", err.Error())
		}
	}
	return v.Err()
}

func (s *Service) hash(password string) (string, error) {
	if s.CheckPassword != nil {
		if err := s.CheckPassword(password); err != nil {
			return "", commands.Invalid(commands.FieldError{Field: "password", Message: err.Error()})
		}
	}
	return s.Hasher.Hash(password)
}
