package imports

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/decidertest"
	"github.com/capstone-pms/capstone/commands/user"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/internal/memlimit"
)

// bulkOutbox records, for each commit reserved, whether its command ran
// as a batch's (commands.IsBulk).
type bulkOutbox struct {
	mu   sync.Mutex
	bulk map[bool]int
}

func (o *bulkOutbox) Reserve(ctx context.Context, _ string) (commands.Reservation, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bulk[commands.IsBulk(ctx)]++
	return nopReservation{}, nil
}

type nopReservation struct{}

func (nopReservation) Stored(events.Commit) {}
func (nopReservation) Abandoned()           {}
func (nopReservation) Uncertain()           {}

// TestAFilesCommandsAreABatchs: every commit a file's rows make is
// reserved as a batch's (commands.Bulk), where the outbox keeps room in
// flight for single requests; a single request's is not.
func TestAFilesCommandsAreABatchs(t *testing.T) {
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	x := commands.NewExecutor(decidertest.NewEvents(), nil, nil, events.NewRegistry(events.All()...), nil)
	ob := &bulkOutbox{bulk: map[bool]int{}}
	x.Outbox = ob
	users := &user.Service{X: x}
	im := &Importer{Users: users}
	meta := commands.Meta{Actor: events.Actor{UserID: "coordinator"}}
	rows := 1 + rng.IntN(600)
	b := Batch{Kind: Students}
	for i := range rows {
		b.People = append(b.People, Person{Line: i + 2, Email: fmt.Sprintf("s%d@uni.example", i), Name: fmt.Sprint("Student ", i)})
	}
	rep, err := im.Run(context.Background(), meta, b, nil)
	if err != nil || rep.Created != rows {
		t.Fatalf("%d rows: %+v, %v", rows, rep, err)
	}
	if ob.bulk[false] != 0 || ob.bulk[true] < 2*rows {
		t.Fatalf("%d rows: %d commits reserved as a batch's and %d not, want at least %d and none", rows, ob.bulk[true], ob.bulk[false], 2*rows)
	}
	if _, err := users.Create(context.Background(), meta, user.Create{Email: "one@uni.example", Name: "One", Roles: []string{events.RoleStudent}}, ""); err != nil {
		t.Fatal(err)
	}
	if ob.bulk[false] != 2 {
		t.Errorf("a single creation reserved %d commits not as a batch's, want 2", ob.bulk[false])
	}
}

// TestAFileCollectsAtTheBusyTarget: while a file's rows are applied the
// process collects at its busy target (memlimit.TuneGC), and at its idle
// one once the import has answered.
func TestAFileCollectsAtTheBusyTarget(t *testing.T) {
	gcPercent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	before := gcPercent()
	defer memlimit.TuneGC(before, before)
	idle, busy := 20+rand.IntN(80), 150+rand.IntN(300)
	memlimit.TuneGC(idle, busy)

	x := commands.NewExecutor(decidertest.NewEvents(), nil, nil, events.NewRegistry(events.All()...), nil)
	im := &Importer{Users: &user.Service{X: x}}
	rows := 1 + rand.IntN(300)
	b := Batch{Kind: Students}
	for i := range rows {
		b.People = append(b.People, Person{Line: i + 2, Email: fmt.Sprintf("s%d@uni.example", i), Name: fmt.Sprint("Student ", i)})
	}
	seen := map[int]int{}
	rep, err := im.Run(context.Background(), commands.Meta{Actor: events.Actor{UserID: "coordinator"}}, b, func(int) { seen[gcPercent()]++ })
	if err != nil || rep.Created != rows {
		t.Fatalf("%d rows: %+v, %v", rows, rep, err)
	}
	if seen[busy] != rows {
		t.Errorf("the collector's targets seen as the %d rows were counted: %v, want %d each time", rows, seen, busy)
	}
	if p := gcPercent(); p != idle {
		t.Errorf("after the import the collector's target is %d, want %d", p, idle)
	}
}
