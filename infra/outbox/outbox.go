// Package outbox keeps every stored commit on its way to the bus, even when
// the bus is down or the process dies right after an append.
//
// Before a commit is appended, its id is written to the outbox collection;
// the writes of concurrent commands are grouped (group commit), so under load
// the bookkeeping costs a fraction of a write per command. After the append
// the commit is published in the background and, once every commit of a
// group is published (or its append certainly failed), the group's
// document is deleted, together with the other groups settled within
// DeleteLinger (one write for many groups). What is left behind, by a
// crash, a failed publish or an append of uncertain outcome, the Relay
// publishes from the event store: the outbox only ever holds the ids of
// commits in flight, so the relay never scans the events collection.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/batch"
)

// Collection holds the groups of commit ids in flight.
const Collection = "outbox"

// MaxGroup bounds the ids written in one outbox document.
const MaxGroup = 256

// DeleteLinger is how long a settled group waits for others to be deleted
// with it. It is far below the relay's MinAge, so the relay does not
// publish again what was published; it only delays the bookkeeping, never a
// command.
const DeleteLinger = 50 * time.Millisecond

// Outbox is the write side's end of the outbox.
type Outbox struct {
	coll *mongo.Collection
	pub  commands.Publisher
	log  *slog.Logger
	// commitLog, if set, receives every group's ids (WithLog).
	commitLog *CommitLog
	// logOnly: groups are written to the commit log alone (LogOnly).
	logOnly  bool
	instance string

	requests chan reserveRequest
	toSend   chan sendJob
	wg       sync.WaitGroup
	ctx      context.Context
	stop     context.CancelFunc

	// The senders start as commits are queued and stop once idle for
	// senderIdle, at most maxSenders at once (see wakeSender).
	sendersMu      sync.Mutex
	senders, idle  int
	maxSenders     int
	sendersStopped bool

	mu     sync.Mutex
	seq    int64
	closed bool

	// settled are the groups whose commits are all published (or never
	// stored), to be deleted by the deleter; wake tells it there are some.
	settledMu sync.Mutex
	settled   []string
	wake      chan struct{}
	deleted   chan struct{} // closed when the deleter has stopped

	// live are the groups written and not yet settled, for Holds (none
	// with LogOnly: no relay finds their documents to ask about them);
	// logged, the same by their position in the commit log (WithLog), for
	// Publishing.
	liveMu sync.Mutex
	live   map[string]*group
	logged map[int64]*group

	// slots, if set, bounds the commits being published (see MaxInFlight);
	// bulkSlots, the part of them a batch's commits may hold.
	slots, bulkSlots chan struct{}
	slotsWait        time.Duration
}

// Option configures an Outbox.
type Option func(*Outbox)

// WithLog writes every group's commit ids to the commit log too, before the
// reservations are granted.
func WithLog(l *CommitLog) Option { return func(o *Outbox) { o.commitLog = l } }

// LogOnly writes each group to the commit log alone (with WithLog), not to
// the outbox collection, where the catch-up that follows the log is what
// brings a commit the bus lost to every consumer of the bus: the only
// writer of its store, whose projectors run in the process on the
// in-process bus. There the outbox's documents only duplicate the log:
// every commit a crash or a failed publish leaves behind is in the log,
// and the catch-up applies it within seconds (after a restart at once),
// as the relay would publish it from the outbox. Each reservation then
// costs one write instead of two, and nothing is deleted after it.
func LogOnly() Option { return func(o *Outbox) { o.logOnly = true } }

// MaxInFlight bounds the commits handed over for publishing and not yet
// published at n: a command whose commit finds no room waits up to wait
// for one before it answers (and after that leaves its commit to the
// relay). With the in-process bus, where a publish lasts until the
// projectors have applied the commit, this is the backpressure that keeps
// writers from outrunning the projectors: without it, a flat-out load
// builds a backlog of thousands of commits and read models seconds behind.
//
// A batch's commits (commands.Bulk: an import's rows) hold at most n less
// an eighth: the rest is the single requests', which would otherwise
// queue behind the hundreds of rows waiting for room (a user created
// during a cohort's preferences file waited 200 to 320 ms a commit).
func MaxInFlight(n int, wait time.Duration) Option {
	return func(o *Outbox) {
		if n > 0 {
			o.slots, o.slotsWait = make(chan struct{}, n), wait
			o.bulkSlots = make(chan struct{}, n-n/8)
		}
	}
}

// groupWriteTimeout bounds the writes of one group of reservations (a
// variable for tests).
var groupWriteTimeout = 10 * time.Second

// HoldAtMost is how long Holds answers true for a group: longer than any
// publish of its commits takes (each try has 10 s), and short enough that a
// group that never settles all the same goes to the relay in time.
const HoldAtMost = time.Minute

