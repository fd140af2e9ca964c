package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/commands/imports"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/auth"
	"github.com/capstone-pms/capstone/infra/bus"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/csvio"
	"github.com/capstone-pms/capstone/infra/embedded"
	"github.com/capstone-pms/capstone/infra/metrics"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
	"github.com/capstone-pms/capstone/infra/netlimit"
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/infra/readside"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
	"github.com/capstone-pms/capstone/projections/status"
	"github.com/capstone-pms/capstone/queries"
	"github.com/capstone-pms/capstone/tools/loadgen"
)

// benchScratch are not the service's collections: the bench's raw
// baseline writes to them in the service's database. The embedded store
// prepares them with the service's own, because only that gives them the _id
// index fix, so that `capstone bench --target` against an embedded store
// measures an indexed findOne.
var benchScratch = []string{loadgen.RawCollection}

// embeddedCollections are those a store started apart (dev-store, dev)
// prepares: the service's and the bench's.
func embeddedCollections() []string {
	return slices.Concat(imongo.Collections(), benchScratch)
}

// App is the running service: the parts that cmd wires together.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	store *imongo.Store
	// byInsert: the store is FerretDB shared with other processes, whose
	// filtered writes read, then write by _id, and no write gate orders
	// them; a change that must not be lost or made twice is an insert
	// under a unique _id there (read-model and session revisions, lease
	// terms, the index of idempotency journals), or a write of a document
	// only this process writes (its idempotency journals).
	byInsert bool
	bus      *messaging
	outbox   *outbox.Outbox
	// logOnly: the outbox keeps its groups in the commit log alone, and
	// what the bus lost waits for the catch-up, not the relay.
	logOnly   bool
	relay     chan struct{} // closed when the relay has stopped
	consumers []*bus.Consumer
	stop      context.CancelFunc
	runCtx    context.Context // ends when the app stops
	http      *http.Server
	listener  net.Listener
	// metricsListener and metricsHTTP serve /metrics apart (--metrics-addr).
	metricsListener net.Listener
	metricsHTTP     *http.Server
	// legacy serves the original frontend (--legacy-addr, --legacy-ui).
	legacy *legacyFace
	served chan error

	Registry *events.Registry
	Exec     *commands.Executor
	Users    *user.Service
	Cohort   *cohort.Service
	Metrics  *metrics.Metrics
	// API is the HTTP server's handler set (nil for a one-off command).
	API *api.Server

	status  *status.Tracker
	applied *projections.AppliedLog // what this process's projectors applied
	// marks are the commits this process's projectors applied, written
	// for whichever process holds the catch-up's lease, and those every
	// process's did, read by this one's catch-up while it holds it (nil
	// where no other process projects: the store is this process's alone).
	marks     *outbox.Marks
	catchUp   *outbox.CatchUp // nil without the projector component
	bgDone    sync.WaitGroup
	rebuilder *rebuild.Rebuilder
	rebuilds  *rebuild.Background // the admin API's, within runCtx
}

// startCatchUp runs the catch-up from the commit log: whatever the bus
// lost, each projection applies every stored commit within a second or two
// of its append (CatchUpEvery, plus CatchUpAfter for the bus to deliver it
// first), through its consumer, so in turn with the bus's deliveries.
//
// awaited, when positive, is the log's last position as this process
// started on a store it has alone: the process is not ready (App.ready)
// until the projections have passed it, for at most CatchUpReadyWithin.
func (a *App) startCatchUp(ctx context.Context, log *outbox.CommitLog, es *imongo.EventStore, instance string, settled time.Time, awaited int64) {
	cu := &outbox.CatchUp{Log: log, Commits: es, Logger: a.log,
		Lease:    a.lease("catch-up", instance),
		Interval: CatchUpEvery, MinAge: CatchUpAfter, GiveUp: 2 * time.Minute, Settled: settled, Batch: 2000,
		Workers: catchUpWorkers, Awaited: awaited, AwaitFor: CatchUpReadyWithin,
		Applied: a.knownApplied, InFlight: a.outbox.Publishing, Caught: a.Metrics.CaughtUp}
	if a.marks != nil {
		cu.Refresh = a.marks.Refresh
	}
	if a.logOnly {
		cu.Backlog = a.Metrics.SetRelayBacklog // the relay, with no outbox documents, sets none
	}
	for _, c := range a.consumers {
		cu.Targets = append(cu.Targets, outbox.CatchUpTarget{Name: c.Projection.Name(), DeliverAll: c.DeliverAll})
	}
	a.catchUp = cu
	a.bgDone.Add(1)
	go func() { defer a.bgDone.Done(); cu.Run(ctx) }()
}

