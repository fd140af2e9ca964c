// Package outbox keeps every stored commit on its way to the bus, even when
// the bus is down or the process dies right after an append.
//
// Before a commit is appended, its id is written to the outbox collection;
// the writes of concurrent commands are grouped (group commit), so under load
// the bookkeeping costs a fraction of a write per command. After the append
// the commit is published in the background and, once every commit of a
// group is published (or its append failed), the group's document is
// deleted, together with the other groups settled within DeleteLinger (one
// delete for many groups). What is left behind, by a crash or a failed publish, the Relay
// publishes from the event store: the outbox only ever holds the ids of
// commits in flight, so the relay never scans the events collection.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
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
	coll     *mongo.Collection
	pub      commands.Publisher
	log      *slog.Logger
	instance string

	requests chan reserveRequest
	toSend   chan sendJob
	wg       sync.WaitGroup
	stop     context.CancelFunc

	mu     sync.Mutex
	seq    int64
	closed bool

	// settled are the groups whose commits are all published (or never
	// stored), to be deleted by the deleter; wake tells it there are some.
	settledMu sync.Mutex
	settled   []string
	wake      chan struct{}
	deleted   chan struct{} // closed when the deleter has stopped
}

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
	mu      sync.Mutex
	pending int
}

type sendJob struct {
	c events.Commit
	g *group
}

// New starts an outbox writing to db and publishing with pub from workers
// goroutines. instance names this process (ids are instance:sequence). With
// a nil pub nothing is published here: every commit waits for the relay.
func New(db *mongo.Database, pub commands.Publisher, instance string, workers int, log *slog.Logger) *Outbox {
	ctx, stop := context.WithCancel(context.Background())
	o := &Outbox{coll: db.Collection(Collection), pub: pub, log: log, instance: instance,
		requests: make(chan reserveRequest, 1024), toSend: make(chan sendJob, 4096), stop: stop,
		wake: make(chan struct{}, 1), deleted: make(chan struct{})}
	o.wg.Add(1)
	go o.groupCommit(ctx)
	go o.deleter(ctx)
	for range max(workers, 1) {
		o.wg.Add(1)
		go o.sender(ctx)
	}
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
		o.stop()
		close(done)
	}()
	<-done
	o.wg.Wait()
	<-o.deleted
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
		return &reservation{g: r.g}, nil
	case <-ctx.Done():
		// The group may still be written; its id then waits for the relay,
		// which drops it once it is old and its commit was never stored.
		return nil, ctx.Err()
	}
}

// groupCommit writes one document per batch of waiting reservations.
func (o *Outbox) groupCommit(ctx context.Context) {
	defer o.wg.Done()
	for first := range o.requests {
		batch := []reserveRequest{first}
	more:
		for len(batch) < MaxGroup {
			select {
			case r, ok := <-o.requests:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		o.seq++ // only this goroutine touches seq
		id := fmt.Sprintf("%s:%d:%d", o.instance, time.Now().UnixNano(), o.seq)
		doc := groupDoc{ID: id, CreatedAt: time.Now().UTC(), CommitIDs: make([]string, len(batch))}
		for i, r := range batch {
			doc.CommitIDs[i] = r.commitID
		}
		g := &group{o: o, id: id, pending: len(batch)}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := o.coll.InsertOne(wctx, doc)
		cancel()
		for _, r := range batch {
			r.reply <- reserveReply{g: g, err: err}
		}
	}
}

type reservation struct {
	g    *group
	once sync.Once
}

func (r *reservation) Stored(c events.Commit) {
	if r.g.o.pub == nil {
		return // a process without a bus (a CLI command): the relay publishes it
	}
	r.once.Do(func() {
		select {
		case r.g.o.toSend <- sendJob{c: c, g: r.g}:
		default:
			// Too much in flight: the relay publishes it from the store.
			r.g.o.log.Warn("outbox queue full; leaving a commit to the relay", "commit", c.ID())
		}
	})
}

func (r *reservation) Abandoned() { r.once.Do(r.g.settle) }

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
	o := g.o
	o.settledMu.Lock()
	o.settled = append(o.settled, g.id)
	o.settledMu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default: // already woken
	}
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
	for len(ids) > 0 {
		n := min(len(ids), MaxGroup)
		if _, err := o.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids[:n]}}}}); err != nil {
			o.log.Warn("delete settled outbox groups; the relay will", "groups", n, "err", err)
		}
		ids = ids[n:]
	}
}

// sender publishes stored commits; one that cannot be published stays in
// its group for the relay.
func (o *Outbox) sender(ctx context.Context) {
	defer o.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-o.toSend:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := o.pub.Publish(pctx, job.c)
			cancel()
			if err != nil {
				o.log.Warn("publish a commit; the relay will retry", "commit", job.c.ID(), "err", err)
				continue
			}
			job.g.settle()
		}
	}
}