var _ commands.Outbox = (*Outbox)(nil)

// groupDoc is one outbox document: the commit ids reserved together.
type groupDoc struct {
	ID        string    `bson:"_id"`
	CommitIDs []string  `bson:"commit_ids"`
	CreatedAt time.Time `bson:"created_at"`
}

type reserveRequest struct {
	commitID string
	reply    chan reserveReply
}

type reserveReply struct {
	g   *group
	err error
}

// group tracks the commits of one outbox document until all are settled.
type group struct {
	o       *Outbox
	id      string
	pos     int64 // its entry's position in the commit log (0: none)
	created time.Time
	mu      sync.Mutex
	pending int
	// released: a commit of the group will not be published here (its
	// publish failed, or the queue was full); the group is the relay's.
	released bool
}

func (g *group) release() {
	g.mu.Lock()
	g.released = true
	g.mu.Unlock()
	g.forget() // the relay's or the catch-up's now
}

// held reports whether the group's commits are still on their way here:
// not released, and younger than HoldAtMost.
func (g *group) held() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.released && time.Since(g.created) < HoldAtMost
}

// sendJob is a stored commit on its way to a sender, with its
// reservation (its group, and whether it holds a batch's room too).
type sendJob struct {
	c events.Commit
	r *reservation
}

// sendQueue is how many stored commits can wait for a sender: those in
// flight where MaxInFlight bounds them, else 4,096, past which a commit is
// left to the relay. A queued commit takes some 180 bytes: a queue of
// 4,096 under a bound of 128 held 0.7 MiB it could never use.
func sendQueue(slots chan struct{}) int {
	if slots != nil {
		return cap(slots)
	}
	return 4096
}

// New starts an outbox writing to db and publishing with pub from at most
// workers goroutines at once. instance names this process (ids are
// instance:sequence). With a nil pub nothing is published here: every
// commit waits for the relay.
func New(db *mongo.Database, pub commands.Publisher, instance string, workers int, log *slog.Logger, opts ...Option) *Outbox {
	ctx, stop := context.WithCancel(context.Background())
	o := &Outbox{coll: db.Collection(Collection), pub: pub, log: log, instance: instance,
		requests: make(chan reserveRequest, 1024), ctx: ctx, stop: stop, maxSenders: max(workers, 1),
		wake: make(chan struct{}, 1), deleted: make(chan struct{}), live: map[string]*group{}, logged: map[int64]*group{}}
	for _, opt := range opts {
		opt(o)
	}
	o.toSend = make(chan sendJob, sendQueue(o.slots))
	if o.logOnly && o.commitLog == nil {
		panic("outbox: LogOnly without WithLog would keep no group at all")
	}
	o.wg.Add(1)
	go o.groupCommit(ctx)
	go o.deleter(ctx)
	return o
}

// Close stops the outbox after publishing what it holds (up to ctx's end);
// what is left is the relay's.
func (o *Outbox) Close(ctx context.Context) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	close(o.requests)
	o.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for len(o.toSend) > 0 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		o.sendersMu.Lock()
		o.sendersStopped = true // no sender starts after the Wait below begins
		o.sendersMu.Unlock()
		o.stop()
		close(done)
	}()
	<-done
	o.wg.Wait()
	<-o.deleted
	o.liveMu.Lock()
	clear(o.live) // what is not settled now is the relay's
	o.liveMu.Unlock()
	// What the senders settled last: delete it now rather than leave it
	// for the relay to publish again.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	o.deleteSettled(dctx)
}

// Reserve records durably that commitID may be appended. Concurrent callers
// share one write.
func (o *Outbox) Reserve(ctx context.Context, commitID string) (commands.Reservation, error) {
	reply := make(chan reserveReply, 1)
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, fmt.Errorf("the outbox is closed")
	}
	select {
	case o.requests <- reserveRequest{commitID: commitID, reply: reply}:
		o.mu.Unlock()
	case <-ctx.Done():
		o.mu.Unlock()
		return nil, ctx.Err()
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return nil, r.err
		}
		return &reservation{g: r.g, bulk: commands.IsBulk(ctx)}, nil
	case <-ctx.Done():
		// The group may still be written, and its commit is not appended
		// now (the caller has an error): its share of the group is settled
		// as abandoned when the answer comes. Left pending, the group would
		// never settle, and its document would wait for the relay to drop
		// it.
		go func() {
			if r := <-reply; r.err == nil {
				r.g.settle()
			}
		}()
		return nil, ctx.Err()
	}
}