// knownApplied reports whether this process's projectors applied the
// stream up to version for projection, or a process's marked the commit
// from version on as applied (CatchUp.Applied, which asks of a commit's
// first version).
func (a *App) knownApplied(projection, streamID string, version int64) bool {
	return a.applied.Has(projection, streamID, version) || a.marks.Has(projection, streamID, version)
}

// lease is the lease of a background job (the relay's sweeps, the
// catch-up's) held by this process's instance; where this process has the
// store alone, one held by another instance is a crashed process's.
func (a *App) lease(name, instance string) *outbox.Lease {
	l := outbox.NewLease(a.store.DB, name, instance, 10*time.Second)
	l.Alone = a.store.Exclusive()
	l.Terms = a.byInsert
	return l
}

// writeTimeout is the API servers' write timeout, counted from the
// request: a variable, so that a test outlasts it with a small file (a
// request that works longer, an import, has its answer written within
// api.AnswerTimeout of the end of its work).
var writeTimeout = time.Minute

// rebuildsResumeAfter is how long a rebuild's catch-up may go without
// saying it is under way before a projector process takes it to have died
// and finishes it; the projectors look that often.
const rebuildsResumeAfter = 30 * time.Second

// resumeRebuilds finishes, until ctx ends, the catch-ups of switching
// rebuilds whose process died after their switch: without it, the read
// models they switched would lack what was appended while they ran until
// the next rebuild.
func (a *App) resumeRebuilds(ctx context.Context) {
	t := time.NewTicker(rebuildsResumeAfter)
	defer t.Stop()
	for {
		n, err := a.rebuilder.Resume(ctx, rebuildsResumeAfter)
		if err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "finish a rebuild's catch-up", "err", err)
		}
		if n > 0 {
			a.log.InfoContext(ctx, "finished the catch-up of a rebuild whose process had stopped", "rebuilds", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mendDeparturesEvery is how often a projector process looks for places
// still held by students who left (cohort.Service.MendDepartures); the
// first look is one interval after start, once the read models it
// compares with have caught up.
const mendDeparturesEvery = 10 * time.Minute

// mendDepartures gives back, every mendDeparturesEvery until ctx ends, the
// places a departure's release left held (the process died between the
// user's change and the cohort's, or the cohort's append failed).
func (a *App) mendDepartures(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	meta := commands.Meta{Actor: events.SystemActor, CorrelationID: "mend-departures"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.Cohort.MendDepartures(ctx, meta)
		if err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "give back the places of students who left", "err", err)
		}
		if n > 0 {
			a.log.WarnContext(ctx, "gave back places still held by students who had left", "places", n)
		}
	}
}

// ready is the readiness check: every projector has its subscription to
// the bus, the read models are current (the catch-up at start-up is done),
// and the store answers, and takes a write (a full disk refuses every write
// while reads still work; such a process is not ready). The store is asked
// last: while the catch-up applies a crash's backlog, the store's writer is
// that backlog's, and a probe's write queued behind it took seconds to
// answer what memory knows at once (and added to the queue).
func (a *App) ready(instance string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range a.consumers {
			if !c.Subscribed() {
				return fmt.Errorf("projection %s has no subscription to the bus yet", c.Projection.Name())
			}
		}
		if a.catchUp != nil && !a.catchUp.Current() {
			return api.ErrCatchingUp
		}
		return a.store.Ready(ctx, instance)
	}
}

// expireIdempotencyKeys sweeps, every minute while the API runs, the keys
// older than api.IdempotencyTTL (the embedded store has no TTL indexes).
func (a *App) expireIdempotencyKeys(idem *imongo.Idempotency) *imongo.Idempotency {
	a.bgDone.Add(1)
	go func() {
		defer a.bgDone.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if n, err := idem.Expire(a.runCtx, time.Now(), api.IdempotencyTTL); err != nil && a.runCtx.Err() == nil {
				a.log.Warn("expire idempotency keys", "err", err)
			} else if n > 0 {
				a.log.Info("expired idempotency keys", "keys", n)
			}
			select {
			case <-a.runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return idem
}

// CatchUpEvery is how often the catch-up sweeps; CatchUpAfter is how old a
// log entry must be before it looks at it (the bus has delivered it by then,
// unless it lost it).
const (
	CatchUpEvery = time.Second
	CatchUpAfter = time.Second
)

// CatchUpReadyWithin bounds how long a process restarted on a store it has
// alone stays unready while its projections apply the commits stored
// before it started (the dead process's last ones): those its catch-up had
// not passed, about a second's worth (CatchUpEvery), applied again as fast
// as the bus first applied them; a commit still unapplied after this is
// one the projections fail on, which the catch-up keeps retrying (and
// warns about) while the process serves.
const CatchUpReadyWithin = 30 * time.Second

// catchUpWorkers bounds the commits the catch-up loads, and hands the
// projectors, at once while the process is not ready for them: as many as
// the in-process bus has in flight, so that the backlog a crash leaves (the
// last second or so of commits, most of which the read models hold) is
// applied about as fast as it was first, with each projection's workers
// busy and the store's round trips overlapped. It stays at the 128 it was
// when localInFlight was 128: the commits loaded at once are held in memory.
const catchUpWorkers = 128

// localInFlight bounds the commits being projected at once with the
// in-process bus: enough to keep the projector workers busy (an import
// has a stream per row, two commits each) and to let a hot stream's
// commits be folded together, few enough that a flat-out load leaves the
// read models milliseconds to a few hundred behind, not seconds. With 512
// instead of 128 (and rowsAtOnce 256, projectorWorkers 128, SQLite's
// temporary store in memory), a cohort's students file went from 772 to
// 999 rows/s to 1,131 to 1,274 (3 runs each, interleaved, on a quiet
// machine), the peak RSS at 64 clients reading stayed where it was: the
// outbox's senders, one per commit in flight, start and stop with the
// commits.
const localInFlight = 512

// StartApp wires and starts every component the config asks for. The
// projectors subscribe before the API accepts requests, so nothing published
// is missed. The port is bound first: a busy one is reported before the
// store, the bus or the relay has started.
func StartApp(ctx context.Context, cfg config.Config, log *slog.Logger, shared *embedded.Store) (*App, error) {
	var ln, metricsLn net.Listener
	if len(cfg.Components) > 0 {
		var err error
		if ln, err = listen(cfg.Addr, "--addr or CAPSTONE_ADDR"); err != nil {
			return nil, err
		}
		if cfg.MetricsAddr != "" {
			if metricsLn, err = listen(cfg.MetricsAddr, "--metrics-addr or CAPSTONE_METRICS_ADDR"); err != nil {
				_ = ln.Close()
				return nil, err
			}
		}
	}
	closeListeners := func() {
		for _, l := range []net.Listener{ln, metricsLn} {
			if l != nil {
				_ = l.Close()
			}
		}
	}
	face, err := bindLegacy(cfg)
	if err != nil {
		closeListeners()
		return nil, err
	}
	serviceAddr := ""
	if ln != nil {
		serviceAddr = ln.Addr().String()
	}
	m := metrics.New()
	store, err := imongo.Open(ctx, cfg, log, shared, m.StoreMonitor(), serviceAddr, benchScratch...)
	if err != nil {
		closeListeners()
		face.closeListeners()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: store, listener: ln, metricsListener: metricsLn, legacy: face, served: make(chan error, 1), Metrics: m}
	if err := a.start(ctx); err != nil {
		a.Close(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) start(ctx context.Context) error {
	a.Registry = events.NewRegistry(events.All()...)
	es := imongo.NewEventStore(a.store.DB, a.Registry)
	rm := imongo.NewReadModels(a.store.DB)
	// One fact decides how this process writes and reads: whether it runs
	// the embedded store it uses, whose data directory no other process can
	// open, and is so the only writer of every collection. Then:
	//   - its read-model writes need no revision checks, and several go in
	//     one of the store's own transactions (staging);
	//   - memory holds exactly what the store holds (HotTrusted);
	//   - a stream it cached is current (the executor's Sole);
	//   - a lease held by another instance, and any outbox group or
	//     commit-log entry from before it started, are a dead process's
	//     (the leases' Alone, the relay's and the catch-up's Settled).
	// Processes sharing a store (MongoDB, dev-store, or one embedded
	// server in tests) take none of these shortcuts.
	sole := a.store.Exclusive()
	rm.Conditional = !sole
	ferret := a.store.IsFerretDB(ctx)
	a.byInsert = !sole && ferret
	rm.Tokens = a.byInsert
	rm.ServeHot(hotMode(a.cfg, sole))
	if sole {
		rm.StageWith(imongo.CountStaged(a.store.Embedded, a.Metrics.StoreTransaction))
	}
	// Before the projectors write: on a store nobody writes to, each
	// loads at the first try.
	if err := rm.WarmHot(ctx); err != nil {
		return err
	}
	var err error
	if a.bus, err = openMessaging(ctx, a.cfg, a.log); err != nil {
		return err
	}
	publisher := &bus.Publisher{Pub: a.bus.pub, Topic: bus.Topic}
	a.Exec = commands.NewExecutor(es, es, nil, a.Registry, a.log)
	// The only writer: a stream it cached is current, and loading it reads
	// nothing.
	a.Exec.Sole = sole
	// The only writer knows every group of the outbox and entry of the
	// commit log from before it started is no longer in flight: their
	// writer is gone. The relay and the catch-up then deal with a crashed
	// process's commits at once, not after MinAge, nor GiveUp for those
	// never stored. (A millisecond back: the store keeps times to the
	// millisecond, and nothing of this process may look older.)
	//
	// Its readiness waits for the catch-up to pass the log's end as it was
	// at the start (awaited): a read sent as soon as it is ready shows
	// every write acknowledged before the crash. On a store shared with
	// other processes there is no telling what is in flight; the
	// projectors catch up as the bus and the catch-up go.
	var settled time.Time
	var awaited int64
	instance := instanceName()
	commitLog := outbox.NewCommitLog(a.store.DB)
	commitLog.Sole = sole
	if sole {
		settled = time.Now().Truncate(time.Millisecond).Add(-time.Millisecond)
		if awaited, err = commitLog.Tail(ctx); err != nil {
			return fmt.Errorf("read the commit log's end: %w", err)
		}
	}
	if len(a.cfg.Components) == 0 {
		// A one-off command: its commits wait in the outbox for the relay of
		// the running service, which publishes them to that service's bus.
		a.outbox = outbox.New(a.store.DB, nil, instance, 1, a.log, outbox.WithLog(commitLog))
	} else {
		senders, opts := 16, []outbox.Option{outbox.WithLog(commitLog)}
		if !a.bus.remote {
			// A publish on the in-process bus ends when the projectors have
			// applied the commit: bound what is in flight, so that writers
			// wait for the projectors rather than leave them seconds behind,
			// and publish all of it at once, so that a projector finds a
			// hot stream's commits queued together and writes them once.
			senders, opts = localInFlight, append(opts, outbox.MaxInFlight(localInFlight, 10*time.Second))
			if a.logOnly = sole && a.cfg.Has("projector"); a.logOnly {
				// Every consumer of this bus is a projector of this
				// process, which the catch-up feeds from the commit log
				// whatever a crash or a failed publish left.
				opts = append(opts, outbox.LogOnly())
			}
		}
		a.outbox = outbox.New(a.store.DB, publisher, instance, senders, a.log, opts...)
	}
	a.Exec.Outbox = a.outbox
	sessions := imongo.NewSessions(a.store.DB)
	sessions.Tokens = ferret // atomic across processes, and by _id alone (imongo.Sessions)
	a.Users = &user.Service{X: a.Exec, Credentials: imongo.NewCredentials(a.store.DB), Hasher: passwordHasher,
		ClaimGrace: 30 * time.Second, CheckPassword: auth.ValidatePassword, Tokens: imongo.NewPasswordTokens(a.store.DB),
		Sessions: sessions, ListCoordinators: readside.Coordinators(queries.Users{Reader: rm})}
	a.Cohort = &cohort.Service{X: a.Exec, MaxOpenProjects: a.cfg.Limits.MaxOpenProjects,
		ListCandidates: readside.Candidates(queries.Students{Reader: rm})}
	a.Users.StudentLeft = a.Cohort.ReleaseStudent
	a.Exec.Observe = a.Metrics.ObserveCommand
	a.Exec.Appended = func(c events.Commit) { a.Metrics.EventsAppended(c.StreamType, len(c.Events)) }

	runCtx, stop := context.WithCancel(context.Background())
	a.stop, a.runCtx = stop, runCtx
	rebuilds := imongo.NewRebuilds(a.store.DB, a.store.Prepare)
	rebuilds.Live = rm
	docLocks := projections.NewLocks()
	statusStore := imongo.NewProjectionStatus(a.store.DB)
	a.rebuilder = &rebuild.Rebuilder{Store: rebuilds, Events: es, Locks: docLocks, Recent: commitLog,
		Alone: func(ctx context.Context) (bool, error) {
			others, err := status.Others(ctx, statusStore, instance)
			return !others, err
		}}
	a.rebuilds = rebuild.NewBackground(runCtx, a.rebuilder, a.log)
	if a.cfg.Has("projector") {
		a.status = status.NewTracker(instance, projections.Names())
		// On record before a projector writes (a rebuild elsewhere counts
		// the processes that project).
		if err := a.status.Announce(ctx, statusStore); err != nil {
			return fmt.Errorf("record this process's projectors: %w", err)
		}
		set := projections.AllSharing(rm, es, docLocks)
		a.applied = projections.NewAppliedLogOf(appliedLogSize, set...)
		if !a.store.Exclusive() {
			a.marks = outbox.NewMarks(a.store.DB, instance, projections.Names(), a.log)
			a.bgDone.Go(func() { a.marks.Run(runCtx, outbox.MarksEvery) })
		}
		decodings := bus.NewDecodings(len(set))
		a.bgDone.Go(func() { a.status.Run(runCtx, statusStore) })
		for _, p := range set {
			sub, err := a.bus.subscriber(ctx, p.Name())
			if err != nil {
				return err
			}
			c := &bus.Consumer{Sub: sub, Topic: bus.Topic, Registry: a.Registry, Projection: p, Log: a.log,
				Workers: projectorWorkers, MaxAttempts: 5, NackOnFailure: a.bus.remote, Decodings: decodings,
				KeepTrying: a.bus.remote, RetryAtMost: resubscribeAtMost,
				Observe: func(name string, c events.Commit, err error) {
					a.Metrics.ObserveProjection(name, c, err)
					a.status.Observe(name, c, err)
					if err == nil {
						a.applied.Record(name, c)
						if a.marks != nil {
							a.marks.Note(name, c.StreamID, c.FirstVersion)
						}
					}
				}}
			if err := c.Start(runCtx); err != nil {
				return err
			}
			a.consumers = append(a.consumers, c)
		}
		a.startCatchUp(runCtx, commitLog, es, instance, settled, awaited)
		a.bgDone.Go(func() { a.resumeRebuilds(runCtx) })
		a.bgDone.Go(func() { a.mendDepartures(runCtx, mendDeparturesEvery) })
	} else if !a.bus.remote && len(a.cfg.Components) > 0 {
		a.log.Warn("no projector in this process: with the in-process bus, read models will not update here")
	}
	if a.cfg.Has("relay") {
		a.relay = make(chan struct{})
		r := &outbox.Relay{Coll: outbox.Groups(a.store.DB), Commits: es, Publisher: publisher, Log: a.log,
			Lease:    a.lease("relay", instance),
			Interval: time.Second, MinAge: 3 * time.Second, GiveUp: 2 * time.Minute, Settled: settled, Workers: 16,
			Skip: a.outbox.Holds}
		if !a.logOnly { // else the backlog is the catch-up's
			r.Backlog = a.Metrics.SetRelayBacklog
		}
		go func() { defer close(a.relay); r.Run(runCtx) }()
	}
	demo := false
	if a.cfg.Demo {
		if demo, err = a.demoWanted(ctx); err != nil { // before the bootstrap coordinator makes the store non-empty
			return err
		}
	}
	if err := a.bootstrap(ctx); err != nil {
		return err
	}
	if demo {
		if err := a.loadDemo(ctx); err != nil {
			return err
		}
	}
	ready := a.ready(instance)
	if len(a.cfg.Components) == 0 {
		return nil // a one-off command (users create): no HTTP at all
	}
	if !a.cfg.Has("api") {
		return a.serve(&api.Server{HealthOnly: true, Ready: ready, Metrics: a.Metrics, Log: a.log})
	}
	secret, err := a.jwtSecret(ctx)
	if err != nil {
		return err
	}
	tokens, err := auth.NewTokens(secret, a.cfg.TokenTTL, "capstone")
	if err != nil {
		return err
	}
	idem := imongo.NewIdempotency(a.store.DB)
	idem.ByIDAlone = ferret
	if a.byInsert {
		idem.Writer = instance
	}
	return a.serve(&api.Server{
		Users: a.Users, Cohort: a.Cohort,
		UserQ:            queries.Users{Reader: rm, Streams: es},
		ProjectQ:         queries.Projects{Reader: rm, Streams: es},
		SupervisorQ:      queries.Supervisors{Reader: rm},
		StudentQ:         queries.Students{Reader: rm},
		ExportQ:          queries.Exports{Reader: rm},
		MarkingQ:         queries.Marking{Reader: rm},
		CSV:              csvio.Exports{},
		Tokens:           tokenAdapter{tokens},
		SignInThrottle:   auth.NewSignInThrottle(auth.DefaultSignInPolicy),
		PasswordThrottle: auth.NewLockout(5, 15*time.Minute, 30*time.Second, 15*time.Minute),
		TokenThrottle:    auth.NewSlowdown(20, 15*time.Minute, 2*time.Second),
		PasswordGate:     newPasswordGate(),
		Idempotency:      idempotencyAdapter{a.expireIdempotencyKeys(idem)},
		ParseImport:      parseImport,
		Importer:         a.Importer,
		Ready:            ready,
		Admin:            a.admin(),
		Consistency:      a.consistency(rm, es, secret),
		Metrics:          a.Metrics,
		Log:              a.log,

		TrustedProxies: a.cfg.TrustedProxies,
	})
}

// hotMode is how this process serves the hot read models from memory. The
// all-in-one service (its projectors in the process, on a store no other
// process writes: sole) serves them from memory alone: every document
// written reaches its memory as the store takes it. An API apart from the
// projectors checks each document's revision with the store first (one
// lookup by _id), and reads lists from the store.
func hotMode(cfg config.Config, sole bool) imongo.HotMode {
	switch {
	case cfg.Has("projector") && cfg.Has("api") && sole:
		return imongo.HotTrusted
	case cfg.Has("api"):
		return imongo.HotValidated
	}
	return imongo.HotOff
}

// How long reads and writes wait for the read models to show a write.
const (
	// settleWait bounds a write's answer on the all-in-one service (and an
	// import's anywhere): longer than the projectors take for a whole
	// cohort's import, short of a client's patience.
	settleWait = 10 * time.Second
	// readWait bounds a read given ?after=: several times the projection
	// lag of a busy cohort.
	readWait = 5 * time.Second
)

// passwordHasher hashes and checks the users' passwords: a variable, so
// that a test can hold a hash at the moment it races.
var passwordHasher commands.PasswordHasher = auth.Hasher{}

// appliedLogSize bounds the streams in the log of what this process's
// projectors applied: a variable, so that a test reaches the bound with a
// small import.
var appliedLogSize = projections.AppliedLogSize

// consistency is how reads come to show writes. The all-in-one service,
// whose projectors run in this process on the in-process bus, answers a
// write once every read model shows it; otherwise a write's answer carries
// a bookmark that a read on any replica waits for.
func (a *App) consistency(rm *imongo.ReadModels, es *imongo.EventStore, secret []byte) *api.Consistency {
	var checkers []projections.Checker
	for _, p := range projections.All(rm, es) {
		if ck, ok := p.(projections.Checker); ok {
			checkers = append(checkers, ck)
		}
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("capstone bookmarks"))
	return &api.Consistency{
		Catchup: &queries.Catchup{Checkers: checkers, Get: rm.Get, Streams: es, Log: a.applied},
		Key:     mac.Sum(nil), Settle: !a.bus.remote && a.cfg.Has("projector"),
		SettleWait: settleWait, ReadWait: readWait,
	}
}

// Rebuild rebuilds read models from the event store (see rebuild.Rebuilder.Run).
func (a *App) Rebuild(ctx context.Context, names []string, verify bool, progress func(rebuild.Progress)) (rebuild.Result, error) {
	return a.rebuilder.Run(ctx, names, verify, progress)
}

// Importer applies imports; a dry one decides every row but stores nothing.
func (a *App) Importer(dry bool) *imports.Importer {
	if !dry {
		return &imports.Importer{Users: a.Users, Cohort: a.Cohort}
	}
	x := commands.DryRun(a.Exec)
	users := *a.Users
	users.X = x
	users.Sessions, users.Tokens = nil, nil // a dry run ends nobody's tokens
	users.Credentials = readOnlyCredentials{a.Users.Credentials}
	dryCohort := &cohort.Service{X: x}
	users.StudentLeft = dryCohort.ReleaseStudent // decided, never stored
	return &imports.Importer{Users: &users, Cohort: dryCohort}
}

// readOnlyCredentials are the credentials as a dry run sees them: read, and
// never written.
type readOnlyCredentials struct{ commands.Credentials }

func (readOnlyCredentials) SetPasswordHash(context.Context, string, string) error { return nil }

func (readOnlyCredentials) ReplacePasswordHash(context.Context, string, string, string) (bool, error) {
	return true, nil
}

// parseImport reads a CSV upload with the original system's formats.
func parseImport(kind string, r io.Reader) (api.ParsedFile, error) {
	k, err := csvio.ParseKind(kind)
	if err != nil {
		return api.ParsedFile{}, &commands.Error{Kind: commands.KindNotFound, Code: "unknown-kind", Message: err.Error()}
	}
	f, err := csvio.Parse(k, r, csvio.Limits{MaxBytes: api.MaxCSVUpload})
	switch {
	case errors.Is(err, csvio.ErrTooLarge):
		return api.ParsedFile{}, fmt.Errorf("%w: %v", api.ErrFileTooLarge, err)
	case err != nil:
		return api.ParsedFile{}, &commands.Error{Kind: commands.KindInvalid, Code: "file-refused", Message: err.Error()}
	}
	return api.ParsedFile{Batch: f.Batch(), Rows: f.Rows, Errors: f.ParseErrors()}, nil
}

// listen binds the HTTP address, saying what to do when it is taken.
func listen(addr, setting string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on %s: the address is already in use (another capstone serve?); choose another with %s", addr, setting)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// serve serves srv in the background on the listener bound by StartApp.
//
// The listener keeps within the connection limits (a slow client holds a
// connection, and a flood of them would otherwise exhaust the process's
// file descriptors), and a JSON body has the body timeout to arrive. With
// --metrics-addr, /metrics is served there and not on --addr.
func (a *App) serve(srv *api.Server) error {
	lim := a.cfg.Limits
	srv.BodyTimeout = lim.BodyTimeout
	srv.TrustedProxies = a.cfg.TrustedProxies
	srv.MetricsApart = a.metricsListener != nil
	a.API = srv
	errLog := slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	a.http = &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errLog}
	ln := netlimit.Listen(a.listener, netlimit.Limits{Max: lim.MaxConnections, PerClient: lim.MaxConnectionsPerClient,
		Exempt: a.cfg.TrustedProxies, OnRefuse: a.Metrics.ConnectionRefused})
	go func() { a.served <- a.http.Serve(api.ProblemAnswers(ln)) }()
	a.log.Info("serving", "addr", a.listener.Addr().String())
	if !srv.HealthOnly {
		a.legacy.serve(a.cfg, srv, a.Metrics, a.log)
	}
	if a.metricsListener != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		a.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: time.Minute, MaxHeaderBytes: 16 << 10, ErrorLog: errLog}
		go func() {
			if err := a.metricsHTTP.Serve(a.metricsListener); !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("the metrics listener stopped", "err", err)
			}
		}()
		a.log.Info("serving metrics", "addr", a.metricsListener.Addr().String())
	}
	return nil
}

// MetricsAddr is the address of the metrics listener ("" without one).
func (a *App) MetricsAddr() string {
	if a.metricsListener == nil {
		return ""
	}
	return a.metricsListener.Addr().String()
}

// startOneOff opens the store for a one-off command (users create, import,
// replay): no HTTP, no projector, no relay. Its commits wait in the outbox
// for the running service's relay.
func startOneOff(ctx context.Context, cfg config.Config, stderr io.Writer) (*App, error) {
	cfg.Components = nil
	return StartApp(ctx, cfg, newLogger(stderr, cfg), nil)
}

// Addr is the address the API listens on ("" without the api component).
func (a *App) Addr() string {
	if a.listener == nil {
		return ""
	}
	return a.listener.Addr().String()
}

// Served reports the HTTP server's end (an error other than ErrServerClosed is a failure).
func (a *App) Served() <-chan error { return a.served }

// Close drains in-flight requests, stops the projectors and closes the
// store, all within ctx: whatever a dependency's state (a bus that stopped
// answering, a store that hangs), each wait gives up at ctx's end, keeping
// stopReserve of it for the steps after the HTTP drain, and the process can
// exit within its grace period. What is cut short is not lost: commits not
// yet published are the relay's, unacked messages are redelivered.
func (a *App) Close(ctx context.Context) {
	drain, cancel := ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		drain, cancel = context.WithDeadline(ctx, dl.Add(-stopReserve))
	}
	legacyDrained := make(chan struct{})
	go func() { // the original frontend's requests drain beside the API's
		defer close(legacyDrained)
		if a.legacy != nil {
			a.legacy.shutdown(drain, a.log)
		}
	}()
	if a.http != nil {
		if err := a.http.Shutdown(drain); err != nil {
			a.log.Warn("HTTP shutdown", "err", err)
			_ = a.http.Close()
		}
	} else if a.listener != nil { // bound, but the start failed before serving
		_ = a.listener.Close()
	}
	<-legacyDrained
	cancel()
	if a.metricsHTTP != nil {
		_ = a.metricsHTTP.Close() // scrapes are cheap to lose; the next one comes
	} else if a.metricsListener != nil {
		_ = a.metricsListener.Close()
	}
	if a.outbox != nil {
		a.within(ctx, "the outbox", func() { a.outbox.Close(ctx) }) // publish what is in hand; the rest is the relay's
	}
	if a.stop != nil {
		a.stop()
	}
	for _, c := range a.consumers {
		a.within(ctx, "a projector", c.Wait)
	}
	if a.relay != nil {
		a.within(ctx, "the relay", func() { <-a.relay })
	}
	a.within(ctx, "background work", a.bgDone.Wait)
	if a.rebuilds != nil {
		a.within(ctx, "a rebuild", a.rebuilds.Wait) // stopped with runCtx
	}
	if a.bus != nil {
		a.within(ctx, "the bus", a.bus.Close)
	}
	a.within(ctx, "the store", func() { a.store.Close(ctx) })
}