// groupCommit writes one document per batch of waiting reservations.
func (o *Outbox) groupCommit(ctx context.Context) {
	defer o.wg.Done()
	for first := range o.requests {
		reqs := batch.Take(first, o.requests, MaxGroup)
		o.seq++ // only this goroutine touches seq
		id := fmt.Sprintf("%s:%d:%d", o.instance, time.Now().UnixNano(), o.seq)
		doc := groupDoc{ID: id, CreatedAt: time.Now().UTC(), CommitIDs: make([]string, len(reqs))}
		for i, r := range reqs {
			doc.CommitIDs[i] = r.commitID
		}
		g := &group{o: o, id: id, created: time.Now(), pending: len(reqs)}
		if !o.logOnly { // a group in the log alone is no relay's to ask Holds about
			o.liveMu.Lock()
			o.live[id] = g
			o.liveMu.Unlock()
		}
		wctx, cancel := context.WithTimeout(ctx, groupWriteTimeout)
		var err error
		if !o.logOnly {
			_, err = o.coll.InsertOne(wctx, doc)
		}
		if err == nil && o.commitLog != nil {
			// Logged before any of them is appended: every stored commit is
			// in the log, where the projectors catch up from.
			var pos int64
			if pos, err = o.commitLog.Append(wctx, doc.CommitIDs, doc.CreatedAt); err == nil {
				g.pos = pos
				o.liveMu.Lock()
				o.logged[pos] = g
				o.liveMu.Unlock()
			}
		}
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The store did not answer within the bound: as for a lost
			// connection, nothing was appended and the command may be
			// tried again.
			err = fmt.Errorf("%w: %w", commands.ErrStoreUnresponsive, err)
		}
		if err != nil {
			g.forget()
		}
		for _, r := range reqs {
			r.reply <- reserveReply{g: g, err: err}
		}
	}
}

type reservation struct {
	g    *group
	bulk bool // a batch's commit (commands.Bulk)
	once sync.Once
}

func (r *reservation) Stored(c events.Commit) {
	if r.g.o.pub == nil {
		return // a process without a bus (a CLI command): the relay publishes it
	}
	r.once.Do(func() {
		o := r.g.o
		if o.slots != nil && !o.takeRoom(r.bulk) {
			o.log.Warn("outbox: no room in flight; leaving a commit to the relay", "commit", c.ID(), "waited", o.slotsWait)
			r.g.release()
			return
		}
		select {
		case o.toSend <- sendJob{c: c, r: r}:
			o.wakeSender()
		default:
			// Too much in flight: the relay publishes it from the store.
			o.log.Warn("outbox queue full; leaving a commit to the relay", "commit", c.ID())
			o.freeRoom(r.bulk)
			r.g.release()
		}
	})
}

func (r *reservation) Abandoned() { r.once.Do(r.g.settle) }

// Uncertain leaves the group to the relay, which publishes the commit if
// the store has it and drops the id after GiveUp if not.
func (r *reservation) Uncertain() { r.once.Do(r.g.release) }

// settle marks one commit of the group as done; the last one hands the
// group's document to the deleter.
func (g *group) settle() {
	g.mu.Lock()
	g.pending--
	last := g.pending == 0
	g.mu.Unlock()
	if !last {
		return
	}
	g.forget()
	o := g.o
	if o.logOnly {
		return // no document to delete
	}
	o.settledMu.Lock()
	o.settled = append(o.settled, g.id)
	o.settledMu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default: // already woken
	}
}

// takeRoom waits up to slotsWait for room to publish one more commit: a
// slot, and for a batch's commit first one of the slots a batch may hold.
func (o *Outbox) takeRoom(bulk bool) bool {
	var timer *time.Timer // one wait for both, made only if either is full
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	take := func(slots chan struct{}) bool {
		select {
		case slots <- struct{}{}:
			return true
		default:
		}
		if timer == nil {
			timer = time.NewTimer(o.slotsWait)
		}
		select {
		case slots <- struct{}{}:
			return true
		case <-timer.C:
			return false
		}
	}
	if bulk && !take(o.bulkSlots) {
		return false
	}
	if !take(o.slots) {
		if bulk {
			<-o.bulkSlots
		}
		return false
	}
	return true
}

// freeRoom gives back what takeRoom took.
func (o *Outbox) freeRoom(bulk bool) {
	if o.slots != nil {
		<-o.slots
		if bulk {
			<-o.bulkSlots
		}
	}
}

// Holds reports whether this outbox is still publishing the commits of the
// group: a relay in the same process leaves such a group alone whatever its
// age, since with the in-process bus a publish lasts until the projectors
// have applied the commit, and publishing it again would only add work to a
// backlog. A released group, or one older than HoldAtMost, is not held.
func (o *Outbox) Holds(groupID string) bool { return tracked(o, o.live, groupID) }