// stopReserve is the part of the shutdown time kept, after the HTTP drain,
// for stopping the outbox, the projectors, the bus and the store.
const stopReserve = 5 * time.Second

// within runs f, giving up on it (it goes on in the background until the
// process exits) when ctx ends first.
func (a *App) within(ctx context.Context, what string, f func()) {
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-ctx.Done():
		a.log.Warn("shutdown: stopped waiting", "for", what, "err", ctx.Err())
	}
}

// bootstrap creates the first coordinator from the environment if no user
// holds that e-mail yet (an existing one is left as it is).
func (a *App) bootstrap(ctx context.Context) error {
	if a.cfg.BootstrapEmail == "" {
		return nil
	}
	_, err := a.Users.FindByEmail(ctx, a.cfg.BootstrapEmail)
	if err == nil {
		return nil
	}
	if !errors.Is(err, commands.ErrNotFound) {
		return fmt.Errorf("bootstrap coordinator: %w", err)
	}
	res, err := a.Users.Create(ctx, commands.Meta{Actor: events.SystemActor, CorrelationID: "bootstrap"},
		user.Create{Email: a.cfg.BootstrapEmail, Name: "Coordinator", Roles: []string{events.RoleCoordinator}},
		a.cfg.BootstrapPassword)
	if errors.Is(err, user.ErrEmailTaken) {
		return nil // another replica created it at the same moment
	}
	if err != nil {
		return fmt.Errorf("bootstrap coordinator: %w", err)
	}
	a.log.Info("created the bootstrap coordinator", "user", res.State.ID, "email", res.State.Email)
	return nil
}

// jwtSecret is the configured secret, or one generated once: in the data dir
// for the embedded store, in the database otherwise so that every replica on
// that database signs and verifies with the same one.
func (a *App) jwtSecret(ctx context.Context) ([]byte, error) {
	if a.cfg.JWTSecret != "" {
		return []byte(a.cfg.JWTSecret), nil
	}
	if a.store.Embedded != nil && a.cfg.DataDir != "" {
		return auth.LoadOrCreateSecretFile(filepath.Join(a.cfg.DataDir, "jwt-secret"))
	}
	a.log.Warn("no CAPSTONE_JWT_SECRET: using a secret generated once and kept in the database")
	return imongo.NewSettings(a.store.DB).JWTSecret(ctx)
}

// newPasswordGate lets as many password checks run as there are cores (Go
// reads a container's CPU limit), queues eight times as many for at most a
// second, and refuses the rest at once: a burst of sign-ins then answers
// its excess in microseconds and never pins the cores for longer than it
// lasts.
func newPasswordGate() *auth.Gate {
	cores := runtime.GOMAXPROCS(0)
	return auth.NewGate(cores, 8*cores, time.Second)
}

// tokenAdapter fits auth.Tokens to the API's port.
type tokenAdapter struct{ t *auth.Tokens }

func (t tokenAdapter) Issue(userID string, roles []string, generation int64, now time.Time) (string, time.Time, error) {
	return t.t.IssueGeneration(userID, roles, generation, now)
}

func (t tokenAdapter) Verify(token string, now time.Time) (api.TokenClaims, error) {
	c, err := t.t.Verify(token, now)
	return api.TokenClaims{UserID: c.UserID, Roles: c.Roles, ID: c.ID, Generation: c.Generation, ExpiresAt: c.ExpiresAt}, err
}

// projectorWorkers is how many streams' commits each projection applies at
// once. A commit that creates a document waits on a lookup and a write of
// the store, and an import's commits come from a stream per person, so
// more at once keep the store busy, and the documents they create share
// bigger inserts: a cohort's students file imported in 7.4 s with 16
// against 10.0 s with 4. With 64, an import's rows at once and the commits
// in flight doubled too (rowsAtOnce, localInFlight), the students and
// preferences files went from 0.14–0.26 to 0.20–0.39 of raw insertOne
// (interleaved runs on a busy machine; a goroutine dump had shown rows
// waiting on the outbox while most projector workers were idle and a few
// waited on inserts of a handful of documents each); at 128, with four
// times the rows and commits in flight, see localInFlight. The in-process bus
// holds a commit's publisher until every projection took it, so this also
// bounds how far the writers run ahead.
const projectorWorkers = 128