// Publishing reports whether this outbox is still publishing the commits
// of the group it logged at position of the commit log (WithLog): the
// catch-up that follows the log leaves such an entry to the bus whatever
// its age, as the relay leaves a held group (see Holds). With the
// in-process bus a publish lasts until the projectors have applied the
// commit, and the writers of a cohort's import keep hundreds in flight
// and more waiting for room (MaxInFlight) for a second or more: applied
// again by the catch-up, each cost a second delivery, behind the bus's
// in the projectors' queues, and the catch-up's checkpoints, stuck on
// them for the whole import, left a crash thousands of commits to apply
// again. A released group, or one older than HoldAtMost, is not held.
func (o *Outbox) Publishing(position int64) bool { return tracked(o, o.logged, position) }

// tracked reports whether the group under key in groups (live or logged)
// is held, and stops tracking it once it is not.
func tracked[K comparable](o *Outbox, groups map[K]*group, key K) bool {
	o.liveMu.Lock()
	g, ok := groups[key]
	o.liveMu.Unlock()
	if !ok {
		return false
	}
	if g.held() {
		return true
	}
	g.forget()
	return false
}

// forget stops tracking the group (Holds, Publishing): settled, released,
// never written, or held longer than HoldAtMost.
func (g *group) forget() {
	o := g.o
	o.liveMu.Lock()
	delete(o.live, g.id)
	delete(o.logged, g.pos) // none at 0: positions start at 1
	o.liveMu.Unlock()
}

// deleter deletes settled groups, those of DeleteLinger at a time in one
// write, until ctx ends.
func (o *Outbox) deleter(ctx context.Context) {
	defer close(o.deleted)
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(DeleteLinger):
		}
		// Not cancelled by Close: ids taken are deleted or left to the relay.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		o.deleteSettled(dctx)
		cancel()
	}
}

// deleteSettled deletes the groups settled so far; if that fails they stay
// for the relay, which publishes their commits again (consumers skip
// duplicates) and deletes them.
func (o *Outbox) deleteSettled(ctx context.Context) {
	o.settledMu.Lock()
	ids := o.settled
	o.settled = nil
	o.settledMu.Unlock()
	if err := deleteGroups(ctx, o.coll, ids); err != nil {
		o.log.Warn("delete settled outbox groups; the relay will", "groups", len(ids), "err", err)
	}
}

// deleteGroups deletes outbox groups by id: one delete by _id per group,
// sent together (the embedded store answers an _id equality from its index
// but would scan, and decode, every group in flight for an $in).
func deleteGroups(ctx context.Context, coll *mongo.Collection, ids []string) error {
	var errs []error
	for len(ids) > 0 {
		n := min(len(ids), MaxGroup)
		models := make([]mongo.WriteModel, n)
		for i, id := range ids[:n] {
			models[i] = mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: id}})
		}
		if _, err := coll.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false)); err != nil {
			errs = append(errs, err)
		}
		ids = ids[n:]
	}
	return errors.Join(errs...)
}

// senderIdle is how long a sender waits for a commit before it stops (a
// variable for tests).
// Senders held for good cost a goroutine's stack each (up to 128 of them
// on the all-in-one service, where each publish lasts until the projectors
// applied the commit) through hours of reads that publish nothing.
var senderIdle = 250 * time.Millisecond

// wakeSender starts a sender for a commit just queued, unless one is idle
// (it takes the commit), maxSenders are running, or the outbox is closing.
// A sender that stops as the commit is queued sees it queued, and starts
// one (sender), so a queued commit always finds a sender.
func (o *Outbox) wakeSender() {
	o.sendersMu.Lock()
	defer o.sendersMu.Unlock()
	if o.idle > 0 || o.senders >= o.maxSenders || o.sendersStopped {
		return
	}
	o.senders++
	o.wg.Add(1)
	go o.sender(o.ctx)
}

// sender publishes stored commits until none came for senderIdle; one that
// cannot be published stays in its group for the relay.
func (o *Outbox) sender(ctx context.Context) {
	defer o.wg.Done()
	idle := time.NewTimer(senderIdle)
	defer idle.Stop()
	for {
		o.sendersMu.Lock()
		o.idle++
		o.sendersMu.Unlock()
		idle.Reset(senderIdle)
		var job sendJob
		select {
		case <-ctx.Done():
		case <-idle.C:
		case job = <-o.toSend:
		}
		o.sendersMu.Lock()
		o.idle--
		if job.r == nil {
			o.senders--
			o.sendersMu.Unlock()
			if len(o.toSend) > 0 && ctx.Err() == nil {
				o.wakeSender() // queued as this one stopped
			}
			return
		}
		o.sendersMu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := o.pub.Publish(pctx, job.c)
		cancel()
		o.freeRoom(job.r.bulk)
		if err != nil {
			o.log.Warn("publish a commit; the relay will retry", "commit", job.c.ID(), "err", err)
			job.r.g.release()
			continue
		}
		job.r.g.settle()
	}
}
